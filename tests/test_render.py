"""Rendering hands and faces: mediapipe's hand skeleton and face-mesh contours drawn as lines, one colour per
part, where the keypoints put them and nowhere else; thicknesses from 128 to 1024 px; pure functions."""

from __future__ import annotations

import numpy as np
import pytest

from v2vcli.preprocess.face_contours import FACE_CONTOURS
from v2vcli.preprocess.keypoints import HAND_CONNECTIONS, HAND_PARTS, absent_group
from v2vcli.preprocess.mediapipe_pose import FACE, LEFT_HAND, MEDIAPIPE_LAYOUT, RIGHT_HAND
from v2vcli.preprocess.render import line_thickness, render_pose

LAYOUT = MEDIAPIPE_LAYOUT
GROUPS = {group.name: group for group in LAYOUT.groups}
LEFT_WRIST, LEFT_ELBOW, LEFT_INDEX = 15, 13, 19


def person_without_details() -> np.ndarray:
    """(553, 5): a left forearm (elbow (60, 200) to wrist (100, 150), its coarse hand beyond) and nothing
    else visible; hands and face absent."""
    person = np.zeros((LAYOUT.count, 5))
    person[LEFT_ELBOW] = (60, 200, 0, 1, 1)
    person[LEFT_WRIST] = (100, 150, 0, 1, 1)
    person[[17, 19, 21]] = [(96, 128, 0, 1, 1), (112, 126, 0, 1, 1), (116, 140, 0, 1, 1)]
    for group in LAYOUT.groups:
        absent_group(person, group)
    return person


def hand_points(wrist: tuple[float, float]) -> np.ndarray:
    """(21, 2) an open hand pointing up from `wrist`: five straight fingers 16 px apart, joints 12 px apart."""
    points = np.zeros((21, 2))
    points[0] = wrist
    for finger in range(5):
        for joint in range(4):
            points[1 + 4 * finger + joint] = (wrist[0] - 32 + 16 * finger, wrist[1] - 20 - 12 * joint)
    return points


