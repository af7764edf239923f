"""Who is who over a clip: stable ids for the people a pose backend finds, and which one to follow.

A pose backend finds the people of each frame in no lasting order. `PersonTracker` gives each one an id
that stays with them: every frame it predicts where each known person is now (their last keypoints moved
by their recent velocity) and pairs the people found with those predictions, closest pair first, by the
median distance between corresponding keypoints in units of the person's size. A person missed for a few
frames keeps their id (`TrackingSettings.max_gap_seconds`); one missed longer has left, and whoever comes
later gets a new id. Two people found on top of each other in one frame (a backend seeing one person
twice) count once.

`PeopleClip` holds every person of a whole clip by id; `choose_person` decides whom to follow from
`PersonSummary`s (docs/pose.md, "People").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.preprocess.keypoints import KeypointLayout
from v2vcli.preprocess.smoothing import KeypointSmoothing, smooth_track

MIN_VISIBLE = 0.5  # visibility and presence a point needs to count as seen (render.py draws from 0.5 too)
PERSON_POSITIONS = ("auto", "largest", "left", "right", "center")
# `left`, `right`, `center` and `largest` choose among the people at least this prominent relative to the
# most prominent one, so a passer-by crossing a corner for a few frames is not "the person on the left".
CANDIDATE_PROMINENCE = 0.25


@dataclass(frozen=True)
class TrackingSettings:
    """How people keep their id from frame to frame.

    max_gap_seconds: a person missing for up to this long keeps their id when found again near where
      their motion predicts (0.5 s: 15 frames at 30 fps).
    match_distance: the largest median keypoint distance, in person sizes (the diagonal of the box of their
      visible body points), between a prediction one frame ahead and a person found.
    gap_allowance: added to match_distance per frame missed, as the prediction grows less sure.
    duplicate_distance: two people found in one frame this close (in the same units) are one person.
    """

    max_gap_seconds: float = 0.5
    match_distance: float = 0.3
    gap_allowance: float = 0.05
    duplicate_distance: float = 0.1

    def max_gap_frames(self, fps: float) -> int:
        return max(1, round(self.max_gap_seconds * fps))


def body_indices(layout: KeypointLayout) -> np.ndarray:
    """The indices of the layout's body points (hands and face are tracked with the body they belong to)."""
    return np.array([index for index, kind in enumerate(layout.point_kinds) if kind == "body"])


def visible_points(people: np.ndarray) -> np.ndarray:
    """bool (..., K): points of keypoints (..., K, 5) with visibility and presence >= MIN_VISIBLE."""
    return (people[..., 3] >= MIN_VISIBLE) & (people[..., 4] >= MIN_VISIBLE)


def person_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """(centre (2,), size) of one person's body keypoints (N, 5): the box of the visible points (of all
    points when fewer than two are visible); size is its diagonal in pixels."""
    seen = visible_points(points)
    xy = points[seen, :2] if seen.sum() >= 2 else points[:, :2]
    low, high = xy.min(axis=0), xy.max(axis=0)
    return (low + high) / 2, float(max(np.hypot(*(high - low)), 1.0))


def keypoint_distance(first: np.ndarray, second: np.ndarray, seen: np.ndarray) -> float:
    """Median distance in pixels between corresponding points (N, 2) of two poses, over the points `seen`
    (bool (N,)) when at least three are, else over all."""
    pairs = seen if seen.sum() >= 3 else np.ones(len(seen), dtype=bool)
    return float(np.median(np.linalg.norm(first[pairs] - second[pairs], axis=-1)))


class _Track:
    """What the tracker remembers of one person: their last steady body keypoints (N, 5) and the frame of
    them (`points`, `points_index`), the keypoints last found whatever they were (`recent`, `last_index`),
    their size and velocity (pixels a frame).

    A backend's one-frame glitch (a squashed skeleton) must not throw the prediction off the person, nor
    must a real change of pose lose them: the person is looked for both where their last steady pose and
    where their last pose predict; only a steady match (close to a prediction) moves the steady pose and
    the velocity."""

    def __init__(self, track_id: int, points: np.ndarray, index: int):
        self.id, self.points, self.points_index = track_id, points, index
        self.recent, self.last_index = points, index
        self.size = person_box(points)[1]
        self.velocity = np.zeros(2)
        self.updates = 0

    def distance(self, points: np.ndarray, index: int) -> float:
        """Median keypoint distance of `points` (N, 5) found at frame `index` from the nearer prediction."""
        return min(keypoint_distance(reference[:, :2] + self.velocity * (index - reference_index), points[:, :2],
                                     visible_points(reference) & visible_points(points))
                   for reference, reference_index in ((self.points, self.points_index),
                                                      (self.recent, self.last_index)))

    def update(self, points: np.ndarray, index: int, steady: bool) -> None:
        """Take the person found at frame `index`; `steady`: they were found close to a prediction."""
        if steady:
            seen = visible_points(self.points) & visible_points(points)
            pairs = seen if seen.sum() >= 3 else np.ones(len(seen), dtype=bool)
            step = np.median(points[pairs, :2] - self.points[pairs, :2], axis=0) / (index - self.points_index)
            # A running mean of the velocity: one frame's jitter should not throw the prediction far.
            self.velocity = step if self.updates == 0 else 0.5 * self.velocity + 0.5 * step
            self.size = 0.7 * self.size + 0.3 * person_box(points)[1]
            self.points, self.points_index = points, index
            self.updates += 1
        self.recent, self.last_index = points, index


