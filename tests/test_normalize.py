"""Dance normalization puts the source's pose at the target's scale and place."""

from __future__ import annotations

import numpy as np
import pytest

from v2vcli.preprocess.normalize import PoseNormalizer, pose_statistics


def standing_person(x: float, ankle_y: float, height: float, legs_visible: bool = True) -> np.ndarray:
    """A stick person: nose `height` px above the ankles, hips halfway, shoulders near the top."""
    keypoints = np.zeros((33, 5), np.float32)
    keypoints[:, 3:] = 1.0
    keypoints[0, :2] = (x, ankle_y - height)
    keypoints[[11, 12], 0], keypoints[[11, 12], 1] = (x - 0.1 * height, x + 0.1 * height), ankle_y - 0.85 * height
    keypoints[[23, 24], 0], keypoints[[23, 24], 1] = (x - 0.07 * height, x + 0.07 * height), ankle_y - 0.5 * height
    keypoints[[27, 28], 0], keypoints[[27, 28], 1] = (x - 0.05 * height, x + 0.05 * height), ankle_y
    if not legs_visible:
        keypoints[[25, 26, 27, 28, 29, 30, 31, 32], 3] = 0.0
    return keypoints


def walk(x0: float, near: tuple[float, float], far: tuple[float, float], frames: int = 40, **kwargs):
    """Poses moving between a far (ankle y, height) and a near one, and drifting sideways."""
    return [standing_person(x0 + 3 * i, far[0] + (near[0] - far[0]) * i / (frames - 1),
                            far[1] + (near[1] - far[1]) * i / (frames - 1), **kwargs) for i in range(frames)]


def test_small_offset_source_lands_at_target_scale_and_place():
    target = walk(300, near=(450, 300), far=(350, 200))
    source = walk(100, near=(200, 100), far=(150, 60))  # smaller, higher, to the left
    normalize = PoseNormalizer(pose_statistics(source), pose_statistics(target))
    assert normalize.ground == "ankles"

    near_source = standing_person(100 + 3 * 39, 200, 100)
    mapped = normalize(near_source)
    mapped_height = mapped[27, 1] - mapped[0, 1]
    target_stats = pose_statistics(target)["ankles"]
    assert mapped[27, 1] == pytest.approx(target_stats["near_y"], abs=2)
    assert mapped_height == pytest.approx(target_stats["near_height"], rel=0.03)

    far_source = standing_person(100, 150, 60)
    mapped_far = normalize(far_source)
    assert mapped_far[27, 1] == pytest.approx(target_stats["far_y"], abs=2)
    assert mapped_far[27, 1] - mapped_far[0, 1] == pytest.approx(target_stats["far_height"], rel=0.03)
    # horizontally: the source's median position maps to the target's
    middle = normalize(standing_person(pose_statistics(source)["ankles"]["center_x"], 175, 80))
    assert mapped[27:29, 0].mean() > middle[27:29, 0].mean()  # sideways motion is kept
    assert middle[27:29, 0].mean() == pytest.approx(target_stats["center_x"], abs=3)


def test_upper_body_footage_uses_hips_and_keeps_other_columns():
    target = walk(128, near=(250, 160), far=(240, 150), legs_visible=False)
    source = walk(60, near=(150, 80), far=(140, 70), legs_visible=False)
    normalize = PoseNormalizer(pose_statistics(source), pose_statistics(target))
    assert normalize.ground == "hips"
    pose = source[10]
    mapped = normalize(pose)
    np.testing.assert_array_equal(mapped[:, 2:], pose[:, 2:])
    depth = 10 / 39  # frame 10 of the walk: same relative depth in both videos
    expected_scale = (150 + 10 * depth) / (70 + 10 * depth)
    assert (mapped[23, 1] - mapped[0, 1]) / (pose[23, 1] - pose[0, 1]) == pytest.approx(expected_scale, rel=0.02)


def test_no_shared_ground_joints_is_an_error():
    with pytest.raises(ValueError, match="share no visible ground joints"):
        PoseNormalizer({"ankles": pose_statistics(walk(0, (200, 100), (150, 60)))["ankles"]}, {})
