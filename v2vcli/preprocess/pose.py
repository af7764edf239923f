"""Body poses per frame with mediapipe's PoseLandmarker (VIDEO mode: the person is tracked between frames).

Library API on frame iterators (`estimate_poses`), the `poses.json` format (`PoseJsonWriter`,
`read_poses`, documented in docs/pose.md) and `run_pose`, which `v2v pose` calls: VIDEO ->
OUT/poses.json + OUT/pose.mp4. Landmarks are float32 arrays (P, 33, 5): x, y in pixels, z (depth,
mediapipe's scale: about the units of x / image width, origin between the hips, smaller = nearer),
visibility and presence in [0, 1]. With `PoseConfig(segmentation_masks=True)` the same landmarker also
gives each frame's person mask (the `pose` segmentation backend and `v2v prepare`'s masks use it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput, MissingModel
from v2vcli.preprocess.native_logs import native_logs_silenced
from v2vcli.preprocess.render import CONNECTIONS, LANDMARK_NAMES, NUM_LANDMARKS, render_pose
from v2vcli.preprocess.smoothing import OneEuroFilter, OneEuroSettings
from v2vcli.weights import find_weight_file

POSE_MODEL_FILE = "pose_landmarker_full.task"
COLUMNS = ("x", "y", "z", "visibility", "presence")
FORMAT = "v2v.poses"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PoseConfig:
    """How poses are estimated.

    model: a PoseLandmarker .task file; None looks up pose_landmarker_full.task (see v2vcli.weights).
    num_poses: the most people found per frame.
    smooth: One Euro smoothing of x, y, z over time (`smoothing` sets it); mediapipe's own tracking
      smoother runs either way.
    min_*_confidence: mediapipe's thresholds in [0, 1] for detecting a person, keeping a pose, and
      tracking it to the next frame instead of detecting again. Detection asks 0.7, not mediapipe's
      0.5: at 0.5 a coffee cup on a saucer (scikit-image's `coffee`) gets a skeleton in most frames;
      at 0.7 none does, and a person once found is tracked whatever this value.
    segmentation_masks: also compute the person mask of every person found (PoseFrame.segmentation);
      it costs the upsampling of one 256x256 mask per person to the frame's size.
    """

    model: Path | None = None
    num_poses: int = 1
    smooth: bool = True
    smoothing: OneEuroSettings = field(default_factory=lambda: OneEuroSettings(min_cutoff=1.0, beta=40.0))
    min_detection_confidence: float = 0.7
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    segmentation_masks: bool = False

    def __post_init__(self) -> None:
        if self.num_poses < 1:
            raise BadInput(f"the number of poses must be at least 1, not {self.num_poses}")
        for name in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise BadInput(f"{name} must be between 0 and 1, not {getattr(self, name)}")


@dataclass(frozen=True)
class PoseFrame:
    """The people found in one frame: `landmarks` float32 (P, 33, 5), P >= 1, columns as COLUMNS.

    `segmentation`: float32 (H, W) in [0, 1], the probability that a pixel belongs to one of the people
    (the highest over them), when the estimator's config asks for segmentation masks; else None.
    """

    index: int
    landmarks: np.ndarray
    segmentation: np.ndarray | None = None

    @property
    def people(self) -> int:
        return len(self.landmarks)


def _matched_tracks(centres: np.ndarray, previous: list[np.ndarray]) -> list[int | None]:
    """For each current person (centre (P, 2)), the index of the nearest unclaimed previous person, or None.

    mediapipe does not promise a stable order of people between frames; each keeps its own filter."""
    pairs = sorted((float(np.linalg.norm(centre - old)), new, old_index)
                   for new, centre in enumerate(centres) for old_index, old in enumerate(previous))
    assigned: list[int | None] = [None] * len(centres)
    taken: set[int] = set()
    for _, new, old_index in pairs:
        if assigned[new] is None and old_index not in taken:
            assigned[new] = old_index
            taken.add(old_index)
    return assigned


class PoseEstimator:
    """A PoseLandmarker in VIDEO mode, fed frames in order: `estimator(frame) -> PoseFrame | None`.

    Use as a context manager (the native landmarker must be closed). Frames are RGB uint8 (H, W, 3) of
    one video; their timestamps come from `fps`.
    """

    def __init__(self, fps: Fraction | float, config: PoseConfig | None = None):
        self.config = config or PoseConfig()
        self.fps = Fraction(fps).limit_denominator(100000) if not isinstance(fps, Fraction) else fps
        if self.fps <= 0:
            raise BadInput(f"the frame rate must be positive, not {fps}")
        self.model_path = find_weight_file(POSE_MODEL_FILE, self.config.model, option="--pose-model")
        self.index = 0
        self._last_timestamp = 0
        self._landmarker = None
        self._logs_pending = True
        self._filters: list[OneEuroFilter] = []
        self._centres: list[np.ndarray] = []

    def __enter__(self) -> PoseEstimator:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        config = self.config
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=config.num_poses,
            min_pose_detection_confidence=config.min_detection_confidence,
            min_pose_presence_confidence=config.min_presence_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
            output_segmentation_masks=config.segmentation_masks,
        )
        with native_logs_silenced():
            try:
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
            except (RuntimeError, ValueError) as error:
                message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise MissingModel(f"{self.model_path}: not a usable pose landmarker model ({message})") from None
            # The first inference prints its own log lines; run it here, on a blank frame at time 0.
            blank = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), dtype=np.uint8))
            self._landmarker.detect_for_video(blank, 0)
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._landmarker is not None:
            with native_logs_silenced():
                self._landmarker.close()
            self._landmarker = None

    def __call__(self, frame: np.ndarray, timestamp_ms: int | None = None) -> PoseFrame | None:
        """Landmarks of the people in `frame` (RGB uint8 (H, W, 3)), or None when there is nobody.

        The frame's time comes from its index and the fps, or from `timestamp_ms` when the caller has
        its own clock (the segmentation backends' `scores(frame, timestamp_ms)`).
        """
        import mediapipe as mp

        if self._landmarker is None:
            raise RuntimeError("PoseEstimator is not open; use it in a `with` block")
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise BadInput(f"frames must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        index = self.index
        self.index += 1
        # mediapipe needs strictly increasing integer milliseconds; time 0 went to the warm-up frame.
        own_time = round(index * 1000 / self.fps) if timestamp_ms is None else timestamp_ms
        timestamp = max(1 + own_time, self._last_timestamp + 1)
        self._last_timestamp = timestamp
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        if self._logs_pending:
            # The first frame with a person makes mediapipe log a warning of its own.
            with native_logs_silenced():
                result = self._landmarker.detect_for_video(image, timestamp)
            self._logs_pending = not result.pose_landmarks
        else:
            result = self._landmarker.detect_for_video(image, timestamp)
        if not result.pose_landmarks:
            self._filters, self._centres = [], []
            return None
        height, width = frame.shape[:2]
        landmarks = np.array(
            [[(p.x * width, p.y * height, p.z, p.visibility or 0.0, p.presence or 0.0) for p in person]
             for person in result.pose_landmarks],
            dtype=np.float64,
        )
        if self.config.smooth:
            seconds = index / float(self.fps) if timestamp_ms is None else timestamp_ms / 1000
            self._smooth(landmarks, seconds, width)
        segmentation = None
        if result.segmentation_masks:
            # numpy_view() points into mediapipe's buffers, reused by the next call: the maximum copies it out.
            segmentation = np.maximum.reduce([mask.numpy_view().reshape(height, width)
                                              for mask in result.segmentation_masks]).astype(np.float32)
        return PoseFrame(index=index, landmarks=landmarks.astype(np.float32), segmentation=segmentation)

    def _smooth(self, landmarks: np.ndarray, seconds: float, width: int) -> None:
        """Filter x, y, z of every person in place, each with the filter of the same person last frame."""
        centres = landmarks[:, :, :2].mean(axis=1)
        matches = _matched_tracks(centres, self._centres)
        filters = []
        for person, match in zip(landmarks, matches, strict=True):
            smoother = self._filters[match] if match is not None else OneEuroFilter(self.config.smoothing)
            # z is in units of the image width; in pixels it shares x and y's speed scale.
            values = person[:, :3] * (1.0, 1.0, width)
            extent = np.ptp(person[:, :2], axis=0)
            smoothed = smoother(seconds, values, scale=float(extent.mean()))
            person[:, :3] = smoothed / (1.0, 1.0, width)
            filters.append(smoother)
        self._filters, self._centres = filters, list(centres)


def estimate_poses(
    frames: Iterable[np.ndarray], fps: Fraction | float, config: PoseConfig | None = None
) -> Iterator[PoseFrame | None]:
    """Poses of a video's frames (RGB uint8 (H, W, 3), in order): one PoseFrame, or None, per frame."""
    with PoseEstimator(fps, config) as estimator:
        for frame in frames:
            yield estimator(frame)


class PoseJsonWriter:
    """Write `poses.json` one frame at a time (memory stays flat however long the video).

    Layout (docs/pose.md): a header object whose "frames" list holds, per frame, null or a list of
    people, each a list of 33 [x, y, z, visibility, presence]; "frame_count" and "frames_with_person"
    come after it.
    """

    def __init__(self, path: Path, width: int, height: int, fps: Fraction, video: str = "",
                 config: PoseConfig | None = None, model: str = ""):
        config = config or PoseConfig()
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "video": video,
            "width": width,
            "height": height,
            "fps": float(fps),
            "fps_fraction": f"{fps.numerator}/{fps.denominator}",
            "columns": list(COLUMNS),
            "landmark_names": list(LANDMARK_NAMES),
            "connections": [list(pair) for pair in CONNECTIONS],
            "model": model,
            "num_poses": config.num_poses,
            "smoothing": {"filter": "one_euro", **asdict(config.smoothing)} if config.smooth else None,
        }
        self.path = Path(path)
        self.frame_count = 0
        self.frames_with_person = 0
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        # One key per line, values compact: readable, and each frame below is one line too.
        lines = [f" {json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}" for key, value in header.items()]
        self._file.write("{\n" + ",\n".join(lines) + ',\n "frames": [')

    def __enter__(self) -> PoseJsonWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def write(self, pose: PoseFrame | np.ndarray | None) -> None:
        """Append one frame: a PoseFrame, landmarks (P, 33, 5) or (33, 5), or None (nobody)."""
        landmarks = pose.landmarks if isinstance(pose, PoseFrame) else pose
        if landmarks is None or len(landmarks) == 0:
            entry = "null"
        else:
            people = np.asarray(landmarks, dtype=np.float64).reshape(-1, NUM_LANDMARKS, len(COLUMNS))
            # Pixels to 1/100, the rest to 1/10000: far below the model's accuracy, a third of the file size.
            rounded = np.concatenate([np.round(people[..., :2], 2), np.round(people[..., 2:], 4)], axis=-1)
            entry = json.dumps(rounded.tolist(), separators=(",", ":"))
            self.frames_with_person += 1
        self._file.write(("\n  " if self.frame_count == 0 else ",\n  ") + entry)
        self.frame_count += 1

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.write(f'\n ],\n "frame_count": {self.frame_count},\n'
                         f' "frames_with_person": {self.frames_with_person}\n}}\n')
        self._file.close()


def read_poses(path: Path | str) -> tuple[dict, list[np.ndarray | None]]:
    """Load a poses.json: (header without "frames", per frame float32 (P, 33, 5) landmarks or None)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"{path}: not a poses.json file ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("frames"), list):
        raise BadInput(f"{path}: not a poses.json file (no \"format\": \"{FORMAT}\" with a \"frames\" list)")
    frames = []
    for index, entry in enumerate(data.pop("frames")):
        if entry is None:
            frames.append(None)
            continue
        landmarks = np.asarray(entry, dtype=np.float32)
        if landmarks.ndim != 3 or landmarks.shape[1:] != (NUM_LANDMARKS, len(COLUMNS)):
            raise BadInput(f"{path}: frame {index} has landmarks of shape {landmarks.shape}, not (P, 33, 5)")
        frames.append(landmarks)
    return data, frames


def default_output(video: Path) -> Path:
    """VIDEO's stem + "_pose", beside it."""
    return video.with_name(f"{video.stem}_pose")


def run_pose(
    video: Path | str,
    out_dir: Path | str | None = None,
    config: PoseConfig | None = None,
    *,
    overlay: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict:
    """`v2v pose`: write OUT/poses.json and OUT/pose.mp4 (rendered poses, the input's size, fps and
    frame count; drawn over the input with `overlay`). OUT appears only when complete.

    Decoding (a reader thread), pose estimation (here) and encoding (an ffmpeg process) overlap.
    Returns a summary: video, output, frames, frames_with_person, seconds, fps (frames processed a second).
    """
    from v2vcli.io.outputs import atomic_path, check_output
    from v2vcli.io.video import PREVIEW_PRESET, VideoReader, VideoWriter, probe_video
    from v2vcli.progress import track

    config = config or PoseConfig()
    video = Path(video)
    out_dir = Path(out_dir) if out_dir is not None else default_output(video)
    check_output(out_dir, [video], overwrite)
    info = probe_video(video)
    size = (info.width, info.height)
    started = time.perf_counter()
    with PoseEstimator(info.fps, config) as estimator, atomic_path(out_dir) as partial:
        partial.mkdir()
        reader = VideoReader(video, info=info)
        with (
            PoseJsonWriter(partial / "poses.json", info.width, info.height, info.fps, video=video.name,
                           config=config, model=estimator.model_path.name) as poses,
            VideoWriter(partial / "pose.mp4", info.fps, preset=PREVIEW_PRESET) as writer,
        ):
            for frame in track(reader, len(reader), "pose", quiet):
                pose = estimator(frame)
                poses.write(pose)
                writer.write(render_pose(None if pose is None else pose.landmarks, size,
                                         background=frame if overlay else None))
    seconds = time.perf_counter() - started
    return {
        "video": str(video),
        "output": str(out_dir),
        "frames": poses.frame_count,
        "frames_with_person": poses.frames_with_person,
        "seconds": round(seconds, 3),
        "fps": round(poses.frame_count / seconds, 2) if seconds > 0 else None,
    }