class PersonTracker:
    """Track ids for the people of one video's frames, fed in order: `tracker(index, landmarks)`."""

    def __init__(self, layout: KeypointLayout, fps: float, settings: TrackingSettings | None = None):
        self.settings = settings or TrackingSettings()
        self.body = body_indices(layout)
        self.max_gap = self.settings.max_gap_frames(fps)
        self.tracks: list[_Track] = []
        self.next_id = 0

    def __call__(self, index: int, landmarks: np.ndarray | None) -> tuple[np.ndarray, list[int]]:
        """Frame `index`'s people, landmarks float (P, K, 5) or None -> (the indices of the people kept,
        in id order (a duplicate is dropped), their track ids)."""
        self.tracks = [track for track in self.tracks if index - track.last_index <= self.max_gap]
        if landmarks is None or len(landmarks) == 0:
            return np.zeros(0, dtype=int), []
        bodies = np.asarray(landmarks, dtype=np.float64)[:, self.body]
        people = self._without_duplicates(bodies)
        settings = self.settings
        pairs = []
        for track in self.tracks:
            gap = index - track.last_index
            limit = (settings.match_distance + settings.gap_allowance * (gap - 1)) * track.size
            for person in people:
                distance = track.distance(bodies[person], index)
                if distance <= limit:
                    pairs.append((distance, track.id, person))
        by_id = {track.id: track for track in self.tracks}
        assigned: dict[int, int] = {}
        for distance, track_id, person in sorted(pairs):
            if person not in assigned and track_id not in assigned.values():
                assigned[person] = track_id
                track = by_id[track_id]
                track.update(bodies[person], index, distance <= settings.match_distance / 2 * track.size)
        for person in people:
            if person not in assigned:
                assigned[person] = self.next_id
                self.tracks.append(_Track(self.next_id, bodies[person], index))
                self.next_id += 1
        kept = sorted(assigned, key=assigned.get)
        return np.array(kept, dtype=int), [assigned[person] for person in kept]

    def _without_duplicates(self, bodies: np.ndarray) -> list[int]:
        """Indices of the people to keep: of two whose keypoints nearly coincide, the more visible one."""
        order = sorted(range(len(bodies)), key=lambda person: -float(bodies[person, :, 3].mean()))
        kept: list[int] = []
        for person in order:
            size = person_box(bodies[person])[1]
            if all(keypoint_distance(bodies[person, :, :2], bodies[other, :, :2],
                                     visible_points(bodies[person]) & visible_points(bodies[other]))
                   > self.settings.duplicate_distance * size for other in kept):
                kept.append(person)
        return sorted(kept)


@dataclass(frozen=True)
class PersonSummary:
    """One person (track) over a clip, as poses.json's "people" lists them.

    id: the track id. first_frame, last_frame: the frames (0-based) where they were first and last
    found. frames: how many frames they were found in (filled gaps not counted). size: their mean size
    in pixels (the diagonal of the box of their visible body points). centre: their mean box centre
    [x, y] in pixels. prominence: the sum over the frames they were found in of their size divided by the
    frame's diagonal (size x frames present: someone filling half the frame's diagonal for 100 frames
    scores 50). filled_frames: the frames of short gaps where their keypoints were interpolated.
    """

    id: int
    first_frame: int
    last_frame: int
    frames: int
    size: float
    centre: tuple[float, float]
    prominence: float
    filled_frames: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {"id": self.id, "first_frame": self.first_frame, "last_frame": self.last_frame,
                "frames": self.frames, "size": round(self.size, 1),
                "centre": [round(value, 1) for value in self.centre], "prominence": round(self.prominence, 3),
                "filled_frames": list(self.filled_frames)}


def parse_person(choice: str | int) -> str | int:
    """A --person value: a track id (an integer >= 0) or one of PERSON_POSITIONS; BadInput otherwise."""
    text = str(choice).strip().lower()
    if text.isdigit():
        return int(text)
    if text in PERSON_POSITIONS:
        return text
    raise BadInput(f"--person {choice!r}: give a person's id (a number, as poses.json lists them) or one of: "
                   f"{', '.join(PERSON_POSITIONS)}")


