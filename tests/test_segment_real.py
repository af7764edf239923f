"""Person masks on real footage against outlines drawn by hand (tests/person_outlines.py): the pose
backend finds whole bodies at a distance where the selfie model finds little; both segment close-ups."""

from __future__ import annotations

import pytest
from person_outlines import excerpt, iou, outline_masks, person_masks, reference_mask

pytestmark = pytest.mark.real


def last_masks(frames, fps: float) -> dict:
    """backend -> the person mask of the last of `frames`, each backend having tracked people through all."""
    masks = {}
    for backend in ("pose", "selfie"):
        *_, masks[backend] = person_masks(iter(frames), backend, fps)
    return masks


@pytest.mark.slow
def test_pose_backend_finds_two_people_in_full_view_where_selfie_does_not(footage):
    # 1768x994 at 30 fps; a quarter of that keeps the test fast. From the first frame: the man on the
    # box, backlit, is found in frame 3 and tracked from there.
    frames = list(excerpt(footage("sports2d"), 0, 75, scale=0.25))
    masks = last_masks(frames, 30.0)
    size = (frames[-1].shape[1], frames[-1].shape[0])
    truth = reference_mask("sports2d", 75, size, scale=0.25)
    assert iou(masks["pose"], truth) > 0.7
    assert iou(masks["selfie"], truth) < 0.3
    for person in outline_masks("sports2d", 75, size, scale=0.25):
        assert masks["pose"][person].mean() > 0.8, "each person is mostly covered"


@pytest.mark.parametrize("clip, first, index, fps", [("talking-head", 190, 200, 23.976), ("single-face", 0, 10, 30.0)])
def test_both_backends_segment_a_close_up(footage, clip, first, index, fps):
    frames = list(excerpt(footage(clip), first, index))  # 640x360
    masks = last_masks(frames, fps)
    truth = reference_mask(clip, index, (frames[-1].shape[1], frames[-1].shape[0]))
    assert iou(masks["selfie"], truth) > 0.9
    assert iou(masks["pose"], truth) > 0.85