def face_points(centre: tuple[float, float]) -> np.ndarray:
    """(478, 2): each contour part of the face on its own small circle around its own spot, far from the
    others; the face oval a circle of radius 60 around `centre`."""
    points = np.tile(np.asarray(centre, dtype=float), (478, 1))
    for number, (name, chains) in enumerate(FACE_CONTOURS):
        indices = list(dict.fromkeys(index for chain in chains for index in chain))
        radius = 60.0 if name == "face_oval" else 6.0
        spot = np.asarray(centre) + (0 if name == "face_oval" else (-36 + 18 * (number % 5), -25 + 30 * (number // 5)))
        angles = np.linspace(0, 2 * np.pi, len(indices), endpoint=False)
        points[indices] = spot + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return points


def with_group(person: np.ndarray, start: int, points: np.ndarray) -> np.ndarray:
    person = person.copy()
    person[start:start + len(points), :2] = points
    person[start:start + len(points), 3:] = 1.0
    return person


def colour_at(image: np.ndarray, point) -> tuple[int, ...]:
    return tuple(int(value) for value in image[round(point[1]), round(point[0])])


def colours_near(image: np.ndarray, point) -> set[tuple[int, ...]]:
    """The colours of the 3x3 pixels around `point` (a one-pixel line between two pixel centres may light
    either)."""
    x, y = round(point[0]), round(point[1])
    return {tuple(int(value) for value in pixel) for pixel in image[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3)}


def line_colours(group_name: str) -> dict[tuple[int, int], tuple[int, ...]]:
    """The layout colour of each line of a group, by its (start, end) within the group."""
    group = GROUPS[group_name]
    return {(start - group.start, end - group.start): tuple(int(value) for value in LAYOUT.limb_colours[line])
            for line, (start, end, _) in enumerate(LAYOUT.lines) if group.start <= start < group.start + group.count}


def test_hand_and_face_lists_are_mediapipes():
    from mediapipe.tasks.python import vision

    def pairs(connections) -> set[frozenset]:
        return {frozenset((connection.start, connection.end)) for connection in connections}

    faces = vision.FaceLandmarksConnections
    ours = {frozenset(pair) for pair in GROUPS["face"].connections}
    assert ours == pairs(faces.FACE_LANDMARKS_CONTOURS) | pairs(faces.FACE_LANDMARKS_NOSE) \
        | pairs(faces.FACE_LANDMARKS_LEFT_IRIS) | pairs(faces.FACE_LANDMARKS_RIGHT_IRIS)
    assert len(GROUPS["face"].connections) == len(ours)  # no line drawn twice
    assert {frozenset(pair) for pair in HAND_CONNECTIONS} == pairs(vision.HandLandmarksConnections.HAND_CONNECTIONS)


def test_a_hand_is_drawn_finger_by_finger_and_replaces_the_coarse_hand():
    bare = person_without_details()
    hand = with_group(bare, LEFT_HAND, hand_points((100, 150)))
    coarse, detailed = render_pose(bare, (256, 256), layout=LAYOUT), render_pose(hand, (256, 256), layout=LAYOUT)
    colours, points = line_colours("left_hand"), hand_points((100, 150))
    for (start, end), colour in colours.items():
        middle = (points[start] + points[end]) / 2
        assert colour in colours_near(detailed, middle), (start, end)
    # One colour per part (palm, each finger), and every part its own.
    by_part = [{colours[pair] for chain in chains for pair in zip(chain[:-1], chain[1:], strict=True)}
               for _, chains in HAND_PARTS]
    assert all(len(part) == 1 for part in by_part) and len(set.union(*by_part)) == len(HAND_PARTS)
    assert not set.union(*by_part) & set(line_colours("right_hand").values())  # the other hand differs
    # Without the hand, the body's coarse hand (wrist to index) is drawn; with it, not.
    index_line = LAYOUT.connections.index((15, 19))
    coarse_colour = tuple(int(value) for value in LAYOUT.limb_colours[index_line])
    middle = (bare[LEFT_WRIST, :2] + bare[LEFT_INDEX, :2]) / 2
    assert colour_at(coarse, middle) == coarse_colour
    assert (detailed.reshape(-1, 3) == coarse_colour).all(axis=1).sum() == 0
    # Black away from the arm and the hand.
    assert detailed[:, 160:].max() == 0 and detailed[:60].max() == 0 and detailed[210:].max() == 0


def test_a_face_is_drawn_as_its_contours_each_part_in_its_colour():
    centre = (128, 128)
    person = with_group(person_without_details(), FACE, face_points(centre))
    image = render_pose(person, (256, 256), layout=LAYOUT)
    colours, points = line_colours("face"), face_points(centre)
    for name, chains in FACE_CONTOURS:
        part = {colours[pair] for chain in chains for pair in zip(chain[:-1], chain[1:], strict=True)}
        assert len(part) == 1, name
        chain = chains[0]
        start, end = points[chain[0]], points[chain[1]]
        if np.hypot(*(end - start)) > 3:  # a line long enough to have a middle of its own
            assert part.pop() in colours_near(image, (start + end) / 2), name
    oval = colours[(10, 338)]
    assert sum(colours[pair] == oval for pair in colours) == 36  # the oval's lines alone
    # The face oval is one pixel wide at 256 px: inside and outside the circle the pixels are black.
    angle = np.deg2rad(200)
    on_circle = np.array(centre) + 60 * np.array([np.cos(angle), np.sin(angle)])
    assert oval in colours_near(image, on_circle)
    assert colour_at(image, np.array(centre) + 63 * np.array([np.cos(angle), np.sin(angle)])) == (0, 0, 0)
    assert colour_at(image, np.array(centre) + 57 * np.array([np.cos(angle), np.sin(angle)])) == (0, 0, 0)
    assert image[:, 200:].max() == 0 and image[:60].max() == 0  # nothing beyond the face and the arm
    # A face drawn hides the body's 11 face points (eyes, ears, mouth) and their lines.
    body_face = person.copy()
    body_face[:11] = [(128 + 10 * (index % 4), 120 + 5 * (index // 4), 0, 1, 1) for index in range(11)]
    eyes = tuple(int(value) for value in LAYOUT.limb_colours[LAYOUT.connections.index((1, 2))])
    assert not (render_pose(body_face, (256, 256), layout=LAYOUT).reshape(-1, 3) == eyes).all(axis=1).any()
    absent_group(body_face, GROUPS["face"])
    assert (render_pose(body_face, (256, 256), layout=LAYOUT).reshape(-1, 3) == eyes).all(axis=1).any()


@pytest.mark.parametrize("size", [128, 256, 512, 1024])
def test_thickness_at_each_size_faces_thinnest(size):
    scale = size / 256
    person = with_group(person_without_details(), RIGHT_HAND, hand_points((200, 150)))
    person = with_group(person, FACE, face_points((128, 128)))
    person[:, :2] *= scale
    image = render_pose(person, (size, size), layout=LAYOUT)
    widths = {}
    for kind, (start, end) in (("body", (LEFT_ELBOW, LEFT_WRIST)), ("hand", (RIGHT_HAND + 9, RIGHT_HAND + 10)),
                               ("face", (FACE + 10, FACE + 338))):
        line = LAYOUT.lines.index((start, end, kind))
        colour = LAYOUT.limb_colours[line]
        a, b = person[start, :2], person[end, :2]
        middle, normal = (a + b) / 2, np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
        across = [colour_at(image, middle + offset * normal) for offset in np.arange(-12 * scale, 12 * scale, 0.25)]
        widths[kind] = sum(pixel == tuple(colour) for pixel in across) * 0.25
        assert widths[kind] >= 1
    expected = {kind: line_thickness(kind, max(1, round(size / 128))) for kind in widths}
    assert widths["face"] <= widths["hand"] <= widths["body"]
    assert widths["face"] < widths["body"]
    for kind, width in widths.items():  # cv2 draws a line of thickness t about t + 1 pixels wide
        assert expected[kind] - 0.5 <= width <= expected[kind] + 2, (kind, width, expected[kind])


def test_rendering_is_pure_and_a_body_alone_renders_as_before():
    person = with_group(person_without_details(), LEFT_HAND, hand_points((100, 150)))
    person = with_group(person, FACE, face_points((128, 128)))
    frozen = person.copy()
    first = render_pose(person, (256, 256), layout=LAYOUT)
    assert (render_pose(person, (256, 256), layout=LAYOUT) == first).all() and (person == frozen).all()
    bare = person_without_details()
    # The body's 33 points alone render exactly as the 553 with hands and face absent.
    assert (render_pose(bare[:33], (256, 256), layout=LAYOUT) == render_pose(bare, (256, 256), layout=LAYOUT)).all()
    # At a lower detail the groups beyond it are drawn as if not found: the body's coarse hand and face.
    assert (render_pose(person, (256, 256), layout=LAYOUT, detail="body")
            == render_pose(bare, (256, 256), layout=LAYOUT)).all()
    hands_only = person.copy()
    absent_group(hands_only, GROUPS["face"])
    assert (render_pose(person, (256, 256), layout=LAYOUT, detail="hands")
            == render_pose(hands_only, (256, 256), layout=LAYOUT)).all()
    # Every pixel is black or exactly one line's or joint's colour: a label map.
    colours = {tuple(c) for c in LAYOUT.limb_colours} | {tuple(c) for c in LAYOUT.joint_colours} | {(0, 0, 0)}
    assert {tuple(pixel) for pixel in first.reshape(-1, 3)} <= colours
