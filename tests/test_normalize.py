"""Dance normalization puts the source's pose at the target's scale and place."""

from __future__ import annotations

import numpy as np
import pytest

from v2vcli.preprocess.normalize import PoseNormalizer, pose_statistics
from v2vcli.preprocess.render import render_pose


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


def test_lifting_one_foot_moves_neither_the_planted_foot_nor_the_body_size():
    target = walk(300, near=(450, 300), far=(350, 200))
    source = walk(100, near=(200, 100), far=(150, 60))
    normalize = PoseNormalizer(pose_statistics(source), pose_statistics(target))
    standing = standing_person(140, 180, 80)
    lifted = standing.copy()
    lifted[28, 1] -= 60  # the right ankle kicks up 60 px; the left one stays planted
    before, after = normalize(standing), normalize(lifted)
    assert np.hypot(*(after[27, :2] - before[27, :2])) <= 1.0
    height_before, height_after = before[27, 1] - before[0, 1], after[27, 1] - after[0, 1]
    assert height_after == pytest.approx(height_before, rel=0.01)
    assert after[28, 1] < before[28, 1] - 30  # the kick itself is kept


def test_hands_and_face_points_move_and_scale_with_the_body():
    from v2vcli.preprocess.keypoints import KeypointGroup, KeypointLayout, hand_group
    from v2vcli.preprocess.mediapipe_pose import MEDIAPIPE_LAYOUT as BODY

    # The body's 33 points, a left hand of 21 (wrist first) and a 4-point face outline.
    layout = KeypointLayout(
        landmark_names=BODY.landmark_names[:BODY.body_count] + tuple(f"left_hand_{i}" for i in range(21))
        + tuple(f"face_{i}" for i in range(4)),
        connections=BODY.connections, ground_joints=BODY.ground_joints, head=BODY.head,
        groups=(hand_group("left_hand", 33), KeypointGroup("face", "face", 54, 4, ((0, 1), (1, 2), (2, 3), (3, 0)))),
    )

    def with_extras(body: np.ndarray) -> np.ndarray:
        body = body.copy()
        nose, height = body[0, :2], body[27, 1] - body[0, 1]
        body[15, :2] = body[11, :2] + (0, 0.4 * height)  # the left wrist hangs by the hip
        extras = np.ones((25, 5), np.float32)
        extras[:21, :2] = body[15, :2] + height * 0.04 * np.stack([np.arange(21) // 4, np.arange(21) % 4], axis=1)
        extras[21:, :2] = nose + height * 0.05 * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
        return np.concatenate([body, extras])

    target = [with_extras(pose) for pose in walk(300, near=(450, 300), far=(350, 200))]
    source = [with_extras(pose) for pose in walk(100, near=(200, 100), far=(150, 60))]
    normalize = PoseNormalizer(pose_statistics(source, layout), pose_statistics(target, layout), layout)
    pose = source[25]
    mapped = normalize(pose)
    scale = (mapped[27, 1] - mapped[0, 1]) / (pose[27, 1] - pose[0, 1])
    assert scale > 1.5  # the source is smaller than the target
    # Every extra point keeps its offset from the wrist (hand) or the nose (face), scaled like the body.
    for anchor, points in ((15, range(33, 54)), (0, range(54, 58))):
        np.testing.assert_allclose(mapped[points, :2] - mapped[anchor, :2],
                                   (pose[points, :2] - pose[anchor, :2]) * scale, atol=1e-3)
    image = render_pose(mapped, (640, 480), layout=layout)
    hand_colour = layout.limb_colours[len(BODY.connections)]  # the hand's first line
    assert (image.reshape(-1, 3) == hand_colour).all(axis=1).any()
