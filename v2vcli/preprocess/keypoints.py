"""Keypoint layouts: what the points of a pose backend are, and how rendering and normalization use them.

A pose backend (v2vcli.preprocess.pose_backend) declares one KeypointLayout: the names of its points in
order, the body's skeleton (pairs of point indices), the joints that stand on the ground for
normalization, the head joint, and groups of extra points (hands, a face) drawn as their own skeletons.
Rendering (render.py), normalization (normalize.py) and `poses.json` (pose.py) read everything from it,
so a backend with another set of points needs no change anywhere else.

A backend finds its groups at a level of detail (DETAIL_LEVELS, `KeypointLayout.detail_groups`): the
layout, and so every keypoint array, keeps all the points at every level; a group not looked for or not
found is marked not visible (`absent_group`).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from v2vcli.preprocess.face_contours import FACE_CONTOURS, FACE_POINTS

GROUP_KINDS = ("hand", "face")
# What a backend looks for besides the body: nothing, the hands, or the hands and the face.
DETAIL_LEVELS = ("body", "hands", "full")
DETAIL_KINDS = {"body": (), "hands": ("hand",), "full": ("hand", "face")}
# The columns poses.json keeps of each point of a group found (the body keeps x, y, z, visibility and
# presence): a face mesh's depth is left out, it is 478 points (v2vcli.preprocess.keypoint_json).
GROUP_COLUMNS = {"hand": ("x", "y", "z"), "face": ("x", "y")}

# The 21 points of a hand as mediapipe's hand landmarker numbers them (0 the wrist, then 4 per finger from
# the thumb to the little finger), as chains per part: the palm, then each finger from its base. Their
# consecutive pairs are mediapipe's HAND_CONNECTIONS (Apache-2.0).
HAND_POINTS = 21
HAND_POINT_NAMES = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_finger_mcp", "index_finger_pip",
    "index_finger_dip", "index_finger_tip", "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip",
    "middle_finger_tip", "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip", "pinky_mcp",
    "pinky_pip", "pinky_dip", "pinky_tip",
)
HAND_PARTS: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...] = (
    ("palm", ((1, 0, 5, 9, 13, 17, 0),)),
    ("thumb", ((1, 2, 3, 4),)),
    ("index_finger", ((5, 6, 7, 8),)),
    ("middle_finger", ((9, 10, 11, 12),)),
    ("ring_finger", ((13, 14, 15, 16),)),
    ("pinky", ((17, 18, 19, 20),)),
)


def chain_connections(parts: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...]
                      ) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[str, int], ...]]:
    """Parts given as chains of point indices -> (every connection, part by part; (part name, number of
    connections) for each part), as KeypointGroup takes them."""
    connections, sizes = [], []
    for name, chains in parts:
        pairs = [pair for chain in chains for pair in zip(chain[:-1], chain[1:], strict=True)]
        connections += pairs
        sizes.append((name, len(pairs)))
    return tuple(connections), tuple(sizes)


HAND_CONNECTIONS, _HAND_PART_SIZES = chain_connections(HAND_PARTS)
_FACE_CONNECTIONS, _FACE_PART_SIZES = chain_connections(FACE_CONTOURS)


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
    (thinner contour lines, no dots: a face mesh has hundreds of points). start, count: the group's
    points are indices start .. start + count - 1 of the layout. connections: pairs of indices within
    the group (0 .. count - 1), e.g. HAND_CONNECTIONS, or a face mesh's contour segments.
    parts: (name, number of connections) of consecutive runs of `connections` drawn in one colour each
      (a finger, an eyebrow); empty: every connection has its own colour, as the body's limbs.
    anchor: the body point the group hangs from (a hand's wrist, the nose): where its points lie, not
      visible, when the group is absent, so they move with the body and never jump from (0, 0).
    replaces: body points the group draws in more detail (the body's coarse hand, its face points): not
      drawn, nor their lines, while the group is visible.
    """

    name: str
    kind: str
    start: int
    count: int
    connections: tuple[tuple[int, int], ...] = ()
    parts: tuple[tuple[str, int], ...] = ()
    anchor: int | None = None
    replaces: tuple[int, ...] = ()

    @property
    def indices(self) -> range:
        return range(self.start, self.start + self.count)


def hand_group(name: str, start: int, anchor: int | None = None, replaces: tuple[int, ...] = ()) -> KeypointGroup:
    """A 21-point hand (mediapipe's numbering) whose wrist is point `start` of the layout, coloured by part
    (palm, each finger)."""
    return KeypointGroup(name, "hand", start, HAND_POINTS, HAND_CONNECTIONS, _HAND_PART_SIZES, anchor, replaces)


def face_group(name: str, start: int, anchor: int | None = None, replaces: tuple[int, ...] = ()) -> KeypointGroup:
    """A 478-point face mesh (mediapipe's numbering, irises included) from point `start` of the layout, drawn
    as its contours (face oval, eyebrows, eyes, irises, nose, lips; v2vcli.preprocess.face_contours), one
    colour per part."""
    return KeypointGroup(name, "face", start, FACE_POINTS, _FACE_CONNECTIONS, _FACE_PART_SIZES, anchor, replaces)


