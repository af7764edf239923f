"""Keypoints -> pose label map: colour-coded limbs on black (or drawn over a frame), as vid2vid's condition.

Pure functions: the same keypoints and size always give the same image, whether they come from a video
(`v2v pose`) or from a normalized pose (dance transfer).
"""

from __future__ import annotations

import colorsys

import numpy as np

# mediapipe's 33 BlazePose landmarks, in its order.
LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
NUM_LANDMARKS = len(LANDMARK_NAMES)

# Limbs (pairs of landmark indices), the same set as mediapipe's POSE_CONNECTIONS. Torso and big limbs
# come last so they are drawn over the small face and hand segments where they cross.
CONNECTIONS = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (15, 17), (15, 19), (15, 21), (17, 19), (16, 18), (16, 20), (16, 22), (18, 20),
    (27, 29), (29, 31), (27, 31), (28, 30), (30, 32), (28, 32),
    (11, 12), (11, 23), (12, 24), (23, 24),
    (11, 13), (13, 15), (12, 14), (14, 16),
    (23, 25), (25, 27), (24, 26), (26, 28),
)


def _palette(count: int, offset: float = 0.0) -> np.ndarray:
    """`count` saturated colours spread around the hue wheel, so every limb (left vs right) differs."""
    # Stepping by a golden-ratio fraction keeps neighbouring indices far apart in hue.
    hues = [(offset + index * 0.618033988749895) % 1.0 for index in range(count)]
    return np.array([[round(255 * c) for c in colorsys.hsv_to_rgb(h, 1.0, 1.0)] for h in hues], dtype=np.uint8)


LIMB_COLOURS = _palette(len(CONNECTIONS))  # (35, 3) uint8 RGB, one per CONNECTIONS entry
JOINT_COLOURS = _palette(NUM_LANDMARKS, offset=0.5)  # (33, 3) uint8 RGB

_SHIFT = 4  # cv2 draws with sub-pixel precision: coordinates carry 4 fractional bits
# No anti-aliasing: every pixel is black or exactly one limb's colour, so the map stays a label map.
_LINE = 8


def default_thickness(width: int, height: int) -> int:
    """Limb thickness in pixels for an image size: 2 px at 256, 4 px at 512."""
    return max(1, round(min(width, height) / 128))


def render_pose(
    keypoints: np.ndarray | None,
    size: tuple[int, int],
    background: np.ndarray | None = None,
    min_visibility: float = 0.5,
    thickness: int | None = None,
) -> np.ndarray:
    """Draw poses as colour-coded limbs and joints.

    keypoints: (33, C) for one person or (P, 33, C) for several, C >= 2: x, y in pixels, and optionally
      z, visibility, presence (the `poses.json` columns); None or P = 0 draws nothing. A joint is drawn
      when its visibility and presence are both >= `min_visibility` (0.5, as mediapipe's own drawing
      utilities), a limb when both its joints are (keypoints without those columns are all drawn).
    size: (width, height) of the image.
    background: optional RGB uint8 (height, width, 3) image to draw on (it is copied, not changed);
      black by default.
    Returns an RGB uint8 array (height, width, 3).
    """
    import cv2

    width, height = size
    if background is None:
        image = np.zeros((height, width, 3), dtype=np.uint8)
    else:
        if background.shape != (height, width, 3) or background.dtype != np.uint8:
            expected = (height, width, 3)
            raise ValueError(f"background must be uint8 {expected}, got {background.dtype} {background.shape}")
        image = np.array(background, copy=True, order="C")
    if keypoints is None:
        return image
    people = np.asarray(keypoints, dtype=np.float64)
    if people.ndim == 2:
        people = people[None]
    if people.ndim != 3 or people.shape[1] != NUM_LANDMARKS or people.shape[2] < 2:
        raise ValueError(f"keypoints must be (33, C) or (P, 33, C) with C >= 2, got {people.shape}")
    thickness = thickness or default_thickness(width, height)
    radius = max(1, thickness)
    # Far-off points (a joint outside the frame) are clamped so cv2's fixed-point maths cannot overflow.
    limit = 4 * max(width, height)
    for person in people:
        points = np.round(np.clip(np.nan_to_num(person[:, :2]), -limit, limit) * (1 << _SHIFT)).astype(np.int64)
        visible = np.isfinite(person[:, :2]).all(axis=1)
        for column in range(3, min(person.shape[1], 5)):
            visible &= person[:, column] >= min_visibility
        for (start, end), colour in zip(CONNECTIONS, LIMB_COLOURS, strict=True):
            if visible[start] and visible[end]:
                cv2.line(image, tuple(points[start].tolist()), tuple(points[end].tolist()), colour.tolist(),
                         thickness, _LINE, _SHIFT)
        for index in np.flatnonzero(visible):
            cv2.circle(image, tuple(points[index].tolist()), radius << _SHIFT, JOINT_COLOURS[index].tolist(), -1,
                       _LINE, _SHIFT)
    return image
