"""`v2v generate`: a condition video (or label folder) -> a synthesized video, streamed frame by frame.

CONDITION is one of
  - a folder of label PNGs, as `v2v segment` (labels/) or `v2v prepare` write them;
  - a video of condition maps, as `v2v pose` writes pose.mp4 (pose models);
  - with `source="pose"|"segment"`, a raw video, turned into condition maps on the fly.
Output: the model's size, the input's fps and frame count, the audio of `audio` (default: the
condition video's own, if any).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.io.outputs import check_output
from v2vcli.progress import track

SOURCES = ("pose", "segment")


@dataclass
class GenerateConfig:
    """model: a name under weights/ or a path. source: None (CONDITION already holds condition maps),
    "pose" or "segment" (preprocess a raw video). fps: for a label folder (video inputs keep theirs)."""

    model: str = "demo"
    source: str | None = None
    audio: str | None = None
    device: str = "auto"
    fps: float = 24.0
    segment_backend: str = "mediapipe"
    pose_model: str | None = None
    crf: int = 18
    overwrite: bool = False
    quiet: bool = False


class LoadedModel:
    """A generator with what it needs to know of its inputs: condition type, label channels, size."""

    def __init__(self, name_or_path: str, device_request: str = "auto"):
        from v2vcli.devices import resolve_device
        from v2vcli.inference.models import find_model
        from v2vcli.inference.sequential import SequentialGenerator
        from v2vcli.training.checkpoint import load_generator

        self.device = resolve_device(device_request)
        self.path = find_model(name_or_path)
        generator, self.config = load_generator(self.path, self.device)
        data = self.config.data
        if not data.size or not data.condition:
            raise BadInput(f"{self.path}: the model's config lacks its condition type or size (retrain it)")
        self.condition: str = data.condition
        self.size: tuple[int, int] = (int(data.size[0]), int(data.size[1]))
        self.channels = self.config.model.label_channels
        self.sequential = SequentialGenerator(generator, self.config, self.device)

    def generate(self, condition_map: np.ndarray):
        """One condition map at the model's size -> the frame, (3, H, W) in [-1, 1] on the model's device.

        Leaves the copy to the host to the caller (see `frame_writer`), so on a GPU the next frame's
        kernels are queued while this one is copied and encoded."""
        from v2vcli.data.conditions import encode_conditions

        return self.sequential.tensor(encode_conditions(condition_map[None], self.condition, self.channels)[0])


    def fit(self, condition_map: np.ndarray) -> np.ndarray:
        """Resize a condition map to the model's size (nearest for class ids, area for renderings)."""
        import cv2

        if (condition_map.shape[1], condition_map.shape[0]) == self.size:
            return condition_map
        interpolation = cv2.INTER_NEAREST if self.condition == "segment" else cv2.INTER_AREA
        return cv2.resize(condition_map, self.size, interpolation=interpolation)


def frame_writer(write: Callable[..., None]):
    """A BackgroundSink that turns generated frames into uint8 and hands them to `write` on a worker
    thread: the host copy and the H.264 encoding overlap the generation of the next frames. Items are
    a frame tensor, or a tuple whose last element is the frame tensor (the rest passed through)."""
    from v2vcli.inference.sequential import to_uint8
    from v2vcli.io.background import BackgroundSink

    def handle(item) -> None:
        *context, image = item if isinstance(item, tuple) else (item,)
        write(*context, to_uint8(image))

    return BackgroundSink(handle)


def condition_maps(condition: Path, model: LoadedModel, config: GenerateConfig
                   ) -> tuple[Iterator[np.ndarray], int, Fraction, Path | None]:
    """(condition maps at the model's size, frame count, fps, the video the maps come from or None)."""
    from v2vcli.io.frames import frame_paths, read_image
    from v2vcli.io.video import VideoReader

    if config.source is not None and config.source not in SOURCES:
        raise BadInput(f"--from {config.source!r}: choose one of {', '.join(SOURCES)}")
    if config.source is not None and config.source != model.condition:
        raise BadInput(f"the model takes {model.condition} maps, not --from {config.source}")
    if condition.is_dir():
        paths = frame_paths(condition)
        maps = (read_image(path) for path in paths)
        return (model.fit(check_map(m, model, path)) for m, path in zip(maps, paths, strict=True)), len(paths), \
            Fraction(config.fps).limit_denominator(1001), None
    reader = VideoReader(condition)
    fps, count = reader.info.fps, reader.info.frame_count
    if config.source is None:
        if model.condition == "segment":
            raise BadInput(f"{condition}: a segment model takes a folder of label PNGs (as `v2v segment` writes "
                           "labels/), or a raw video with --from segment")
        return (model.fit(frame) for frame in reader), count, fps, condition
    if config.source == "pose":
        return (model.fit(m) for m in rendered_poses(reader, fps, config)), count, fps, condition
    return (model.fit(m) for m in segmented(reader, fps, config)), count, fps, condition


def check_map(condition_map: np.ndarray, model: LoadedModel, path: Path) -> np.ndarray:
    if model.condition == "segment" and condition_map.ndim != 2:
        raise BadInput(f"{path}: a segment model needs single-channel class-id images")
    if model.condition == "pose" and condition_map.ndim != 3:
        raise BadInput(f"{path}: a pose model needs RGB pose renderings")
    return condition_map


def rendered_poses(frames, fps, config: GenerateConfig) -> Iterator[np.ndarray]:
    from v2vcli.preprocess.pose import PoseConfig, PoseEstimator
    from v2vcli.preprocess.render import render_pose

    model = Path(config.pose_model) if config.pose_model else None
    with PoseEstimator(fps, PoseConfig(model=model)) as estimator:
        for frame in frames:
            found = estimator(frame)
            yield render_pose(found.landmarks if found is not None else None, (frame.shape[1], frame.shape[0]))


def segmented(frames, fps, config: GenerateConfig) -> Iterator[np.ndarray]:
    from v2vcli.preprocess.segment import SegmentConfig, make_backend, segment_frames

    with make_backend(SegmentConfig(backend=config.segment_backend)) as backend:
        yield from segment_frames(frames, backend, fps=float(fps))


def generate_video(condition: Path, output: Path, config: GenerateConfig) -> dict:
    """Generate `output` from `condition` (see the module docstring); return a summary."""
    from v2vcli.io.video import VideoWriter

    condition, output = Path(condition), Path(output)
    if not condition.exists():
        raise BadInput(f"{condition}: no such file or folder")
    audio = Path(config.audio) if config.audio else None
    check_output(output, inputs=[condition] + ([audio] if audio else []), overwrite=config.overwrite)
    model = LoadedModel(config.model, config.device)
    maps, count, fps, video = condition_maps(condition, model, config)
    started = time.perf_counter()
    with VideoWriter(output, fps, crf=config.crf, audio_from=audio or video) as writer, \
            frame_writer(writer.write) as sink:
        for condition_map in track(maps, count, f"generate {output.name}", config.quiet):
            sink.put(model.generate(condition_map))
    seconds = time.perf_counter() - started
    return {"output": str(output), "model": str(model.path), "frames": writer.frames_written,
            "size": list(model.size), "fps": float(fps), "seconds": round(seconds, 2),
            "frames_per_second": round(writer.frames_written / max(seconds, 1e-9), 2)}
