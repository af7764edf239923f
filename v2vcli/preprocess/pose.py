"""Body poses per frame from any pose backend, the `poses.json` format, and `v2v pose`.

Library API on frame iterators (`estimate_poses`), the `poses.json` format (`PoseJsonWriter`,
`read_poses`, documented in docs/pose.md) and `run_pose`, which `v2v pose` calls: VIDEO ->
OUT/poses.json + OUT/pose.mp4. Landmarks are float32 arrays (P, K, 5) in the backend's KeypointLayout
(mediapipe, the default: K = 33): x, y in pixels, z, visibility and presence (see pose_backend.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.export import DEFAULT_PREVIEW_FORMAT, ExportRun, FrameExport
from v2vcli.io.probe import VideoInfo
from v2vcli.preprocess.keypoints import KeypointLayout
from v2vcli.preprocess.mediapipe_pose import POSE_MODEL_FILE
from v2vcli.preprocess.pose_backend import (
    COLUMNS,
    DEFAULT_POSE_BACKEND,
    PoseConfig,
    PoseEstimator,
    PoseFrame,
    pose_backend_class,
)
from v2vcli.preprocess.render import render_pose
from v2vcli.results import Result, rate

__all__ = ["COLUMNS", "POSE_MODEL_FILE", "PoseConfig", "PoseEstimator", "PoseFrame", "PoseJsonWriter", "PoseResult",
           "estimate_poses", "header_layout", "read_poses", "run_pose"]

FORMAT = "v2v.poses"
# 2: names the backend, records each frame's presentation time ("timestamps"); 1: mediapipe's 33 points.
FORMAT_VERSION = 2
POSES_NAME = "poses.json"


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
    people, each a list of K [x, y, z, visibility, presence] (K: the backend's layout); "frame_count",
    "frames_with_person" and "timestamps" (each frame's presentation time in seconds) come after it.
    `timestamps`: the video's frame times (v2vcli.io.video.frame_timestamps); frames past its end, or
    all frames without it, are timed by their index and `fps`.
    """

    def __init__(self, path: Path, width: int, height: int, fps: Fraction, video: str = "",
                 config: PoseConfig | None = None, model: str = "", timestamps: Sequence[float] | None = None):
        config = config or PoseConfig()
        self.layout = pose_backend_class(config.backend).layout
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "backend": config.backend,
            "video": video,
            "width": width,
            "height": height,
            "fps": float(fps),
            "fps_fraction": f"{fps.numerator}/{fps.denominator}",
            "columns": list(COLUMNS),
            **self.layout.describe(),
            "model": model,
            "num_poses": config.num_poses,
            "smoothing": {"filter": "one_euro", **asdict(config.smoothing)} if config.smooth else None,
        }
        self.path = Path(path)
        self.fps = fps
        self.frame_count = 0
        self.frames_with_person = 0
        self._video_times = list(timestamps) if timestamps is not None else []
        self._times: list[float] = []
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        # One key per line, values compact: readable, and each frame below is one line too.
        lines = [f" {json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}" for key, value in header.items()]
        self._file.write("{\n" + ",\n".join(lines) + ',\n "frames": [')

    def __enter__(self) -> PoseJsonWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def write(self, pose: PoseFrame | np.ndarray | None) -> None:
        """Append one frame: a PoseFrame, landmarks (P, K, 5) or (K, 5), or None (nobody)."""
        landmarks = pose.landmarks if isinstance(pose, PoseFrame) else pose
        if landmarks is None or len(landmarks) == 0:
            entry = "null"
        else:
            people = np.asarray(landmarks, dtype=np.float64).reshape(-1, self.layout.count, len(COLUMNS))
            # Pixels to 1/100, the rest to 1/10000: far below the model's accuracy, a third of the file size.
            rounded = np.concatenate([np.round(people[..., :2], 2), np.round(people[..., 2:], 4)], axis=-1)
            entry = json.dumps(rounded.tolist(), separators=(",", ":"))
            self.frames_with_person += 1
        self._file.write(("\n  " if self.frame_count == 0 else ",\n  ") + entry)
        self._times.append(round(self._time(self.frame_count), 6))
        self.frame_count += 1

    def _time(self, index: int) -> float:
        known = self._video_times
        if index < len(known):
            return float(known[index])
        last = (len(known) - 1, float(known[-1])) if known else (0, 0.0)
        return last[1] + (index - last[0]) / float(self.fps)

    def close(self) -> None:
        if self._file.closed:
            return
        times = json.dumps(self._times, separators=(",", ":"))
        self._file.write(f'\n ],\n "frame_count": {self.frame_count},\n'
                         f' "frames_with_person": {self.frames_with_person},\n "timestamps": {times}\n}}\n')
        self._file.close()


def header_layout(header: dict, path: Path | str = POSES_NAME) -> KeypointLayout:
    """The keypoint layout of a poses.json header, through the pose backend registry: the backend it
    names (version 1 files, which name none, hold mediapipe's 33 points). BadInput for a backend this
    v2v does not have."""
    name = header.get("backend", DEFAULT_POSE_BACKEND)
    try:
        return pose_backend_class(name).layout
    except BadInput as error:
        raise BadInput(f"{path}: holds the poses of a backend this v2v does not have ({error})") from None


