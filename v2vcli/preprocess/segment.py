"""Semantic segmentation of video frames: a registry of backends, a streaming API, and `v2v segment`.

    OUT/labels/000000.png   uint8 (H, W) class ids, one per input frame (255 = unlabeled)
    OUT/classes.json        {"backend": ..., "model": ..., "classes": [{"id", "name", "color": [r, g, b]}, ...]}
    OUT/segment.mp4         colour preview (the input's size, fps and frame count), or blended on the input;
                            not with preview=False (--no-preview); another format with preview_format
                            (segment.mkv, .mov, .webm, or OUT/preview/000000.png, ...: v2vcli.export)
    OUT/segment.json        the run's result (SegmentResult, what --json prints)

Backends (pose and selfie run offline; the others are optional extras):
    pose        person vs background, the person masks of mediapipe's pose landmarker
                (weights/pose_landmarker_full.task): the default, right for whole bodies at any distance
    selfie      person vs background, mediapipe's selfie segmentation model
                (weights/selfie_segmentation.tflite): for a face and shoulders close to the camera;
                `mediapipe` is its older name
    segformer   any transformers semantic/universal segmentation model (SegFormer, Mask2Former, ...)
    detectron2  a detectron2 semantic or panoptic predictor (config + weights)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from v2vcli.data.layout import LABELS_DIR
from v2vcli.errors import BadInput
from v2vcli.export import DEFAULT_PREVIEW_FORMAT, ExportRun, FrameExport
from v2vcli.io.probe import VideoInfo
from v2vcli.preprocess import segformer  # noqa: F401  (defining its backend class registers it)
from v2vcli.preprocess.labels import (
    FlickerMeter,
    TemporalSmoother,
    color_table,
    colorize,
    overlay,
    still_pixels,
)
from v2vcli.preprocess.segment_backends import (
    SEGMENT_ALIASES,
    SEGMENT_BACKENDS,
    PoseMaskBackend,
    SegmentBackend,
)
from v2vcli.preprocess.timestamps import frame_milliseconds
from v2vcli.results import Result, rate, write_json

# name -> backend class and older name -> name, as the backend classes declare them (segment_backends.py).
BACKENDS = SEGMENT_BACKENDS
ALIASES = SEGMENT_ALIASES
DEFAULT_BACKEND = PoseMaskBackend.name
CLASSES_NAME = "classes.json"
SUMMARY_NAME = "segment.json"
PREVIEW_STEM = "segment"
LABEL_NAME = "{:06d}.png"
# The flow behind smoothing and the flicker measure: still/moving and warping need little accuracy.
SMOOTHING_FLOW = "dis-fast"


@dataclass
class SegmentConfig:
    """What `v2v segment` runs.

    backend: a BACKENDS name (or one of ALIASES). model: pose .task file, selfie .tflite file,
    transformers folder or hub id, or detectron2 config file. weights: detectron2 weights file.
    threshold: pose/selfie person probability (0..1). smooth: temporal smoothing strength in [0, 1),
    0 = off. device: auto, cpu, cuda or cuda:N.
    """

    backend: str = DEFAULT_BACKEND
    model: str | None = None
    weights: str | None = None
    threshold: float = 0.5
    smooth: float = 0.0
    device: str = "auto"


def backends_help() -> str:
    """The backends for help texts: each name with its summary, and its older names."""
    described = []
    for name, backend in BACKENDS.items():
        older = "".join(f"; {alias!r} is its older name" for alias in backend.aliases)
        described.append(f"{name} ({backend.summary}{older})")
    return ", ".join(described[:-1]) + " or " + described[-1]


def person_backends() -> tuple[str, ...]:
    """The backends whose labels are person (1) vs background (0): their labels are foreground masks."""
    return tuple(name for name, backend in BACKENDS.items() if backend.person)


def backend_name(name: str) -> str:
    """The BACKENDS name `name` stands for (itself, or what an alias means); BadInput listing the valid
    names for an unknown one."""
    name = ALIASES.get(name, name)
    if name not in BACKENDS:
        raise BadInput(f"unknown segmentation backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    return name


def make_backend(config: SegmentConfig) -> SegmentBackend:
    """Build the backend `config.backend` names; BadInput listing the valid names for an unknown one."""
    backend = BACKENDS[backend_name(config.backend)]
    if not 0.0 <= config.smooth < 1.0:
        raise BadInput(f"smoothing strength must be in [0, 1), not {config.smooth}")
    return backend(model=config.model, weights=config.weights, threshold=config.threshold, device=config.device)


class Labeller:
    """Label maps for the frames of one video, fed in order: `labeller(frame) -> uint8 (H, W)`.

    `fps` sets the timestamps tracking backends see. `smooth` > 0 averages class scores over time along
    the optical flow. `flicker` / `raw_flicker`, when given, measure the flicker of the labels returned /
    of the labels before smoothing (see FlickerMeter).
    """

    def __init__(self, backend: SegmentBackend, fps: float = 30.0, smooth: float = 0.0,
                 flicker: FlickerMeter | None = None, raw_flicker: FlickerMeter | None = None):
        from v2vcli.flow.compute import FlowToPrevious

        self.backend, self.fps, self.flicker, self.raw_flicker = backend, fps, flicker, raw_flicker
        self.measuring = flicker is not None or raw_flicker is not None
        self.smooth = smooth
        self._flow = FlowToPrevious(SMOOTHING_FLOW) if smooth > 0 or self.measuring else None
        self._smoother = TemporalSmoother(smooth)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (labels, raw labels) of the last frame
        self.index = 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        scores = self.backend.scores(frame, frame_milliseconds(self.index, self.fps))
        self.index += 1
        raw = labels = self.backend.labels(scores)
        flow = self._flow(frame) if self._flow is not None else None
        if self.smooth > 0:
            labels = self.backend.labels(self._smoother(scores, flow))
        if flow is not None and self.measuring:
            still = still_pixels(flow)
            previous_labels, previous_raw = self._previous
            if self.flicker is not None:
                self.flicker.add(previous_labels, labels, still)
            if self.raw_flicker is not None:
                self.raw_flicker.add(previous_raw, raw, still)
        self._previous = labels, raw
        return labels


def segment_frames(
    frames: Iterable[np.ndarray],
    backend: SegmentBackend,
    fps: float = 30.0,
    smooth: float = 0.0,
    flicker: FlickerMeter | None = None,
    raw_flicker: FlickerMeter | None = None,
) -> Iterator[np.ndarray]:
    """Label maps uint8 (H, W) for RGB uint8 (H, W, 3) frames, one per frame, streamed (see Labeller)."""
    labeller = Labeller(backend, fps, smooth, flicker, raw_flicker)
    for frame in frames:
        yield labeller(frame)


@dataclass
class SegmentResult(Result):
    """What `v2v segment` made (its --json, also OUT/segment.json).

    video, output: the input and the output folder. backend, model, weights, threshold, smooth, device:
    the segmentation (SegmentConfig; an older backend name recorded as the one it stands for).
    overlay: the preview is blended on the input. preview: its path, None without one. width, height:
    the frames' size. frames, label_images: frames read, label maps written (the same). classes: [{"id",
    "name", "color"}]. class_fractions: class name -> share of all labelled pixels (classes present only).
    seconds: wall time, model loading included. frames_per_second: frames processed a second
    (throughput). flicker_rate, flicker_rate_unsmoothed, still_fraction: see FlickerMeter; None unless
    measured (with --json or smoothing).
    """

    video: str
    output: str
    backend: str
    model: str | None
    weights: str | None
    threshold: float
    smooth: float
    device: str
    overlay: bool
    preview: str | None
    width: int
    height: int
    frames: int
    label_images: int
    classes: list[dict]
    class_fractions: dict[str, float]
    seconds: float
    frames_per_second: float | None
    flicker_rate: float | None = None
    flicker_rate_unsmoothed: float | None = None
    still_fraction: float | None = None


class SegmentExport(FrameExport):
    """`v2v segment` on the export skeleton: label PNGs, classes.json, the colour preview, segment.json."""

    preview_stem = PREVIEW_STEM

    def __init__(self, video: Path | str, output: Path | str, config: SegmentConfig, overlay_input: bool = False,
                 measure_flicker: bool = False, **options):
        # An unknown name fails before the video is probed; an alias is recorded as what it stands for.
        self.config = replace(config, backend=backend_name(config.backend))
        super().__init__(video, output, **options)
        self.label = f"segment ({self.config.backend})"
        self.overlay = overlay_input
        self.measure_flicker = measure_flicker or config.smooth > 0
        self.flicker, self.raw_flicker = (FlickerMeter(), FlickerMeter()) if self.measure_flicker else (None, None)
        self.class_pixels = np.zeros(256, np.int64)

    def open(self, folder: Path, info: VideoInfo, stack: ExitStack) -> None:
        self.backend = stack.enter_context(make_backend(self.config))
        self.table = color_table(self.backend.classes)
        self.folder = folder
        (folder / LABELS_DIR).mkdir()
        self.labeller = Labeller(self.backend, float(info.fps), self.config.smooth, self.flicker, self.raw_flicker)

    def items(self, frames: Iterator[np.ndarray]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        for index, frame in enumerate(frames):
            yield index, frame, self.labeller(frame)

    def write(self, item: tuple[int, np.ndarray, np.ndarray]) -> None:
        from v2vcli.io.frames import write_image

        index, _, labels = item
        write_image(self.folder / LABELS_DIR / LABEL_NAME.format(index), labels)
        self.class_pixels += np.bincount(labels.ravel(), minlength=256)

    def preview_frame(self, item: tuple[int, np.ndarray, np.ndarray]) -> np.ndarray:
        _, frame, labels = item
        colors = colorize(labels, self.table)
        return overlay(frame, colors) if self.overlay else colors

    def finish(self, folder: Path, run: ExportRun) -> SegmentResult:
        total = max(int(self.class_pixels.sum()), 1)
        classes = [segment_class.to_dict() for segment_class in self.backend.classes]
        result = SegmentResult(
            video=str(self.video), output=str(self.output), **asdict(self.config), overlay=self.overlay,
            preview=str(run.preview) if run.preview else None, width=run.info.width, height=run.info.height,
            frames=run.items, label_images=run.items, classes=classes,
            class_fractions={c.name: round(int(self.class_pixels[c.id]) / total, 4) for c in self.backend.classes
                             if self.class_pixels[c.id]},
            seconds=round(run.seconds, 3), frames_per_second=rate(run.items, run.seconds),
        )
        if self.measure_flicker:
            result.flicker_rate = _rounded(self.flicker.rate)
            result.flicker_rate_unsmoothed = _rounded(self.raw_flicker.rate)
            result.still_fraction = _rounded(self.flicker.still_fraction)
        write_json(folder / CLASSES_NAME, {"backend": self.config.backend, "model": self.config.model,
                                           "classes": classes})
        write_json(folder / SUMMARY_NAME, result)
        return result


def export_segmentation(
    video: Path | str,
    output: Path | str,
    config: SegmentConfig | None = None,
    overlay_input: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    measure_flicker: bool = False,
    preview: bool = True,
    preview_format: str = DEFAULT_PREVIEW_FORMAT,
) -> SegmentResult:
    """Segment every frame of `video` into the folder `output` (layout in the module docstring).

    Decoding (a reader thread), the model (this thread) and writing (a writer thread plus the encoder)
    overlap; memory stays flat. The folder appears only when complete. `measure_flicker` adds the
    flicker rate to the result (always measured when smoothing). `preview=False` skips the preview,
    whose encoding is most of the cost beyond the model itself; `preview_format` chooses its format
    (v2vcli.export). Returns the result, also written to OUT/segment.json.
    """
    return SegmentExport(video, output, config or SegmentConfig(), overlay_input, measure_flicker,
                         preview_format=preview_format if preview else None, overwrite=overwrite, quiet=quiet).run()


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 5)
