"""Pose error: does a generated video show the pose it was generated from? (`v2v eval --poses`)

Poses are detected again on the generated frames with the pose backend the condition's poses.json
names (mediapipe's PoseLandmarker by default), as `v2v pose` does (tracking, One Euro smoothing), and
compared joint by joint with the keypoints the condition
maps were rendered from (the condition's `poses.json`). docs/eval.md defines the numbers:

- per person and frame, the mean distance in pixels at the generated frame's size over the joints
  visible in both, and that distance divided by the person's size (the diagonal of the bounding box of
  the condition's visible joints);
- whether the person was found again at all: a generated blur yields no pose, and that counts;
- the headline `pose_error`, which folds both into one number in [0, 1]: the size-normalized distance
  capped at 1, with 1 for a person not found again (as wrong as a pose a whole body away);
- the same for the face and the hands alone (`face_error`, `hand_error`): the points that show them
  (`KeypointLayout.part_points`: mediapipe's 11 face points of the body, its wrists and coarse hands, and
  the face mesh and hand landmarks where both sides have them), their distance divided by the size of
  that part in the condition (the diagonal of its visible points' bounding box), capped at 1, and 1 where
  the person or the part was not found again; a person whose condition shows fewer than 2 of the part's
  points does not count.

Landmarks are float32 (P, K, 5) as in `poses.json` (mediapipe: K = 33): x, y in pixels, z, visibility,
presence.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.preprocess.pose_backend import DEFAULT_POSE_BACKEND, DETECTION_CONFIDENCE

# render_pose draws a joint when its visibility and presence both reach 0.5: those are the joints the
# condition map showed the generator, and the ones a detection must show to count as seen.
MIN_VISIBILITY = 0.5
ERROR_CAP = 1.0  # a person's normalized error is capped here; a person not found again scores it

PARTS = ("face", "hand")  # the parts scored on their own (KeypointLayout group kinds)
# Per-frame values (one row per frame in `v2v eval`'s CSV); None where the frame has no condition person
# (a part's: none whose condition shows that part).
FRAME_FIELDS = ("pose_error", "pose_error_normalized", "pose_error_pixels", "pose_joints", "pose_detected",
                *(f"{part}_error{suffix}" for part in PARTS for suffix in ("", "_pixels")))


def visible_joints(person: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool (33,): joints of `person` (33, 5) with visibility and presence >= MIN_VISIBILITY whose x, y
    lie inside a frame of `size` (W, H) (mediapipe also places joints it guesses outside the frame)."""
    width, height = size
    x, y = person[:, 0], person[:, 1]
    seen = (person[:, 3] >= MIN_VISIBILITY) & (person[:, 4] >= MIN_VISIBILITY)
    return seen & np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x < width) & (y >= 0) & (y < height)


def person_size(points: np.ndarray) -> float:
    """Diagonal of the bounding box of `points` (K, 2) in pixels: a size defined for any visible part of
    a body (a torso needs hips, which a head-and-shoulders shot lacks)."""
    extent = points.max(axis=0) - points.min(axis=0)
    return float(np.hypot(extent[0], extent[1]))


def match_person(condition: np.ndarray, detected: np.ndarray | None, size: tuple[int, int]) -> dict | None:
    """The detected person closest to one condition person, at frame size `size` (W, H).

    condition: (33, 5) with at least 2 visible joints; detected: (P, 33, 5) or None.
    Returns {"pixels": mean distance over the joints visible in both, "normalized": that / person_size,
    "joints": how many joints were compared, "person": the detected (33, 5)}, or None when no detected
    person shares a visible joint.
    """
    if detected is None or len(detected) == 0:
        return None
    wanted = visible_joints(condition, size)
    scale = person_size(condition[wanted, :2])
    best = None
    for candidate in detected:
        common = wanted & visible_joints(candidate, size)
        if not common.any():
            continue
        distances = np.hypot(*(candidate[common, :2] - condition[common, :2]).T)
        pixels = float(distances.mean())
        if best is None or pixels < best["pixels"]:
            best = {"pixels": pixels, "normalized": pixels / max(scale, 1e-6), "joints": int(common.sum()),
                    "person": candidate}
    return best


def part_error(condition: np.ndarray, found: np.ndarray | None, joints: np.ndarray,
               size: tuple[int, int]) -> tuple[float, float | None] | None:
    """One part's error for one condition person (K, 5) and the person found for it (K, 5) or None:
    (distance / the part's size capped at ERROR_CAP, or ERROR_CAP where the part was not found again;
    the distance in pixels, None where not found), or None when the condition shows fewer than 2 of the
    part's points. joints: bool (K,), the part's points."""
    wanted = visible_joints(condition, size) & joints
    if wanted.sum() < 2:
        return None
    common = wanted & visible_joints(found, size) if found is not None else np.zeros_like(wanted)
    if not common.any():
        return ERROR_CAP, None
    pixels = float(np.hypot(*(found[common, :2] - condition[common, :2]).T).mean())
    return min(pixels / max(person_size(condition[wanted, :2]), 1e-6), ERROR_CAP), pixels


def scored_people(condition: np.ndarray | None, size: tuple[int, int]) -> list[np.ndarray]:
    """The condition's people (from (P, 33, 5) or None) with at least 2 visible joints: the ones scored."""
    if condition is None:
        return []
    return [person for person in condition if visible_joints(person, size).sum() >= 2]