def read_poses(path: Path | str) -> tuple[dict, list[np.ndarray | None]]:
    """Load a poses.json: (header without "frames", per frame float32 (P, K, 5) landmarks or None).

    The header always names its "backend" (version 1 files: mediapipe); `header_layout(header)` gives its
    KeypointLayout.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"{path}: not a poses.json file ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("frames"), list):
        raise BadInput(f"{path}: not a poses.json file (no \"format\": \"{FORMAT}\" with a \"frames\" list)")
    if not isinstance(data.get("version"), int) or not 1 <= data["version"] <= FORMAT_VERSION:
        raise BadInput(f"{path}: poses.json version {data.get('version')!r}; this v2v reads versions 1 to "
                       f"{FORMAT_VERSION}")
    data.setdefault("backend", DEFAULT_POSE_BACKEND)
    count = header_layout(data, path).count
    frames = []
    for index, entry in enumerate(data.pop("frames")):
        if entry is None:
            frames.append(None)
            continue
        landmarks = np.asarray(entry, dtype=np.float32)
        if landmarks.ndim != 3 or landmarks.shape[1:] != (count, len(COLUMNS)):
            raise BadInput(f"{path}: frame {index} has landmarks of shape {landmarks.shape}, not "
                           f"(P, {count}, {len(COLUMNS)})")
        frames.append(landmarks)
    return data, frames


def default_output(video: Path) -> Path:
    """VIDEO's stem + "_pose", beside it."""
    return video.with_name(f"{video.stem}_pose")


@dataclass
class PoseResult(Result):
    """What `v2v pose` made (its --json).

    video: the input. output: the output folder. backend: the pose backend. frames: frames read.
    frames_with_person: frames where someone was found. preview: the rendered poses (OUT/pose.mp4, or
    another format). seconds: wall time, model loading included. frames_per_second: frames processed a
    second (throughput; the input's frame rate is in poses.json).
    """

    video: str
    output: str
    backend: str
    frames: int
    frames_with_person: int
    preview: str | None
    seconds: float
    frames_per_second: float | None


class PoseExport(FrameExport):
    """`v2v pose` on the export skeleton: poses.json and the rendered poses."""

    label = "pose"
    preview_stem = "pose"

    def __init__(self, video: Path | str, output: Path | str, config: PoseConfig, overlay: bool = False, **options):
        super().__init__(video, output, **options)
        self.config, self.overlay = config, overlay

    def open(self, folder: Path, info: VideoInfo, stack: ExitStack) -> None:
        from v2vcli.io.video import frame_timestamps

        self.size = (info.width, info.height)
        self.estimator = stack.enter_context(PoseEstimator(info.fps, self.config))
        self.poses = stack.enter_context(PoseJsonWriter(
            folder / POSES_NAME, info.width, info.height, info.fps, video=self.video.name, config=self.config,
            model=self.estimator.model_name, timestamps=frame_timestamps(self.video)))

    def items(self, frames: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, PoseFrame | None]]:
        for frame in frames:
            yield frame, self.estimator(frame)

    def write(self, item: tuple[np.ndarray, PoseFrame | None]) -> None:
        self.poses.write(item[1])

    def preview_frame(self, item: tuple[np.ndarray, PoseFrame | None]) -> np.ndarray:
        frame, pose = item
        return render_pose(None if pose is None else pose.landmarks, self.size,
                           background=frame if self.overlay else None, layout=self.estimator.layout)

    def finish(self, folder: Path, run: ExportRun) -> PoseResult:
        return PoseResult(
            video=str(self.video), output=str(self.output), backend=self.config.backend,
            frames=self.poses.frame_count, frames_with_person=self.poses.frames_with_person,
            preview=str(run.preview) if run.preview else None, seconds=round(run.seconds, 3),
            frames_per_second=rate(self.poses.frame_count, run.seconds),
        )


def run_pose(
    video: Path | str,
    out_dir: Path | str | None = None,
    config: PoseConfig | None = None,
    *,
    overlay: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    preview_format: str = DEFAULT_PREVIEW_FORMAT,
) -> PoseResult:
    """`v2v pose`: write OUT/poses.json and OUT/pose.mp4 (rendered poses, the input's size, fps and
    frame count; drawn over the input with `overlay`; `preview_format` png/mkv/mov/webm for another
    format, see v2vcli.export). OUT appears only when complete.

    Decoding (a reader thread), pose estimation (here), writing and rendering (a worker thread) and
    encoding (an ffmpeg process) overlap.
    """
    video = Path(video)
    out_dir = Path(out_dir) if out_dir is not None else default_output(video)
    return PoseExport(video, out_dir, config or PoseConfig(), overlay, preview_format=preview_format,
                      overwrite=overwrite, quiet=quiet).run()
