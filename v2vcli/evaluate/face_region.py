"""The face region of a frame, from the condition's keypoints: where `v2v eval` measures face PSNR and SSIM.

A person is judged by the face first, and a whole-frame PSNR barely notices a face that is a few
percent of the frame. The face region is a square around the face points of the condition's person
(`KeypointLayout.part_points("face")`: mediapipe's 11 face points of the body, and the face mesh where
poses.json has it) that show the most of them: centred on their bounding box, its side the box's larger
extent (about the width from ear to ear) times FACE_REGION_SCALE, so it reaches from the brows to the
chin; at least MIN_SIDE pixels, and cut to the frame. Frames whose condition shows fewer than 2 face
points have no face region.
"""

from __future__ import annotations

import numpy as np

from v2vcli.evaluate import metrics
from v2vcli.evaluate.pose_error import part_joints, visible_joints

FACE_REGION_SCALE = 1.2
MIN_SIDE = 8  # pixels; SSIM's 11x11 window needs a little room

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, exclusive ends


def face_region(people: np.ndarray | None, face_points: np.ndarray, size: tuple[int, int]) -> Box | None:
    """The face region of one frame: people (P, K, 5) keypoints in the pixels of a frame of `size` (W, H),
    face_points bool (K,); None where no person shows 2 face points."""
    if people is None:
        return None
    shown = [person[visible_joints(person, size) & face_points, :2] for person in people]
    points = max(shown, key=len, default=np.empty((0, 2)))
    if len(points) < 2:
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    side = max(MIN_SIDE, float((high - low).max()) * FACE_REGION_SCALE)
    width, height = size
    x0, y0 = (int(round(value)) for value in centre - side / 2)
    x1, y1 = (int(round(value)) for value in centre + side / 2)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    return (x0, y0, x1, y1) if x1 - x0 >= MIN_SIDE and y1 - y0 >= MIN_SIDE else None


def face_fidelity(generated: np.ndarray, real: np.ndarray, box: Box | None) -> dict[str, float | None]:
    """{"face_psnr", "face_ssim"} of a generated frame against the real one (RGB uint8 (H, W, 3)) inside
    the face region `box`; both None without one."""
    if box is None:
        return {"face_psnr": None, "face_ssim": None}
    x0, y0, x1, y1 = box
    crop, reference = generated[y0:y1, x0:x1], real[y0:y1, x0:x1]
    return {"face_psnr": metrics.psnr(crop, reference), "face_ssim": metrics.ssim(crop, reference)}


class FaceRegions:
    """The face region of each frame of a condition's poses.json (`load_condition_poses`), at any frame size.

    frames: per frame the people's keypoints (P, K, 5) or None, in the pixels of `condition_size` (W, H);
    backend: the pose backend that found them (its layout says which points are the face)."""

    def __init__(self, frames: list[np.ndarray | None], condition_size: tuple[int, int], backend: str):
        self.frames, self.condition_size = frames, condition_size
        points = next((landmarks.shape[1] for landmarks in frames if landmarks is not None), 0)
        self.face_points = part_joints(backend, points)["face"]

    def box(self, index: int, size: tuple[int, int]) -> Box | None:
        """Frame `index`'s face region at frame size `size` (W, H), the keypoints scaled as PoseScorer does."""
        people = self.frames[index]
        if people is None:
            return None
        people = people.copy()
        people[..., 0] *= size[0] / self.condition_size[0]
        people[..., 1] *= size[1] / self.condition_size[1]
        return face_region(people, self.face_points, size)
