"""Keypoint layouts: what the points of a pose backend are, and how rendering and normalization use them.

A pose backend (v2vcli.preprocess.pose_backend) declares one KeypointLayout: the names of its points in
order, the body's skeleton (pairs of point indices), the joints that stand on the ground for
normalization, the head joint, and groups of extra points (hands, a face) drawn as their own skeletons.
Rendering (render.py), normalization (normalize.py) and `poses.json` (pose.py) read everything from it,
so a backend with another set of points needs no change anywhere else.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import cached_property

import numpy as np

GROUP_KINDS = ("hand", "face")

# The 21 points of a hand as mediapipe's hand landmarker numbers them (0 the wrist, then 4 per finger from
# the thumb to the little finger): palm, then each finger from its base.
HAND_POINTS = 21
HAND_CONNECTIONS = (
    (0, 1), (0, 5), (5, 9), (9, 13), (13, 17), (0, 17),
    (1, 2), (2, 3), (3, 4), (5, 6), (6, 7), (7, 8), (9, 10), (10, 11), (11, 12),
    (13, 14), (14, 15), (15, 16), (17, 18), (18, 19), (19, 20),
)


def palette(count: int, offset: float = 0.0) -> np.ndarray:
    """(count, 3) uint8 RGB: saturated colours spread around the hue wheel, so neighbours differ.

    Entry i depends on i and `offset` only (stepping by a golden-ratio fraction keeps neighbouring
    indices far apart in hue), so adding points or lines to a layout never recolours the existing ones.
    """
    hues = [(offset + index * 0.618033988749895) % 1.0 for index in range(count)]
    return np.array([[round(255 * c) for c in colorsys.hsv_to_rgb(h, 1.0, 1.0)] for h in hues],
                    dtype=np.uint8).reshape(count, 3)


@dataclass(frozen=True)
class KeypointGroup:
    """Points a layout adds beyond the body, drawn as their own skeleton.

    name: e.g. "left_hand", "face". kind: "hand" (thin lines with joints, as a hand skeleton) or "face"
    (one-pixel contour lines, no dots: a face mesh has hundreds of points). start, count: the group's
    points are indices start .. start + count - 1 of the layout. connections: pairs of indices within
    the group (0 .. count - 1), e.g. HAND_CONNECTIONS, or a face mesh's contour segments.
    """

    name: str
    kind: str
    start: int
    count: int
    connections: tuple[tuple[int, int], ...] = ()

    @property
    def indices(self) -> range:
        return range(self.start, self.start + self.count)


def hand_group(name: str, start: int) -> KeypointGroup:
    """A 21-point hand (mediapipe's numbering) whose wrist is point `start` of the layout."""
    return KeypointGroup(name, "hand", start, HAND_POINTS, HAND_CONNECTIONS)


@dataclass(frozen=True)
class KeypointLayout:
    """The points one pose backend gives, every keypoint array (..., count, C) being in this order.

    landmark_names: one name per point, the body's first, then each group's.
    connections: the body's limbs, pairs of point indices, drawn in this order (later ones over earlier).
    ground_joints: (name, point indices) pairs, the lowest first (e.g. ankles, hips, shoulders): pose
      normalization measures where the lowest group that both videos show meets the ground. The first
      group is the feet, whose lowest visible point is the ground point (the planted foot); the others
      (hips, shoulders: they move together) count by their mean.
    head: the index of the head point (the nose) that body height is measured to.
    groups: hands, a face (KeypointGroup), rendered with their own lines and moved with the body.

    Colours are derived, not listed: `limb_colours[i]` for line i of `lines` (the body's connections,
    then each group's), `joint_colours[j]` for point j (see `palette`).
    """

    landmark_names: tuple[str, ...]
    connections: tuple[tuple[int, int], ...]
    ground_joints: tuple[tuple[str, tuple[int, ...]], ...]
    head: int
    groups: tuple[KeypointGroup, ...] = ()

    def __post_init__(self) -> None:
        count = len(self.landmark_names)
        used = [index for pair in self.connections for index in pair] + [self.head]
        used += [index for _, joints in self.ground_joints for index in joints]
        if any(not 0 <= index < count for index in used):
            raise ValueError(f"a connection, ground joint or the head names a point outside 0..{count - 1}")
        if not self.ground_joints:
            raise ValueError("a layout needs at least one group of ground joints")
        taken: set[int] = set()
        for group in self.groups:
            if group.kind not in GROUP_KINDS:
                raise ValueError(f"group {group.name!r}: kind must be one of {', '.join(GROUP_KINDS)}")
            if group.start < 0 or group.start + group.count > count or taken & set(group.indices):
                raise ValueError(f"group {group.name!r}: points {group.start}..{group.start + group.count - 1} "
                                 f"overlap another group or lie outside the {count} points")
            if any(not 0 <= index < group.count for pair in group.connections for index in pair):
                raise ValueError(f"group {group.name!r}: a connection names a point outside 0..{group.count - 1}")
            taken |= set(group.indices)

    @property
    def count(self) -> int:
        """The number of points (K in every (..., K, C) keypoint array of this layout)."""
        return len(self.landmark_names)

    @property
    def ground(self) -> dict[str, tuple[int, ...]]:
        """ground_joints as a dict, lowest first."""
        return dict(self.ground_joints)

    @cached_property
    def lines(self) -> tuple[tuple[int, int, str], ...]:
        """Every line drawn, as (start point, end point, kind): the body's ("body"), then each group's."""
        body = tuple((start, end, "body") for start, end in self.connections)
        extra = tuple((group.start + start, group.start + end, group.kind)
                      for group in self.groups for start, end in group.connections)
        return body + extra

    @cached_property
    def point_kinds(self) -> tuple[str, ...]:
        """Per point: "body", or the kind of the group it belongs to."""
        kinds = ["body"] * self.count
        for group in self.groups:
            kinds[group.start:group.start + group.count] = [group.kind] * group.count
        return tuple(kinds)

    @cached_property
    def limb_colours(self) -> np.ndarray:
        """(len(lines), 3) uint8 RGB, one colour per line."""
        return palette(len(self.lines))

    @cached_property
    def joint_colours(self) -> np.ndarray:
        """(count, 3) uint8 RGB, one colour per point."""
        return palette(self.count, offset=0.5)

    def describe(self) -> dict:
        """The layout as poses.json records it (for people and other tools; v2v reads it back by backend name)."""
        return {
            "landmark_names": list(self.landmark_names),
            "connections": [list(pair) for pair in self.connections],
            "groups": [{"name": group.name, "kind": group.kind, "start": group.start, "count": group.count}
                       for group in self.groups],
        }
