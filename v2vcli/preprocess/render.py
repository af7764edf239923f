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
    contours at a quarter (a face's lines are a few pixels apart): at 128, 256, 512 and 1024 px, limbs
    1, 2, 4, 8 px, hands 1, 1, 2, 4, faces 1, 1, 1, 2."""
    return {"body": thickness, "hand": max(1, thickness // 2), "face": max(1, thickness // 4)}[kind]


def joint_radius(kind: str, thickness: int) -> int:
    """The radius of a joint's dot: the body's as thick as its limbs, a hand's half its lines' (21 dots as
    large as the lines would bury a small hand's skeleton); a face's points are not dotted."""
    line = line_thickness(kind, thickness)
    return line if kind == "body" else max(1, line // 2)


def drawn_points(people: np.ndarray, layout: KeypointLayout, min_visibility: float,
                 detail: str | None = None) -> np.ndarray:
    """bool (P, K): the points drawn of keypoints (P, K, C): finite, with visibility and presence (the
    columns there are) >= `min_visibility`, in a group of `detail` (None: any group; see
    KeypointLayout.detail_groups), and not replaced by a group drawn in their place (a hand found hides
    the body's coarse hand points)."""
    visible = np.isfinite(people[..., :2]).all(axis=-1)
    for column in range(3, min(people.shape[-1], 5)):
        visible &= people[..., column] >= min_visibility
    if detail is not None:
        kept = layout.detail_groups(detail)
        for group in layout.groups:
            if group not in kept:
                visible[:, group.start:group.start + group.count] = False
    drawn = visible.copy()
    for group in layout.groups:
        if group.replaces:
            present = visible[:, group.start:group.start + group.count].any(axis=1)
            drawn[np.ix_(present, list(group.replaces))] = False
    return drawn


def render_pose(
    keypoints: np.ndarray | None,
    size: tuple[int, int],
    background: np.ndarray | None = None,
    min_visibility: float = 0.5,
    thickness: int | None = None,
    layout: KeypointLayout | None = None,
    detail: str | None = None,
) -> np.ndarray:
    """Draw poses as colour-coded limbs and joints.

    keypoints: (K, C) for one person or (P, K, C) for several, K the layout's point count (or its body's
      alone: no hands, no face), C >= 2: x, y in pixels, and optionally z, visibility, presence (the
      `poses.json` columns); None or P = 0 draws nothing. A joint is drawn when its visibility and
      presence are both >= `min_visibility` (0.5, as mediapipe's own drawing utilities), a line when both
      its ends are (keypoints without those columns are all drawn); a group drawn (a hand, a face) hides
      the body points it replaces, and their lines.
    size: (width, height) of the image.
    background: optional RGB uint8 (height, width, 3) image to draw on (it is copied, not changed);
      black by default.
    layout: the points' KeypointLayout (default: the default pose backend's): the body's limbs, then each
      group's lines (hands thinner, face contours thinner still, `line_thickness`), then the joints (a
      face's points are not dotted), every line and joint in its layout colour (one per limb, one per part
      of a hand or face).
    detail: draw only the groups of this detail ("body", "hands", "full"; None: every group), the others
      as if not found: a model trained on maps of bodies alone gets bodies alone from keypoints that hold
      hands and faces.
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
    if people.ndim != 3 or people.shape[1] not in (layout.count, layout.body_count) or people.shape[2] < 2:
        counts = sorted({layout.body_count, layout.count})
        shapes = " or ".join(f"({count}, C)" for count in counts)
        raise ValueError(f"keypoints must be {shapes}, or (P, K, C) with K one of {counts}, and C >= 2; "
                         f"got {people.shape}")
    if people.shape[1] < layout.count:  # the body alone: its groups absent
        people = np.concatenate([people, np.full((len(people), layout.count - people.shape[1], people.shape[2]),
                                                 np.nan)], axis=1)
    thickness = thickness or default_thickness(width, height)
    # Far-off points (a joint outside the frame) are clamped so cv2's fixed-point maths cannot overflow.
    limit = 4 * max(width, height)
    ends = np.array([(start, end) for start, end, _ in layout.lines], dtype=np.int64).reshape(-1, 2)
    for person, visible in zip(people, drawn_points(people, layout, min_visibility, detail), strict=True):
        points = np.round(np.clip(np.nan_to_num(person[:, :2]), -limit, limit) * (1 << _SHIFT)).astype(np.int64)
        for line in np.flatnonzero(visible[ends[:, 0]] & visible[ends[:, 1]]):
            start, end, kind = layout.lines[line]
            cv2.line(image, tuple(points[start].tolist()), tuple(points[end].tolist()),
                     layout.limb_colours[line].tolist(), line_thickness(kind, thickness), _LINE, _SHIFT)
        for index in np.flatnonzero(visible):
            kind = layout.point_kinds[index]
            if kind != "face":
                cv2.circle(image, tuple(points[index].tolist()), joint_radius(kind, thickness) << _SHIFT,
                           layout.joint_colours[index].tolist(), -1, _LINE, _SHIFT)
    return image
