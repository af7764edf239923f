"""Hands and faces for the mediapipe pose backend: where to look for them, and whose they are.

mediapipe's HandLandmarker and FaceLandmarker first detect a palm or a face in the whole image scaled to
192x192 or 128x128 pixels: the hands and faces of people who fill a small part of the frame shrink to a
few pixels there and are not found (none in sports2d's 1768x994 frames). So each person's hands and face
are looked for in a square window around where their body keypoints put them, WINDOW_SCALE times the
hand's or face's size as the body gives it (`hand_estimate`, `face_estimate`); a window as large as the
frame's shorter side becomes the whole frame, shared by everyone that large. A window stays where it is
while what it follows stays well inside it (`follow`), so the landmarkers' VIDEO mode, which tracks a
hand or face from its last landmarks instead of detecting it again, keeps working: tracking finds a hand
held in front of a face that the palm detector misses. A hand window asks for two hands, so its detector
also runs when it tracks one, and a window that holds both hands sees both. Face windows detect in
every frame (IMAGE mode: see FinderSettings).

Everything found in every window is pooled, duplicates dropped, and given one-to-one to the people: a
hand to the hand whose body wrist, index and pinky lie nearest its own (in hand sizes; its handedness
breaks near ties), a face to the person whose nose and eyes lie nearest its own. docs/pose.md has the
measurements behind these choices.

Body keypoints are BlazePose's 33 points (v2vcli.preprocess.mediapipe_pose), float (33, 5) per person:
x, y in pixels, z, visibility, presence.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from v2vcli.preprocess.native_logs import native_logs_silenced

# BlazePose point indices: (left, right) pairs, and the face points.
SHOULDERS, ELBOWS, WRISTS, PINKIES, INDEXES, HIPS = (11, 12), (13, 14), (15, 16), (17, 18), (19, 20), (23, 24)
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EYE_OUTER, RIGHT_EYE_OUTER, LEFT_EAR, RIGHT_EAR = 0, 2, 5, 3, 6, 7, 8
SIDES = ("left", "right")
HAND_POINTS = ((WRISTS[0], INDEXES[0], PINKIES[0]), (WRISTS[1], INDEXES[1], PINKIES[1]))
# Hand landmark indices (mediapipe's numbering) matched to the body's wrist, index and pinky.
HAND_WRIST, HAND_INDEX_MCP, HAND_PINKY_MCP = 0, 5, 17
# Face mesh indices matched to the body's nose, right eye and left eye (the nose tip, the iris centres).
MESH_NOSE_TIP, MESH_RIGHT_IRIS, MESH_LEFT_IRIS = 4, 468, 473

TRACKABLE = ("frame", "hand window", "face window")
WINDOW_SCALE = 2.5  # a window's side, in hand or face sizes
# A window stays put while its target's centre is within KEEP x its side of the window's centre and the
# target's wanted side is between SHRINK x and 1 x the window's.
KEEP, SHRINK = 0.25, 0.6
HAND_MATCH = 1.0  # the largest mean distance, in hand sizes, of a hand found to the body's hand points
# ... when the body's wrist is not present (in a close-up, a hand held to the face while the arm leaves the
# frame: the body model puts the hand points off-frame, up to 2.2 hand sizes from the hand found).
UNSURE_HAND_MATCH = 2.5
FACE_MATCH = 0.5  # the same for a face, in face sizes
HANDEDNESS_PENALTY = 0.1  # added to a hand's distance when its handedness says the other side
DUPLICATE = 0.2  # two finds whose points lie this close on average (in their extents) are one
PRESENT = 0.5  # presence a body point needs for its distances to count in a size estimate
# A hand window is skipped when the body's wrist, index and pinky all have a visibility below this (the
# hand behind the body: in sports2d, of the hands whose wrist was that hidden 5 of 111 were found, of the
# others 382 of 569).
HIDDEN = 0.3


@dataclass(frozen=True)
class FinderSettings:
    """How `HandsAndFaces` looks; the defaults are v2v's, the others are there to compare them
    (`python benchmarks/bench_pose.py --methods`, docs/pose.md).

    windows: look in windows around each person (False: in the whole frame only, as the landmarkers
      alone would). window_hands: the hands a hand window asks for (2: its palm detector runs in every
      frame where it tracks fewer, and finds more hands in fast motion).
    tracked: the landmarkers that run in VIDEO mode, tracking what they found from frame to frame instead
      of detecting it again, among TRACKABLE ("frame": the whole frame's, "hand window", "face window");
      the others run in IMAGE mode, detecting in every frame. A face window moves with a walking person
      often enough to lose its track more than detecting loses the face.
    """

    windows: bool = True
    window_hands: int = 2
    tracked: frozenset[str] = frozenset({"frame", "hand window"})

    def __post_init__(self) -> None:
        if not set(self.tracked) <= set(TRACKABLE):
            raise ValueError(f"tracked landmarkers must be among {', '.join(TRACKABLE)}, not {sorted(self.tracked)}")


@dataclass(frozen=True)
class Window:
    """A square window over a frame: centre (x, y) and side in pixels."""

    x: float
    y: float
    side: float


@dataclass(frozen=True)
class Found:
    """A hand or face a landmarker found: points float (N, 3), x, y in frame pixels, z in units of the
    frame's width; label: the hand's handedness ("left", "right"; None for a face)."""

    points: np.ndarray
    label: str | None = None

    @property
    def extent(self) -> float:
        return float(max(np.ptp(self.points[:, :2], axis=0).max(), 1.0))


def _distance(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.hypot(*(np.asarray(first[:2], dtype=np.float64) - second[:2])))


def _size(body: np.ndarray, cues: list[tuple[float, tuple[int, ...], tuple[int, ...]]]) -> float:
    """The largest of `cues` (factor, points A, points B: factor x the distance between the means of A and
    B) whose points are all present; of all of them when none is. Foreshortening only shortens a
    distance, so the largest cue is the least wrong."""
    def value(factor, first, second):
        return factor * _distance(body[list(first), :2].mean(axis=0), body[list(second), :2].mean(axis=0))

    present = [cue for cue in cues if (body[list(cue[1] + cue[2]), 4] >= PRESENT).all()]
    return max(1.0, *(value(*cue) for cue in present or cues))


def hand_estimate(body: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Where the body puts a hand (side 0: left, 1: right) and how long it is: (centre (2,) at its
    knuckles, size in pixels). A hand is about twice its wrist-to-knuckles distance, 0.75 of the forearm,
    half the shoulders' width, 0.36 of the torso."""
    wrist, elbow, knuckles = (WRISTS[side],), (ELBOWS[side],), (INDEXES[side], PINKIES[side])
    size = _size(body, [(2.0, wrist, knuckles), (0.75, wrist, elbow), (0.5, (SHOULDERS[0],), (SHOULDERS[1],)),
                        (0.36, SHOULDERS, HIPS)])
    return body[list(knuckles), :2].mean(axis=0), size


def face_estimate(body: np.ndarray) -> tuple[np.ndarray, float]:
    """Where the body puts the face and how wide it is: (centre (2,): the mean of the nose, eyes, ears and
    mouth; width in pixels: the ears' distance, 1.6 x the outer eye corners', 0.45 x the shoulders', 0.35 x
    the torso's length)."""
    size = _size(body, [(1.0, (LEFT_EAR,), (RIGHT_EAR,)), (1.6, (LEFT_EYE_OUTER,), (RIGHT_EYE_OUTER,)),
                        (0.45, (SHOULDERS[0],), (SHOULDERS[1],)), (0.35, SHOULDERS, HIPS)])
    return body[:11, :2].mean(axis=0), size


def follow(window: Window | None, centre: np.ndarray, side: float) -> Window:
    """The window for a target at `centre` wanting `side` pixels: the previous `window` while the target
    stays well inside it (see KEEP, SHRINK), else one centred on the target."""
    if window is not None and SHRINK * window.side <= side <= window.side \
            and max(abs(centre[0] - window.x), abs(centre[1] - window.y)) <= KEEP * window.side:
        return window
    return Window(float(centre[0]), float(centre[1]), float(side))


def cut(frame: np.ndarray, window: Window) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The part of `frame` (H, W, 3) inside `window`, as a contiguous copy, and its top-left corner (x, y);
    None when less than a quarter of the window (or under 16 pixels a side) lies in the frame."""
    height, width = frame.shape[:2]
    left, top = round(window.x - window.side / 2), round(window.y - window.side / 2)
    right, bottom = left + round(window.side), top + round(window.side)
    left, top, right, bottom = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
    if min(right - left, bottom - top) < 16 or (right - left) * (bottom - top) < window.side**2 / 4:
        return None
    return np.ascontiguousarray(frame[top:bottom, left:right]), (left, top)


def without_duplicates(found: list[Found]) -> list[Found]:
    """`found` less the finds that repeat an earlier one (two windows that both hold a hand)."""
    kept: list[Found] = []
    for candidate in found:
        if all(np.linalg.norm(candidate.points[:, :2] - other.points[:, :2], axis=1).mean()
               > DUPLICATE * max(candidate.extent, other.extent) for other in kept):
            kept.append(candidate)
    return kept


def hand_distance(hand: Found, body: np.ndarray, side: int) -> float:
    """How far a hand found lies from the body's hand `side`, in hand sizes (see HAND_MATCH)."""
    pairs = ((HAND_WRIST, WRISTS[side]), (HAND_INDEX_MCP, INDEXES[side]), (HAND_PINKY_MCP, PINKIES[side]))
    distance = np.mean([_distance(hand.points[own], body[joint]) for own, joint in pairs])
    penalty = HANDEDNESS_PENALTY if hand.label is not None and hand.label != SIDES[side] else 0.0
    return float(distance / hand_estimate(body, side)[1] + penalty)


def face_distance(face: Found, body: np.ndarray) -> float:
    """How far a face found lies from the body's face, in face sizes (see FACE_MATCH)."""
    pairs = ((MESH_NOSE_TIP, NOSE), (MESH_RIGHT_IRIS, RIGHT_EYE), (MESH_LEFT_IRIS, LEFT_EYE))
    return float(np.mean([_distance(face.points[own], body[joint]) for own, joint in pairs]) / face_estimate(body)[1])


def assign(found: list[Found], slots: list[tuple[int, int]], distance, limit) -> dict[tuple[int, int], Found]:
    """One-to-one: each slot (person, side) gets the nearest find within `limit(slot)` that no nearer slot
    took. `distance(find, slot)` measures it."""
    pairs = sorted((distance(candidate, slot), index, slot) for index, candidate in enumerate(found) for slot in slots)
    given: dict[tuple[int, int], Found] = {}
    taken: set[int] = set()
    for value, index, slot in pairs:
        if value <= limit(slot) and slot not in given and index not in taken:
            given[slot] = found[index]
            taken.add(index)
    return given


def assign_hands(hands: list[Found], bodies: np.ndarray) -> dict[tuple[int, int], Found]:
    """(person, side) -> the hand found for it, for bodies (P, 33, 5)."""
    slots = [(person, side) for person in range(len(bodies)) for side in (0, 1)]
    def limit(slot: tuple[int, int]) -> float:
        return HAND_MATCH if bodies[slot[0], WRISTS[slot[1]], 4] >= PRESENT else UNSURE_HAND_MATCH

    return assign(without_duplicates(hands), slots, lambda hand, slot: hand_distance(hand, bodies[slot[0]], slot[1]),
                  limit)


def assign_faces(faces: list[Found], bodies: np.ndarray) -> dict[int, Found]:
    """person -> the face found for them, for bodies (P, 33, 5)."""
    given = assign(without_duplicates(faces), [(person, 0) for person in range(len(bodies))],
                   lambda face, slot: face_distance(face, bodies[slot[0]]), lambda slot: FACE_MATCH)
    return {person: face for (person, _), face in given.items()}


def match_slots(centres: list[np.ndarray], previous: dict[int, np.ndarray], count: int) -> list[int]:
    """A slot (0 .. count - 1) for each person, by body centre: the nearest slot used last frame that no
    nearer person took, else a free one; so a person keeps their windows and landmarkers from frame to
    frame."""
    pairs = sorted((_distance(centre, old), person, slot) for person, centre in enumerate(centres)
                   for slot, old in previous.items())
    slots: dict[int, int] = {}
    for _, person, slot in pairs:
        if person not in slots and slot not in slots.values():
            slots[person] = slot
    free = iter(slot for slot in range(count) if slot not in slots.values())
    return [slots[person] if person in slots else next(free) for person in range(len(centres))]


class HandsAndFaces:
    """Finds the hands and faces of the people of one video, frame by frame, in order.

    `finder(frame, timestamp_ms, bodies) -> (hands, faces)`: frame RGB uint8 (H, W, 3); bodies float
    (P, 33, 5) as the pose landmarker found them; hands {(person, side): Found}, faces {person: Found}.
    `hand_model` and `face_model` (None: not looked for) are the landmarkers' .task files; `people` is
    the most people a frame has. The landmarkers (VIDEO mode, one per window) are made when first needed
    and freed by `close()`.
    """

    def __init__(self, hand_model: Path | None, face_model: Path | None, people: int,
                 settings: FinderSettings | None = None):
        self.hand_model, self.face_model, self.people = hand_model, face_model, people
        self.settings = settings or FinderSettings()
        self._landmarkers: dict[tuple, object] = {}
        self._quiet: set[tuple] = set()  # landmarkers past their first find, whose logs are over
        self._windows: dict[tuple[int, str], Window] = {}
        self._centres: dict[int, np.ndarray] = {}

    def close(self) -> None:
        with native_logs_silenced():
            for landmarker in self._landmarkers.values():
                landmarker.close()
        self._landmarkers.clear()

    def __call__(self, frame: np.ndarray, timestamp_ms: int, bodies: np.ndarray
                 ) -> tuple[dict[tuple[int, int], Found], dict[int, Found]]:
        centres = [body[:, :2].mean(axis=0) for body in bodies]
        slots = match_slots(centres, self._centres, self.people)
        self._centres = dict(zip(slots, centres, strict=True))
        hands: list[Found] = []
        faces: list[Found] = []
        whole = {"hand": 0, "face": 0}  # people whose hands, or face, are looked for in the whole frame
        for slot, body in zip(slots, bodies, strict=True):
            in_frame: set[str] = set()
            for kind, name, centre, size in self._targets(body):
                window = self._window((slot, name), centre, WINDOW_SCALE * size, min(frame.shape[:2]))
                if kind in in_frame:  # the whole frame holds this person's other hand too
                    continue
                if window is None:
                    in_frame.add(kind)
                    whole[kind] += 1
                    continue
                if kind == "hand" and body[HAND_POINTS[SIDES.index(name)], 3].max() < HIDDEN:
                    continue
                count = self.settings.window_hands if kind == "hand" else 1
                found = self._run(("window", kind, slot, name), kind, count, frame, window, timestamp_ms)
                (hands if kind == "hand" else faces).extend(found)
        for kind, people in whole.items():
            if people:
                count = 2 * people if kind == "hand" else people
                found = self._run(("frame", kind, count), kind, count, frame, None, timestamp_ms)
                (hands if kind == "hand" else faces).extend(found)
        return assign_hands(hands, bodies), assign_faces(faces, bodies)

    def _targets(self, body: np.ndarray) -> list[tuple[str, str, np.ndarray, float]]:
        """What to look for around one body: (kind, name, centre (2,), size in pixels) of each hand and the
        face, as asked."""
        targets = []
        if self.hand_model is not None:
            targets += [("hand", SIDES[side], *hand_estimate(body, side)) for side in (0, 1)]
        if self.face_model is not None:
            targets.append(("face", "face", *face_estimate(body)))
        return targets

    def _window(self, key: tuple[int, str], centre: np.ndarray, side: float, shorter: int) -> Window | None:
        """The window `key` (slot, target) moves to (see `follow`), or None where it is the whole frame: when
        it is at least as large as the frame's `shorter` side, and after that while the target stays nearly
        that large (so the whole frame's landmarker keeps tracking it)."""
        previous = self._windows.get(key)
        if previous is None or previous.side < shorter or side < SHRINK * shorter:
            previous = self._windows[key] = follow(previous, centre, side)
        return previous if previous.side < shorter and self.settings.windows else None

    def _run(self, key: tuple, kind: str, count: int, frame: np.ndarray, window: Window | None,
             timestamp_ms: int) -> list[Found]:
        """What the landmarker `key` (made on first use, finding up to `count`) finds in `window` of `frame`
        (the whole frame for None), in frame pixels."""
        import mediapipe as mp

        if window is None:
            part, (left, top) = frame, (0, 0)
        else:
            cut_out = cut(frame, window)
            if cut_out is None:
                return []
            part, (left, top) = cut_out
        landmarker = self._landmarker(key, kind, count)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(part))
        with nullcontext() if key in self._quiet else native_logs_silenced():  # logs on the first runs and finds
            result = landmarker.detect_for_video(image, timestamp_ms) if self._tracks(key, kind) \
                else landmarker.detect(image)
        height, width = part.shape[:2]
        scale = np.array([width, height, width / frame.shape[1]])
        offset = np.array([left, top, 0.0])

        def pixels(points) -> np.ndarray:
            return np.array([(point.x, point.y, point.z) for point in points]) * scale + offset

        if kind == "hand":
            found = [Found(pixels(points), labels[0].category_name.lower())
                     for points, labels in zip(result.hand_landmarks, result.handedness, strict=True)]
        else:
            found = [Found(pixels(points)) for points in result.face_landmarks]
        if found:
            self._quiet.add(key)
        return found

    def _tracks(self, key: tuple, kind: str) -> bool:
        """Whether the landmarker `key` runs in VIDEO mode (FinderSettings.tracked)."""
        return ("frame" if key[0] == "frame" else f"{kind} window") in self.settings.tracked

    def _landmarker(self, key: tuple, kind: str, count: int):
        if key in self._landmarkers:
            return self._landmarkers[key]
        from mediapipe.tasks.python import BaseOptions, vision

        from v2vcli.errors import MissingModel, first_line

        model = self.hand_model if kind == "hand" else self.face_model
        base = BaseOptions(model_asset_path=str(model))
        video = vision.RunningMode.VIDEO if self._tracks(key, kind) else vision.RunningMode.IMAGE
        with native_logs_silenced():
            try:
                if kind == "hand":
                    landmarker = vision.HandLandmarker.create_from_options(
                        vision.HandLandmarkerOptions(base_options=base, running_mode=video, num_hands=count))
                else:
                    landmarker = vision.FaceLandmarker.create_from_options(
                        vision.FaceLandmarkerOptions(base_options=base, running_mode=video, num_faces=count))
            except (RuntimeError, ValueError) as error:
                raise MissingModel(f"{model}: not a usable {kind} landmarker model ({first_line(error)})") from None
        self._landmarkers[key] = landmarker
        return landmarker
