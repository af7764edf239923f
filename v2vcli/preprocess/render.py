"""Keypoints -> pose label map: colour-coded limbs on black (or drawn over a frame), as vid2vid's condition.

Pure functions: the same keypoints and size always give the same image, whether they come from a video
(`v2v pose`) or from a normalized pose (dance transfer).
"""

from __future__ import annotations

import numpy as np

from v2vcli.preprocess.keypoints import KeypointLayout

_SHIFT = 4  # cv2 draws with sub-pixel precision: coordinates carry 4 fractional bits
# No anti-aliasing: every pixel is black or exactly one limb's colour, so the map stays a label map.
_LINE = 8


def default_thickness(width: int, height: int) -> int:
    """Limb thickness in pixels for an image size: 2 px at 256, 4 px at 512."""
    return max(1, round(min(width, height) / 128))


def line_thickness(kind: str, thickness: int) -> int:
    """How thick lines of a kind of points are drawn: the body at `thickness`, hands at half, a face's
    contours at one pixel (a face mesh's lines are a few pixels apart)."""
    return {"body": thickness, "hand": max(1, thickness // 2), "face": 1}[kind]


def render_pose(
    keypoints: np.ndarray | None,
    size: tuple[int, int],
    background: np.ndarray | None = None,
    min_visibility: float = 0.5,
    thickness: int | None = None,
    layout: KeypointLayout | None = None,
) -> np.ndarray:
    """Draw poses as colour-coded limbs and joints.

    keypoints: (K, C) for one person or (P, K, C) for several, K the layout's point count, C >= 2: x, y
      in pixels, and optionally z, visibility, presence (the `poses.json` columns); None or P = 0 draws
      nothing. A joint is drawn when its visibility and presence are both >= `min_visibility` (0.5, as
      mediapipe's own drawing utilities), a line when both its ends are (keypoints without those columns
      are all drawn).
    size: (width, height) of the image.
    background: optional RGB uint8 (height, width, 3) image to draw on (it is copied, not changed);
      black by default.
    layout: the points' KeypointLayout (default: the default pose backend's): the body's limbs, then each
      group's lines (hands thinner, face contours one pixel), then the joints (a face's points are not
      dotted), every line and joint in its layout colour.
    Returns an RGB uint8 array (height, width, 3).
    """
    import cv2

    if layout is None:
        from v2vcli.preprocess.pose_backend import pose_layout

        layout = pose_layout()
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
    if people.ndim != 3 or people.shape[1] != layout.count or people.shape[2] < 2:
        raise ValueError(f"keypoints must be ({layout.count}, C) or (P, {layout.count}, C) with C >= 2, "
                         f"got {people.shape}")
    thickness = thickness or default_thickness(width, height)
    # Far-off points (a joint outside the frame) are clamped so cv2's fixed-point maths cannot overflow.
    limit = 4 * max(width, height)
    for person in people:
        points = np.round(np.clip(np.nan_to_num(person[:, :2]), -limit, limit) * (1 << _SHIFT)).astype(np.int64)
        visible = np.isfinite(person[:, :2]).all(axis=1)
        for column in range(3, min(person.shape[1], 5)):
            visible &= person[:, column] >= min_visibility
        for (start, end, kind), colour in zip(layout.lines, layout.limb_colours, strict=True):
            if visible[start] and visible[end]:
                cv2.line(image, tuple(points[start].tolist()), tuple(points[end].tolist()), colour.tolist(),
                         line_thickness(kind, thickness), _LINE, _SHIFT)
        for index in np.flatnonzero(visible):
            kind = layout.point_kinds[index]
            if kind != "face":
                radius = max(1, line_thickness(kind, thickness))
                cv2.circle(image, tuple(points[index].tolist()), radius << _SHIFT,
                           layout.joint_colours[index].tolist(), -1, _LINE, _SHIFT)
    return image