def absent_group(keypoints: np.ndarray, group: KeypointGroup) -> None:
    """Mark `group` not found in one person's keypoints (K, C >= 5), in place: every point at the group's
    anchor (x, y; (0, 0) without one), z, visibility and presence 0."""
    points = keypoints[group.start:group.start + group.count]
    points[:] = 0.0
    if group.anchor is not None:
        points[:, :2] = keypoints[group.anchor, :2]


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
    groups: hands, a face (KeypointGroup), rendered with their own lines and moved with the body; the body's
      points come first, the groups after them.

    Colours are derived, not listed: `limb_colours[i]` for line i of `lines` (the body's connections,
    each its own colour, then each group's, one colour per part), `joint_colours[j]` for point j (see
    `palette`). A group's colours follow the body's, so adding groups never recolours the body.
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
        body = self.body_count
        if any(group.start < body for group in self.groups):
            raise ValueError("a layout's groups come after its body points")
        taken: set[int] = set()
        for group in self.groups:
            if group.kind not in GROUP_KINDS:
                raise ValueError(f"group {group.name!r}: kind must be one of {', '.join(GROUP_KINDS)}")
            if group.start < 0 or group.start + group.count > count or taken & set(group.indices):
                raise ValueError(f"group {group.name!r}: points {group.start}..{group.start + group.count - 1} "
                                 f"overlap another group or lie outside the {count} points")
            if any(not 0 <= index < group.count for pair in group.connections for index in pair):
                raise ValueError(f"group {group.name!r}: a connection names a point outside 0..{group.count - 1}")
            if group.parts and sum(size for _, size in group.parts) != len(group.connections):
                raise ValueError(f"group {group.name!r}: its parts do not add up to its connections")
            body_points = [index for index in (group.anchor, *group.replaces) if index is not None]
            if any(not 0 <= index < body for index in body_points):
                raise ValueError(f"group {group.name!r}: its anchor and replaced points must be body points")
            taken |= set(group.indices)

    @property
    def count(self) -> int:
        """The number of points (K in every (..., K, C) keypoint array of this layout)."""
        return len(self.landmark_names)

    @property
    def body_count(self) -> int:
        """The number of body points: those before the first group (all of them without groups)."""
        return min((group.start for group in self.groups), default=self.count)

    def detail_groups(self, detail: str) -> tuple[KeypointGroup, ...]:
        """The groups a backend looks for at a level of detail (one of DETAIL_LEVELS)."""
        if detail not in DETAIL_KINDS:
            raise ValueError(f"unknown detail {detail!r}; choose one of: {', '.join(DETAIL_LEVELS)}")
        return tuple(group for group in self.groups if group.kind in DETAIL_KINDS[detail])

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
    def line_parts(self) -> np.ndarray:
        """int (len(lines),): the colour index of each line: body line i is i; then each group's parts (or
        lines, for a group without parts) count on."""
        parts = list(range(len(self.connections)))
        colour = len(parts)
        for group in self.groups:
            for size in [size for _, size in group.parts] or [1] * len(group.connections):
                parts += [colour] * size
                colour += 1
        return np.array(parts, dtype=np.int64)

    @cached_property
    def limb_colours(self) -> np.ndarray:
        """(len(lines), 3) uint8 RGB: the colour of each line (one per body limb, one per group part)."""
        parts = self.line_parts
        return palette(int(parts.max()) + 1 if len(parts) else 0)[parts]

    @cached_property
    def joint_colours(self) -> np.ndarray:
        """(count, 3) uint8 RGB, one colour per point."""
        return palette(self.count, offset=0.5)

    def part_points(self, kind: str) -> tuple[int, ...]:
        """The points that show a part of the person (a group kind, "face" or "hand"): the body points
        its groups replace (the body's coarse face or hand) and their anchors, then the groups' own points.
        Empty for a layout without such a group."""
        groups = [group for group in self.groups if group.kind == kind]
        body = sorted({index for group in groups for index in (*group.replaces, group.anchor) if index is not None})
        return tuple(body) + tuple(index for group in groups for index in group.indices)

    def part_colours(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(colours drawn for part `kind`, every other colour drawn), each (N, 3) uint8 RGB, as render_pose
        draws them: a part's lines (its groups' lines and the body lines between its body points) and its
        dotted points. Telling a part apart in a rendering (the face box of v2vcli.models.face) needs
        both: a pixel belongs to the part when its colour is nearer to the first than to the second."""
        points = set(self.part_points(kind))
        in_part = np.array([line_kind == kind or (line_kind == "body" and start in points and end in points)
                            for start, end, line_kind in self.lines], dtype=bool)
        dotted = np.array([point_kind != "face" for point_kind in self.point_kinds], dtype=bool)
        joint_in_part = np.isin(np.arange(self.count), list(points))
        part = np.concatenate([self.limb_colours[in_part], self.joint_colours[dotted & joint_in_part]])
        other = np.concatenate([self.limb_colours[~in_part], self.joint_colours[dotted & ~joint_in_part]])
        return part, other

    def describe(self) -> dict:
        """The layout as poses.json records it (for people and other tools; v2v reads it back by backend name)."""
        return {
            "landmark_names": list(self.landmark_names),
            "connections": [list(pair) for pair in self.connections],
            "groups": [{"name": group.name, "kind": group.kind, "start": group.start, "count": group.count,
                        "anchor": group.anchor, "columns": list(GROUP_COLUMNS[group.kind]),
                        "parts": [name for name, _ in group.parts]}
                       for group in self.groups],
        }
