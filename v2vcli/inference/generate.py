"""`v2v generate`: condition maps -> a synthesized video, streamed frame by frame.

CONDITION is one of
  - a folder of label PNGs, as `v2v segment` (labels/) or `v2v prepare` write them;
  - a poses.json (`v2v pose`), for pose models: the keypoints are rendered as `v2v prepare` renders
    the training maps;
  - a pose.mp4 (`v2v pose`), for pose models: rendered from the poses.json beside it when that one
    matches the video (frame count and size), else read from the video itself, whose lossy H.264
    compression shifts the limb colours the model tells limbs apart by (a warning says so);
  - with `source` the model's condition type (pose, segment, edges, face: v2vcli.conditions), a raw
    video, turned into condition maps on the fly as `v2v prepare` made the model's: poses rendered,
    segmentation by the backend of `segment_backend` (by default the one the model's dataset was made
    with), edges with the video's own thresholds, face sketches with or without the edges outside the
    face as the model's dataset recorded (`face_edges` overrides).
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

from v2vcli.conditions import condition_named
from v2vcli.errors import BadInput
from v2vcli.io.encoders import check_encoder
from v2vcli.io.writers import check_video_output
from v2vcli.preprocess.pose_backend import PoseOptions
from v2vcli.progress import track
from v2vcli.results import Result, rate

if TYPE_CHECKING:
    from v2vcli.preprocess.keypoints import KeypointLayout
    from v2vcli.preprocess.segment import SegmentConfig

POSES_NAME = "poses.json"
WRITER_QUEUE = 8  # generated frames waiting for the encoder: enough to ride out its uneven pace


@dataclass
class SpeedOptions:
    """How generation runs (docs/generate.md). encoder: auto, x264 or nvenc (H.264 outputs; see
    v2vcli.io.encoders). compile: torch.compile the per-frame step. cuda_graphs: replay it as a CUDA graph
    (CUDA only; compiles it too)."""

    encoder: str = "auto"
    compile: bool = False
    cuda_graphs: bool = False


@dataclass
class GenerateConfig(PoseOptions, SpeedOptions):
    """model: a name under weights/ or a path. source: None (CONDITION already holds condition maps or
    keypoints), or the model's condition type (preprocess a raw video). fps: for a label folder (videos and
    poses.json keep theirs). segment_*: the segmentation for --from segment (v2vcli.preprocess.segment
    SegmentConfig fields); segment_backend None is the backend recorded in the model's dataset.json,
    else the default one, and then segment_model, segment_weights and segment_threshold left None come
    from that record too. pose_backend, pose_model (PoseOptions): the pose backend of --from pose and its
    model file. face_edges: --from face draws the edges outside the face (None: as the model's dataset
    did). encoder, compile, cuda_graphs: SpeedOptions."""

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
    face_edges: bool | None = None
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
    """A generator with what it needs to know of its inputs: condition type, label channels, size; and
    the pipeline that feeds it (v2vcli.inference.transfer), run as `speed` says."""

    def __init__(self, name_or_path: str, device_request: str = "auto", speed: SpeedOptions | None = None):
        from v2vcli.devices import resolve_device
        from v2vcli.inference.models import find_model
        from v2vcli.inference.sequential import SequentialGenerator
        from v2vcli.inference.transfer import FramePipeline, MapEncoder
        from v2vcli.training.checkpoint import load_generator

        self.device = resolve_device(device_request)
        self.path = find_model(name_or_path)
        generator, self.config = load_generator(self.path, self.device)
        data = self.config.data
        if not data.size or not data.condition:
            raise BadInput(f"{self.path}: the model's config lacks its condition type or size (retrain it)")
        self.condition: str = data.condition
        self.condition_type = condition_named(data.condition)
        self.size: tuple[int, int] = (int(data.size[0]), int(data.size[1]))
        self.channels = self.config.model.label_channels
        # The size the training maps were rendered at (the dataset's); older models only know their own.
        self.render_size: tuple[int, int] = tuple(data.dataset_size or self.size)
        speed = speed or SpeedOptions()
        self.sequential = SequentialGenerator(generator, self.config, self.device, compile=speed.compile,
                                              cuda_graphs=speed.cuda_graphs)
        # In flight: the writer's queue, the frame it writes, the frame being submitted.
        self.frames = FramePipeline(self.sequential, MapEncoder(self.condition_type, self.channels, self.device),
                                    depth=WRITER_QUEUE + 2)

    def generate(self, condition_map: np.ndarray):
        """One condition map at the model's size -> its transfer.Frame, whose `pixels()` are the generated
        (H, W, 3) uint8 frame. On a GPU it returns as soon as the work is queued, so the next frame's
        kernels are queued while this one is copied back and encoded (see `frame_writer`)."""
        return self.frames.submit(condition_map)

    def fit(self, condition_map: np.ndarray) -> np.ndarray:
        """Resize a condition map to the model's size as training resizes it (nearest for class ids, area
        for renderings and edges)."""
        import cv2

        from v2vcli.io.frames import fit_to_size

        return fit_to_size(condition_map, self.size, cv2.INTER_NEAREST if self.condition_type.class_ids else None)


def frame_writer(write: Callable[..., None]):
    """A BackgroundSink that hands generated frames, as (H, W, 3) uint8, to `write` on a worker thread:
    waiting for the copy to the host and the encoding overlap the generation of the next frames. Items
    are a transfer.Frame (LoadedModel.generate), or a tuple whose last element is one (the rest passed
    through). At most WRITER_QUEUE items wait (LoadedModel's pipeline depth counts on it)."""
    from v2vcli.io.background import BackgroundSink

    def handle(item) -> None:
        *context, frame = item if isinstance(item, tuple) else (item,)
        write(*context, frame.pixels())

    return BackgroundSink(handle, maxsize=WRITER_QUEUE)


def condition_maps(condition: Path, model: LoadedModel, config: GenerateConfig) -> ConditionStream:
    """The condition maps of `condition` (see the module docstring) for `model`."""
    from v2vcli.io.frames import frame_paths, read_image
    from v2vcli.io.video import VideoReader, probe_video
    from v2vcli.preprocess.pose import header_layout, read_poses

    if config.source is not None:
        condition_named(config.source)  # an unknown name fails listing the known ones
        if config.source != model.condition:
            raise BadInput(f"the model takes {model.condition} maps, not --from {config.source}")
    if condition.is_dir():
        paths = frame_paths(condition)
        maps = (model.fit(model.condition_type.check_map(read_image(path), path)) for path in paths)
        return ConditionStream(maps, len(paths), Fraction(config.fps).limit_denominator(1001), None, condition)
    if condition.suffix.lower() == ".json":
        if config.source is not None or model.condition != "pose":
            raise BadInput(f"{condition}: keypoints drive pose models only, without --from")
        header, poses = read_poses(condition)
        fps = Fraction(header.get("fps_fraction") or header["fps"]).limit_denominator(100000)
        maps = pose_maps(poses, (header["width"], header["height"]), model, header_layout(header, condition))
        return ConditionStream(maps, len(poses), fps, None, condition)
    info = probe_video(condition)
    size = (info.width, info.height)
    stream = ConditionStream(iter(()), info.frame_count, info.fps, condition, condition)
    if config.source is None:
        if model.condition != "pose":
            raise BadInput(f"{condition}: the model takes {model.condition} maps: a folder of their PNGs (as "
                           f"`v2v prepare` writes labels/), or a raw video with --from {model.condition}")
        poses_file, found, reason = matching_poses(condition, info)
        if found is not None:
            header, poses = found
            stream.maps, stream.origin = pose_maps(poses, size, model, header_layout(header, poses_file)), poses_file
            return stream
        stream.warnings.append(
            f"{condition}: reading pose maps from the video itself ({reason}): its H.264 compression shifts "
            f"the limb colours the model tells limbs apart by, so the maps differ from the ones it trained "
            f"on; give the {POSES_NAME} that `v2v pose` wrote beside it (as CONDITION, or in the video's folder)")
        stream.maps = (model.fit(frame) for frame in VideoReader(condition, info=info))
    else:
        made = model.condition_type.video_maps(condition, info, model, config)
        stream.maps, stream.segmentation = made.maps, made.segmentation
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


def pose_maps(poses: Iterable[np.ndarray | None], source_size: tuple[int, int], model: LoadedModel,
              layout: KeypointLayout) -> Iterator[np.ndarray]:
    """Keypoints found on frames of `source_size` (W, H), float (P, K, C) in `layout` or None per frame ->
    the model's pose maps, rendered as `v2v prepare` renders its training maps: at the dataset's size
    (the keypoints scaled to it), then fitted to the model's size as training resizes them."""
    from v2vcli.conditions.pose import scale_keypoints
    from v2vcli.preprocess.render import render_pose

    width, height = model.render_size
    scale = np.array([width / source_size[0], height / source_size[1]])
    for landmarks in poses:
        scaled = None if landmarks is None else scale_keypoints(landmarks, scale)
        yield model.fit(render_pose(scaled, (width, height), layout=layout))


@dataclass
class GenerateResult(Result):
    """What `v2v generate` made (its --json).

    output: the video (or frame folder). model: the model's path. condition: what the maps came from
    (a poses.json read in place of the pose.mp4 named). frames: frames written. size: [width, height].
    fps: the output's frame rate. seconds: wall time. frames_per_second: frames generated a second
    (throughput). segmentation: the SegmentConfig fields of --from segment, else None. warnings: what was
    said on stderr. encoder: the ffmpeg encoder that wrote the video (libx264, h264_nvenc, prores,
    libvpx-vp9, ...; png for a frame folder). compiled, cuda_graphs: the per-frame step was compiled /
    replayed as a CUDA graph.
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
    encoder: str | None
    compiled: bool
    cuda_graphs: bool


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
    check_encoder(config.encoder)
    model = LoadedModel(config.model, config.device, config)
    stream = condition_maps(condition, model, config)
    for warning in stream.warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with VideoWriter(output, stream.fps, crf=config.crf, audio_from=audio or stream.video,
                     encoder=config.encoder) as writer, \
            frame_writer(writer.write) as sink:
        for condition_map in track(stream.maps, stream.count, f"generate {output.name}", config.quiet):
            sink.put(model.generate(condition_map))
    seconds = time.perf_counter() - started
    return GenerateResult(output=str(output), model=str(model.path), condition=str(stream.origin),
                          frames=writer.frames_written, size=list(model.size), fps=float(stream.fps),
                          seconds=round(seconds, 2), frames_per_second=rate(writer.frames_written, seconds),
                          segmentation=stream.segmentation, warnings=stream.warnings, encoder=writer.codec,
                          compiled=model.sequential.compiled, cuda_graphs=model.sequential.cuda_graphs)
