"""Pose backends: the interface every keypoint model implements, and the registry built from them.

A backend is a PoseEstimator subclass that declares its `name` and its KeypointLayout
(v2vcli.preprocess.keypoints); defining the class registers it, as PySceneDetect's VideoStream backends
are. `PoseEstimator(fps, config)` builds the backend `config.backend` names, so every caller (`v2v pose`,
`prepare`, `generate --from pose`, `dance`, `eval --poses`) takes any backend. A backend implements
`detect(frame, timestamp_ms)`, and `open()` / `close()` when it holds native resources; the base class
checks frames, counts them, keeps time, gives each person a track id that stays with them from frame to
frame (v2vcli.preprocess.tracking) and, frame by frame, smooths each person's keypoints with a causal
filter. Whole clips are smoothed better afterwards, without lag (v2vcli.preprocess.pose.find_people).

Built-in backends: mediapipe (v2vcli.preprocess.mediapipe_pose, the default).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.preprocess.keypoints import DETAIL_LEVELS, KeypointLayout
from v2vcli.preprocess.smoothing import KeypointSmoothing, OneEuroFilter, OneEuroSettings
from v2vcli.preprocess.timestamps import frame_milliseconds
from v2vcli.preprocess.tracking import PersonTracker

COLUMNS = ("x", "y", "z", "visibility", "presence")
DEFAULT_POSE_BACKEND = "mediapipe"
# Enough to tell the person followed from a passer-by or two (docs/pose.md, "People").
DEFAULT_NUM_POSES = 3
# The modules that define the built-in backends; each imports its own heavy library only when it runs.
BUILTIN_MODULES = ("v2vcli.preprocess.mediapipe_pose",)
POSE_BACKENDS: dict[str, type[PoseEstimator]] = {}


def pose_backends() -> dict[str, type[PoseEstimator]]:
    """name -> backend class: the built-in backends and every PoseEstimator subclass defined so far."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return POSE_BACKENDS


def pose_backend_class(name: str) -> type[PoseEstimator]:
    """The backend registered as `name`; BadInput listing the valid names for an unknown one."""
    backends = pose_backends()
    if name not in backends:
        raise BadInput(f"unknown pose backend {name!r}; choose one of: {', '.join(backends)}")
    return backends[name]


def pose_layout(name: str = DEFAULT_POSE_BACKEND) -> KeypointLayout:
    """The keypoint layout of the backend `name`."""
    return pose_backend_class(name).layout


# The score a new person must reach to be found (PoseConfig.min_detection_confidence; `v2v pose`, `v2v eval
# --poses`): above mediapipe's own 0.5, see PoseConfig.
DETECTION_CONFIDENCE = 0.7


@dataclass(frozen=True)
class PoseConfig:
    """How poses are estimated.

    backend: a registered pose backend (see `pose_backends()`); mediapipe by default.
    model: the backend's model file; None looks up its default one (mediapipe: pose_landmarker_full.task,
      see v2vcli.weights).
    num_poses: the most people found per frame (each gets a track id; commands follow one of them).
    smooth: smooth x, y, z over time; a backend's own smoothing (as mediapipe's tracking) runs either way.
      Whole clips (`find_people`: `v2v pose`, `prepare`, `dance`) are smoothed afterwards by `smoothing`
      (centred, no lag); a PoseEstimator fed frame by frame smooths them as they come with `live_smoothing`
      (a causal One Euro filter).
    min_*_confidence: thresholds in [0, 1] for detecting a person, keeping a pose, and tracking it to the
      next frame instead of detecting again. Detection asks 0.7, not mediapipe's 0.5: at 0.5 a coffee cup
      on a saucer (scikit-image's `coffee`) gets a skeleton in most frames; at 0.7 none does, and a
      person once found is tracked whatever this value.
    segmentation_masks: also compute the person mask of every person found (PoseFrame.segmentation), for
      backends that can (`gives_masks`); it costs the upsampling of one mask per person to the frame's size.
    detail: what a backend whose layout has hands and a face looks for besides the body: "body" (nothing
      more), "hands" or "full" (hands and face); the points not looked for are marked not visible
      (v2vcli.preprocess.keypoints.DETAIL_LEVELS). "body" by default, so that callers that need bodies
      alone (person masks, pose error) cost what they did; `v2v pose` asks for "full".
    """

    backend: str = DEFAULT_POSE_BACKEND
    model: Path | None = None
    num_poses: int = DEFAULT_NUM_POSES
    smooth: bool = True
    smoothing: KeypointSmoothing = field(default_factory=KeypointSmoothing)
    live_smoothing: OneEuroSettings = field(default_factory=lambda: OneEuroSettings(min_cutoff=1.0, beta=40.0))
    min_detection_confidence: float = DETECTION_CONFIDENCE
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    segmentation_masks: bool = False
    detail: str = "body"

    def __post_init__(self) -> None:
        pose_backend_class(self.backend)  # an unknown name fails here, before any work
        if self.detail not in DETAIL_LEVELS:
            raise BadInput(f"unknown detail {self.detail!r}; choose one of: {', '.join(DETAIL_LEVELS)}")
        if self.num_poses < 1:
            raise BadInput(f"the number of poses must be at least 1, not {self.num_poses}")
        for name in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise BadInput(f"{name} must be between 0 and 1, not {getattr(self, name)}")