def choose_person(people: list[PersonSummary], choice: str | int, width: int) -> int | None:
    """The id of the person to follow (None when nobody was found).

    auto: the most prominent (size x frames present). largest: the largest on average. left, right,
    center: the one whose mean centre is leftmost, rightmost, nearest the frame's vertical middle line
    (`width` pixels wide). The last four choose among the people at least CANDIDATE_PROMINENCE as prominent
    as the most prominent one. An id must be one of `people` (BadInput naming the ids otherwise).
    """
    choice = parse_person(choice)
    if isinstance(choice, int):
        if all(person.id != choice for person in people):
            known = ", ".join(str(person.id) for person in people) or "none: nobody was found"
            raise BadInput(f"--person {choice}: no person has that id (ids: {known})")
        return choice
    if not people:
        return None
    most = max(person.prominence for person in people)
    if choice == "auto":
        return max(people, key=lambda person: person.prominence).id
    candidates = [person for person in people if person.prominence >= CANDIDATE_PROMINENCE * most]
    key = {"largest": lambda person: -person.size, "left": lambda person: person.centre[0],
           "right": lambda person: -person.centre[0],
           "center": lambda person: abs(person.centre[0] - width / 2)}[choice]
    return min(candidates, key=key).id


class PeopleClip:
    """Every person found in a clip, by track id: filled frame by frame (`add`), then smoothed and read.

    Keypoints are float32 (K, 5) per person and frame, in the clip's layout. Memory: K x 20 bytes per
    person and frame (mediapipe's 553 points with hands and face: 11 KB; a person filling a 5-minute 30 fps
    clip, 100 MB).
    """

    def __init__(self, layout: KeypointLayout, size: tuple[int, int], fps: float):
        self.layout, self.size, self.fps = layout, size, float(fps)
        self.frame_count = 0
        self.tracks: dict[int, dict[int, np.ndarray]] = {}  # id -> frame index -> keypoints (K, 5)
        self.filled: dict[int, set[int]] = {}  # id -> frames whose keypoints were interpolated across a gap

    def add(self, landmarks: np.ndarray | None, ids: list[int] | tuple[int, ...] = ()) -> None:
        """Append the next frame: its people's landmarks (P, K, 5) and track ids, or None (nobody)."""
        for person, track_id in zip(landmarks if landmarks is not None else (), ids, strict=True):
            self.tracks.setdefault(track_id, {})[self.frame_count] = np.asarray(person, dtype=np.float32)
        self.frame_count += 1

    def smoothed(self, settings: KeypointSmoothing | None) -> PeopleClip:
        """A copy with each track smoothed and its short gaps filled (`smooth_track`); None: an exact copy."""
        clip = PeopleClip(self.layout, self.size, self.fps)
        clip.frame_count = self.frame_count
        for track_id, frames in self.tracks.items():
            if settings is None:
                clip.tracks[track_id] = dict(frames)
                continue
            first, last = min(frames), max(frames)
            found = np.zeros(last - first + 1, dtype=bool)
            found[[index - first for index in frames]] = True
            landmarks = np.full((len(found), self.layout.count, 5), np.nan, dtype=np.float32)
            for index, person in frames.items():
                landmarks[index - first] = person
            smoothed, present = smooth_track(landmarks, found, self.fps, settings)
            clip.tracks[track_id] = {first + int(offset): smoothed[offset] for offset in np.flatnonzero(present)}
            clip.filled[track_id] = {first + int(offset) for offset in np.flatnonzero(present & ~found)}
        return clip

    def people(self) -> list[PersonSummary]:
        """Every track's PersonSummary, by id."""
        body = body_indices(self.layout)
        diagonal = float(np.hypot(*self.size))
        summaries = []
        for track_id in sorted(self.tracks):
            filled = self.filled.get(track_id, set())
            found = {index: person for index, person in self.tracks[track_id].items() if index not in filled}
            boxes = [person_box(person[body]) for person in found.values()]
            sizes = np.array([size for _, size in boxes])
            centre = np.mean([centre for centre, _ in boxes], axis=0)
            summaries.append(PersonSummary(
                id=track_id, first_frame=min(found), last_frame=max(found), frames=len(found),
                size=float(sizes.mean()), centre=(float(centre[0]), float(centre[1])),
                prominence=float(sizes.sum() / diagonal), filled_frames=tuple(sorted(filled))))
        return summaries

    def choose(self, choice: str | int) -> int | None:
        """The id `choose_person` picks in this clip."""
        return choose_person(self.people(), choice, self.size[0])

    def frame(self, index: int, person: int | None = None) -> tuple[np.ndarray | None, list[int]]:
        """Frame `index`'s people: (landmarks float32 (P, K, 5) in id order, or None when nobody; their ids).
        With `person`, that person alone (None when absent there)."""
        ids = [track_id for track_id in sorted(self.tracks) if index in self.tracks[track_id]
               and (person is None or track_id == person)]
        if not ids:
            return None, []
        return np.stack([self.tracks[track_id][index] for track_id in ids]), ids

    def person_poses(self, person: int | None) -> list[np.ndarray | None]:
        """The keypoints (K, 5) of `person` in every frame, None where absent (everywhere for None)."""
        frames = self.tracks.get(person, {}) if person is not None else {}
        return [frames.get(index) for index in range(self.frame_count)]
