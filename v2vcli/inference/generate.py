"""`v2v generate`: condition maps -> a synthesized video, streamed frame by frame.

CONDITION is one of
  - a folder of label PNGs, as `v2v segment` (labels/) or `v2v prepare` write them;
  - a poses.json (`v2v pose`), for pose models: the keypoints are rendered as `v2v prepare` renders
    the training maps;
  - a pose.mp4 (`v2v pose`), for pose models: rendered from the poses.json beside it when that one
    matches the video (frame count and size), else read from the video itself, whose lossy H.264
    compression shifts the limb colours the model tells limbs apart by (a warning says so);
  - with `source="pose"|"segment"`, a raw video, turned into condition maps on the fly: poses are
    rendered as `v2v prepare` renders them; segmentation uses the backend of `segment_backend`, by
    default the one the model's dataset was made with.
Output: the model's size, the input's fps and frame count, the audio of `audio` (default: the
condition video's own, if any).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.io.writers import check_video_output
from v2vcli.preprocess.pose_backend import PoseOptions
from v2vcli.progress import track
from v2vcli.results import Result, rate

if TYPE_CHECKING:
    from v2vcli.preprocess.keypoints import KeypointLayout
    from v2vcli.preprocess.segment import SegmentConfig

SOURCES = ("pose", "segment")
POSES_NAME = "poses.json"


@dataclass
class GenerateConfig(PoseOptions):
    """model: a name under weights/ or a path. source: None (CONDITION already holds condition maps or
    keypoints), "pose" or "segment" (preprocess a raw video). fps: for a label folder (videos and
    poses.json keep theirs). segment_*: the segmentation for --from segment (v2vcli.preprocess.segment
    SegmentConfig fields); segment_backend None is the backend recorded in the model's dataset.json,
    else the default one, and then segment_model, segment_weights and segment_threshold left None come
    from that record too. pose_backend, pose_model (PoseOptions): the pose backend of --from pose and its
    model file."""

    model: str = "demo"
    source: str | None = None
    audio: str | None = None
    device: str = "auto"
    fps: float = 24.0
    segment_backend: str | None = None
    segment_model: str | None = None
    segment_weights: str | None = None
    segment_threshold: float | None = None
    segment_smooth: float = 0.0
    crf: int = 18
    overwrite: bool = False
    quiet: bool = False


@dataclass
class ConditionStream:
    """Condition maps at the model's size, with what they come from.

    maps: iterator of (H, W, 3) uint8 renderings or (H, W) uint8 class ids. count, fps: of the output.
    video: the video whose audio goes on the result by default, or None. origin: the file or folder the
    maps come from (a poses.json read in place of the pose.mp4 named). segmentation: the SegmentConfig
    of --from segment, else None. warnings: said once on stderr.
    """

    maps: Iterator[np.ndarray]
    count: int
    fps: Fraction
    video: Path | None
    origin: Path
    segmentation: SegmentConfig | None = None
    warnings: list[str] = field(default_factory=list)


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
        # The size the training maps were rendered at (the dataset's); older models only know their own.
        self.render_size: tuple[int, int] = tuple(data.dataset_size or self.size)
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


def condition_maps(condition: Path, model: LoadedModel, config: GenerateConfig) -> ConditionStream:
    """The condition maps of `condition` (see the module docstring) for `model`."""
    from v2vcli.io.frames import frame_paths, read_image
    from v2vcli.io.video import VideoReader, probe_video
    from v2vcli.preprocess.pose import header_layout, read_poses
    from v2vcli.preprocess.pose_backend import pose_backend_class

    if config.source is not None and config.source not in SOURCES:
        raise BadInput(f"--from {config.source!r}: choose one of {', '.join(SOURCES)}")
    if config.source is not None and config.source != model.condition:
        raise BadInput(f"the model takes {model.condition} maps, not --from {config.source}")
    if condition.is_dir():
        paths = frame_paths(condition)
        maps = (model.fit(check_map(read_image(path), model, path)) for path in paths)
        return ConditionStream(maps, len(paths), Fraction(config.fps).limit_denominator(1001), None, condition)
    if condition.suffix.lower() == ".json":
        if config.source is not None or model.condition != "pose":
            raise BadInput(f"{condition}: keypoints drive pose models only, without --from")
        header, poses = read_poses(condition)
        fps = Fraction(header.get("fps_fraction") or header["fps"]).limit_denominator(100000)
        maps = pose_maps(poses, (header["width"], header["height"]), model, header_layout(header, condition))
        return ConditionStream(maps, len(poses), fps, None, condition)
    info = probe_video(condition)
    reader, size = VideoReader(condition, info=info), (info.width, info.height)
    stream = ConditionStream(iter(()), info.frame_count, info.fps, condition, condition)
    if config.source is None:
        if model.condition == "segment":
            raise BadInput(f"{condition}: a segment model takes a folder of label PNGs (as `v2v segment` writes "
                           "labels/), or a raw video with --from segment")
        poses_file, found, reason = matching_poses(condition, info)
        if found is not None:
            header, poses = found
            stream.maps, stream.origin = pose_maps(poses, size, model, header_layout(header, poses_file)), poses_file
            return stream
        stream.warnings.append(
            f"{condition}: reading pose maps from the video itself ({reason}): its H.264 compression shifts "
            f"the limb colours the model tells limbs apart by, so the maps differ from the ones it trained "
            f"on; give the {POSES_NAME} that `v2v pose` wrote beside it (as CONDITION, or in the video's folder)")
        stream.maps = (model.fit(frame) for frame in reader)
    elif config.source == "pose":
        from v2vcli.preprocess.pose import find_people

        estimation = config.pose_config()
        layout = pose_backend_class(estimation.backend).layout
        people = find_people(reader, info.fps, estimation)
        followed = people.person_poses(people.choose(config.person))
        stream.maps = pose_maps((None if pose is None else pose[None] for pose in followed), size, model, layout)
    else:
        stream.segmentation = segmentation_settings(config, model)
        stream.maps = segmented(reader, info.fps, stream.segmentation, model)
    return stream


def matching_poses(video: Path, info) -> tuple[Path, tuple[dict, list[np.ndarray | None]] | None, str]:
    """(the poses.json beside `video`, its (header, frames) when it describes the video's frames (count
    and size) else None, why not)."""
    from v2vcli.preprocess.pose import read_poses

    path = video.parent / POSES_NAME
    if not path.is_file():
        return path, None, f"no {POSES_NAME} beside it"
    try:
        header, poses = read_poses(path)
    except BadInput as error:
        return path, None, str(error)
    width, height = header.get("width"), header.get("height")
    if (width, height) != (info.width, info.height) or len(poses) != info.frame_count:
        return path, None, (f"{path} describes {len(poses)} frames of {width}x{height}, "
                            f"the video has {info.frame_count} of {info.width}x{info.height}")
    return path, (header, poses), ""


def check_map(condition_map: np.ndarray, model: LoadedModel, path: Path) -> np.ndarray:
    if model.condition == "segment" and condition_map.ndim != 2:
        raise BadInput(f"{path}: a segment model needs single-channel class-id images")
    if model.condition == "pose" and condition_map.ndim != 3:
        raise BadInput(f"{path}: a pose model needs RGB pose renderings")
    return condition_map


def pose_maps(poses: Iterable[np.ndarray | None], source_size: tuple[int, int], model: LoadedModel,
              layout: KeypointLayout) -> Iterator[np.ndarray]:
    """Keypoints found on frames of `source_size` (W, H), float (P, K, C) in `layout` or None per frame ->
    the model's pose maps, rendered as `v2v prepare` renders its training maps: at the dataset's size
    (the keypoints scaled to it), then fitted to the model's size as training resizes them."""
    from v2vcli.preprocess.render import render_pose

    width, height = model.render_size
    scale = np.array([width / source_size[0], height / source_size[1]])
    for landmarks in poses:
        scaled = None
        if landmarks is not None:
            scaled = np.array(landmarks, dtype=np.float64)
            scaled[..., :2] *= scale
        yield model.fit(render_pose(scaled, (width, height), layout=layout))