def frame_pose_error(condition: np.ndarray | None, detected: np.ndarray | None, size: tuple[int, int],
                     parts: dict[str, np.ndarray] | None = None) -> dict:
    """The FRAME_FIELDS of one frame: condition and detected landmarks (P, 33, 5) or None, both in the
    pixels of a frame of `size` (W, H); parts: part name -> bool (K,) its points (`part_joints`), the
    parts scored (none by default).

    pose_error: mean over the condition's people of min(normalized distance, ERROR_CAP), ERROR_CAP for a
    person not found; pose_error_normalized / pose_error_pixels / pose_joints: means over the people
    found; pose_detected: the fraction of the condition's people found. All None when the condition has
    nobody with 2 visible joints (nothing to compare), and the distances None when nobody was found.
    """
    people = scored_people(condition, size)
    row: dict = dict.fromkeys(FRAME_FIELDS)
    if not people:
        return row
    matches = [match_person(person, detected, size) for person in people]
    found = [match for match in matches if match is not None]
    row["pose_error"] = float(np.mean([min(match["normalized"], ERROR_CAP) if match else ERROR_CAP
                                       for match in matches]))
    row["pose_detected"] = len(found) / len(people)
    if found:
        for field, key in (("pose_error_normalized", "normalized"), ("pose_error_pixels", "pixels"),
                           ("pose_joints", "joints")):
            row[field] = float(np.mean([match[key] for match in found]))
    for part, joints in (parts or {}).items():
        scores = [part_error(person, match["person"] if match else None, joints, size)
                  for person, match in zip(people, matches, strict=True)]
        scores = [score for score in scores if score is not None]
        if scores:
            row[f"{part}_error"] = float(np.mean([error for error, _ in scores]))
            pixels = [distance for _, distance in scores if distance is not None]
            row[f"{part}_error_pixels"] = float(np.mean(pixels)) if pixels else None
    return row


def part_joints(backend: str, count: int) -> dict[str, np.ndarray]:
    """PARTS -> bool (count,): the points of each part in the layout of pose backend `backend`."""
    from v2vcli.preprocess.pose_backend import pose_layout

    layout = pose_layout(backend)
    masks = {}
    for part in PARTS:
        mask = np.zeros(count, dtype=bool)
        mask[[index for index in layout.part_points(part) if index < count]] = True
        masks[part] = mask
    return masks


def load_condition_poses(path: Path | str, frame_count: int, video: Path | str) -> tuple[dict, list]:
    """A condition's poses.json (v2vcli.preprocess.pose.read_poses): (header, per-frame landmarks or None).
    BadInput when it is not a poses.json or its frame count differs from `video`'s `frame_count`."""
    from v2vcli.preprocess.pose import read_poses

    header, frames = read_poses(path)
    if len(frames) != frame_count:
        raise BadInput(f"{path} has poses for {len(frames)} frames but {video} has {frame_count} frames; "
                       "give the poses.json of the condition the video was generated from")
    if not all(isinstance(header.get(key), (int, float)) and header[key] > 0 for key in ("width", "height")):
        raise BadInput(f"{path}: no positive \"width\" and \"height\" (the size its keypoints are in)")
    return header, frames


class PoseScorer:
    """Detects poses on the frames of one video, in order, and scores each against the condition's.

    Use as a context manager. `scorer(frame)` takes the next RGB uint8 (H, W, 3) frame and returns its
    FRAME_FIELDS. The condition's keypoints are scaled from the poses.json size to the frame's size, as
    `v2v generate` resizes condition maps to the model's size. `backend`: the pose backend that found
    the condition's keypoints (the poses.json header's), so both sides have the same points.
    `detection_confidence`: the score a new person must reach to be found (DETECTION_CONFIDENCE).
    """

    def __init__(self, frames: list[np.ndarray | None], condition_size: tuple[int, int], fps: Fraction | float,
                 pose_model: Path | str | None = None, backend: str = DEFAULT_POSE_BACKEND,
                 detection_confidence: float = DETECTION_CONFIDENCE):
        from v2vcli.preprocess.pose import PoseConfig, PoseEstimator

        self.frames, self.condition_size, self.index = frames, condition_size, 0
        people = max((len(landmarks) for landmarks in frames if landmarks is not None), default=1)
        points = next((landmarks.shape[1] for landmarks in frames if landmarks is not None), 0)
        self.parts = part_joints(backend, points)
        config = PoseConfig(backend=backend, model=Path(pose_model) if pose_model else None,
                            num_poses=max(1, people), min_detection_confidence=detection_confidence)
        self._estimator = PoseEstimator(fps, config)

    def __enter__(self) -> PoseScorer:
        self._estimator.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self._estimator.close()

    def __call__(self, frame: np.ndarray) -> dict:
        found = self._estimator(frame)
        condition = self.frames[self.index]
        self.index += 1
        size = (frame.shape[1], frame.shape[0])
        if condition is not None:
            condition = condition.copy()
            condition[..., 0] *= size[0] / self.condition_size[0]
            condition[..., 1] *= size[1] / self.condition_size[1]
        return frame_pose_error(condition, found.landmarks if found is not None else None, size, self.parts)