@dataclass
class PoseOptions:
    """The pose options of a command that finds poses on its way (`v2v dance`, `v2v generate --from pose`):
    the backend's name, its model file (None: the backend's default one), the person to follow (a track
    id or a position, v2vcli.preprocess.tracking.choose_person) and what to find besides the body
    (PoseConfig.detail)."""

    pose_backend: str = DEFAULT_POSE_BACKEND
    pose_model: str | None = None
    person: str = "auto"
    pose_detail: str = "body"

    def pose_config(self) -> PoseConfig:
        """The PoseConfig these options mean (BadInput for an unknown backend or detail)."""
        return PoseConfig(backend=self.pose_backend, model=Path(self.pose_model) if self.pose_model else None,
                          detail=self.pose_detail)


@dataclass(frozen=True)
class PoseFrame:
    """The people found in one frame: `landmarks` float32 (P, K, 5), P >= 1, K the layout's point count,
    columns as COLUMNS (x, y in pixels; z, visibility, presence as the backend gives them).

    `segmentation`: float32 (H, W) in [0, 1], the probability that a pixel belongs to one of the people
    (the highest over them), when the config asks for segmentation masks; else None.
    `ids`: each person's track id (P ints, in increasing order, as the people are): the same person keeps
    the same id from frame to frame (v2vcli.preprocess.tracking).
    """

    index: int
    landmarks: np.ndarray
    segmentation: np.ndarray | None = None
    ids: tuple[int, ...] = ()

    @property
    def people(self) -> int:
        return len(self.landmarks)


class PoseEstimator:
    """A pose backend fed the frames of one video in order: `estimator(frame) -> PoseFrame | None`.

    `PoseEstimator(fps, config)` makes the backend that `config.backend` names. Use it as a context
    manager (a backend may hold native resources). Frames are RGB uint8 (H, W, 3) of one video; their
    times come from `fps` unless the caller passes its own.

    A backend subclass sets `name` (registering it), `layout`, `summary` (one line for help texts) and
    `gives_masks`, and implements `detect`; `model_name` is what poses.json records as its model.
    """

    name: ClassVar[str] = ""
    layout: ClassVar[KeypointLayout]
    summary: ClassVar[str] = ""
    gives_masks: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            POSE_BACKENDS[cls.name] = cls

    def __new__(cls, fps: Fraction | float, config: PoseConfig | None = None) -> PoseEstimator:
        if cls is PoseEstimator:
            cls = pose_backend_class((config or PoseConfig()).backend)
        return super().__new__(cls)

    def __init__(self, fps: Fraction | float, config: PoseConfig | None = None):
        self.config = config or PoseConfig(backend=self.name)
        self.fps = Fraction(fps).limit_denominator(100000) if not isinstance(fps, Fraction) else fps
        if self.fps <= 0:
            raise BadInput(f"the frame rate must be positive, not {fps}")
        if self.config.segmentation_masks and not self.gives_masks:
            raise BadInput(f"the {self.name} pose backend gives no person masks")
        self.model_name = ""
        self.index = 0
        self.tracker = PersonTracker(self.layout, float(self.fps))
        self._filters: dict[int, OneEuroFilter] = {}  # track id -> its live filter

    def open(self) -> None:
        """Load the model (called on entering the `with` block)."""

    def close(self) -> None:
        """Free what `open` took; safe to call twice."""

    def detect(self, frame: np.ndarray, timestamp_ms: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The people in `frame` (RGB uint8 (H, W, 3)) shown at `timestamp_ms`: (landmarks float (P, K, 5)
        in `layout`'s order and COLUMNS, or None when there is nobody; person mask float32 (H, W) in
        [0, 1] when `config.segmentation_masks`, else None)."""
        raise NotImplementedError

    def __enter__(self) -> PoseEstimator:
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __call__(self, frame: np.ndarray, timestamp_ms: int | None = None) -> PoseFrame | None:
        """Landmarks of the people in `frame` (RGB uint8 (H, W, 3)), or None when there is nobody.

        The frame's time comes from its index and the fps, or from `timestamp_ms` when the caller has
        its own clock (the segmentation backends' `scores(frame, timestamp_ms)`).
        """
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise BadInput(f"frames must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        index = self.index
        self.index += 1
        milliseconds = frame_milliseconds(index, self.fps) if timestamp_ms is None else timestamp_ms
        landmarks, segmentation = self.detect(frame, milliseconds)
        if landmarks is not None and len(landmarks) > 0:
            landmarks = np.array(landmarks, dtype=np.float64)
            expected = (self.layout.count, len(COLUMNS))
            if landmarks.ndim != 3 or landmarks.shape[1:] != expected:
                raise ValueError(f"the {self.name} pose backend gave landmarks {landmarks.shape}, not (P, *{expected})")
        kept, ids = self.tracker(index, landmarks)
        if not ids:
            return None
        landmarks = landmarks[kept]
        if self.config.smooth:
            seconds = index / float(self.fps) if timestamp_ms is None else timestamp_ms / 1000
            self._smooth(landmarks, ids, seconds, frame.shape[1])
        return PoseFrame(index=index, landmarks=landmarks.astype(np.float32), segmentation=segmentation,
                         ids=tuple(ids))

    def _smooth(self, landmarks: np.ndarray, ids: list[int], seconds: float, width: int) -> None:
        """Filter x, y, z of every person in place, each with their own filter (kept by track id)."""
        live = {track.id for track in self.tracker.tracks}
        self._filters = {track_id: smoother for track_id, smoother in self._filters.items() if track_id in live}
        for person, track_id in zip(landmarks, ids, strict=True):
            smoother = self._filters.setdefault(track_id, OneEuroFilter(self.config.live_smoothing))
            # z is in units of the image width; in pixels it shares x and y's speed scale.
            values = person[:, :3] * (1.0, 1.0, width)
            extent = np.ptp(person[:, :2], axis=0)
            smoothed = smoother(seconds, values, scale=float(extent.mean()))
            person[:, :3] = smoothed / (1.0, 1.0, width)