def segmentation_settings(config: GenerateConfig, model: LoadedModel) -> SegmentConfig:
    """The SegmentConfig for --from segment: the options given, the rest from the model's dataset.json
    record of how its labels were made (when that dataset is still where training read it), else the
    defaults. BadInput for an unknown backend name."""
    from v2vcli.preprocess.segment import DEFAULT_BACKEND, SegmentConfig, backend_name

    recorded = trained_segmentation(model)
    backend = backend_name(config.segment_backend or recorded.get("backend") or DEFAULT_BACKEND)
    # The recorded model and weights belong to the recorded backend only.
    same = recorded if recorded.get("backend") == backend else {}
    threshold = config.segment_threshold
    if threshold is None:
        threshold = same.get("threshold", SegmentConfig.threshold)
    return SegmentConfig(backend=backend, model=config.segment_model or same.get("model"),
                         weights=config.segment_weights or same.get("weights"), threshold=threshold,
                         smooth=config.segment_smooth, device=config.device)


def trained_segmentation(model: LoadedModel) -> dict:
    """The segmentation settings ({backend, model, weights, threshold}) that made the labels the model
    was trained on, as its config recorded them; {} for a model that has no record."""
    return model.config.data.segmentation or {}


def segmented(frames: Iterable[np.ndarray], fps: Fraction, settings: SegmentConfig, model: LoadedModel
              ) -> Iterator[np.ndarray]:
    """Class-id maps of `frames` by the segmentation `settings` (a SegmentConfig), at the model's size."""
    from v2vcli.preprocess.segment import make_backend, segment_frames

    with make_backend(settings) as backend:
        classes = model.config.data.num_classes
        if classes is not None and len(backend.classes) != classes:
            raise BadInput(f"the {settings.backend} backend labels {len(backend.classes)} classes, the model "
                           f"takes {classes}: pass the --backend and --segment-model its dataset was made with")
        for labels in segment_frames(frames, backend, fps=float(fps), smooth=settings.smooth):
            yield model.fit(labels)


@dataclass
class GenerateResult(Result):
    """What `v2v generate` made (its --json).

    output: the video (or frame folder). model: the model's path. condition: what the maps came from
    (a poses.json read in place of the pose.mp4 named). frames: frames written. size: [width, height].
    fps: the output's frame rate. seconds: wall time. frames_per_second: frames generated a second
    (throughput). segmentation: the SegmentConfig fields of --from segment, else None. warnings: what was
    said on stderr.
    """

    output: str
    model: str
    condition: str
    frames: int
    size: list[int]
    fps: float
    seconds: float
    frames_per_second: float | None
    segmentation: SegmentConfig | None
    warnings: list[str]


def generate_video(condition: Path, output: Path, config: GenerateConfig) -> GenerateResult:
    """Generate `output` from `condition` (see the module docstring)."""
    from v2vcli.io.video import VideoWriter

    if config.source == "pose":
        config.pose_config()  # an unknown pose backend fails before the model loads
    condition, output = Path(condition), Path(output)
    if not condition.exists():
        raise BadInput(f"{condition}: no such file or folder")
    audio = Path(config.audio) if config.audio else None
    check_video_output(output, inputs=[condition] + ([audio] if audio else []), overwrite=config.overwrite)
    model = LoadedModel(config.model, config.device)
    stream = condition_maps(condition, model, config)
    for warning in stream.warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with VideoWriter(output, stream.fps, crf=config.crf, audio_from=audio or stream.video) as writer, \
            frame_writer(writer.write) as sink:
        for condition_map in track(stream.maps, stream.count, f"generate {output.name}", config.quiet):
            sink.put(model.generate(condition_map))
    seconds = time.perf_counter() - started
    return GenerateResult(output=str(output), model=str(model.path), condition=str(stream.origin),
                          frames=writer.frames_written, size=list(model.size), fps=float(stream.fps),
                          seconds=round(seconds, 2), frames_per_second=rate(writer.frames_written, seconds),
                          segmentation=stream.segmentation, warnings=stream.warnings)
