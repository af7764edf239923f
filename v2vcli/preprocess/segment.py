"""Semantic segmentation of video frames: a registry of backends, a streaming API, and `v2v segment`.

    OUT/labels/000000.png   uint8 (H, W) class ids, one per input frame (255 = unlabeled)
    OUT/classes.json        {"backend": ..., "model": ..., "classes": [{"id", "name", "color": [r, g, b]}, ...]}
    OUT/segment.mp4         colour preview (the input's size, fps and frame count), or blended on the input;
                            not with preview=False (--no-preview)
    OUT/segment.json        the run's summary (what --json prints)

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

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.preprocess.labels import (
    FlickerMeter,
    TemporalSmoother,
    color_table,
    colorize,
    overlay,
    still_pixels,
)
from v2vcli.preprocess.segment_backends import (
    Detectron2Backend,
    PoseBackend,
    SegmentBackend,
    SelfieBackend,
    TransformersBackend,
)

BACKENDS: dict[str, type[SegmentBackend]] = {
    backend.name: backend for backend in (PoseBackend, SelfieBackend, TransformersBackend, Detectron2Backend)
}
# Older names that keep working; outputs record the name they stand for.
ALIASES = {"mediapipe": SelfieBackend.name}
DEFAULT_BACKEND = PoseBackend.name
# The backends whose labels are person (1) vs background (0): their labels are foreground masks as they are.
PERSON_BACKENDS = (PoseBackend.name, SelfieBackend.name)
LABELS_DIR = "labels"
CLASSES_NAME = "classes.json"
SUMMARY_NAME = "segment.json"
PREVIEW_NAME = "segment.mp4"
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


def segment_frames(
    frames: Iterable[np.ndarray],
    backend: SegmentBackend,
    fps: float = 30.0,
    smooth: float = 0.0,
    flicker: FlickerMeter | None = None,
    raw_flicker: FlickerMeter | None = None,
) -> Iterator[np.ndarray]:
    """Label maps uint8 (H, W) for RGB uint8 (H, W, 3) frames, one per frame, streamed.

    `fps` sets the timestamps tracking backends see. `smooth` > 0 averages class scores over time along
    the optical flow. `flicker` / `raw_flicker`, when given, measure the flicker of the labels yielded /
    of the labels before smoothing (see FlickerMeter).
    """
    import cv2

    from v2vcli.flow.compute import make_estimator

    measuring = flicker is not None or raw_flicker is not None
    estimator = make_estimator(SMOOTHING_FLOW) if smooth > 0 or measuring else None
    smoother = TemporalSmoother(smooth)
    previous_gray = previous_labels = previous_raw = None
    last_timestamp = -1
    for index, frame in enumerate(frames):
        # Tracking backends need strictly increasing integer milliseconds.
        timestamp = last_timestamp = max(round(index * 1000 / fps), last_timestamp + 1)
        scores = backend.scores(frame, timestamp)
        raw = backend.labels(scores)
        labels = raw
        flow = None
        if estimator is not None:
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            if previous_gray is not None:
                flow = estimator(gray, previous_gray)
            previous_gray = gray
        if smooth > 0:
            labels = backend.labels(smoother(scores, flow))
        if flow is not None and measuring:
            still = still_pixels(flow)
            if flicker is not None:
                flicker.add(previous_labels, labels, still)
            if raw_flicker is not None:
                raw_flicker.add(previous_raw, raw, still)
        previous_labels, previous_raw = labels, raw
        yield labels


def export_segmentation(
    video: Path | str,
    output: Path | str,
    config: SegmentConfig | None = None,
    overlay_input: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    measure_flicker: bool = False,
    preview: bool = True,
) -> dict:
    """Segment every frame of `video` into the folder `output` (layout in the module docstring).

    Decoding (a reader thread), the model (this thread) and writing (a writer thread plus the encoder)
    overlap; memory stays flat. The folder appears only when complete. `measure_flicker` adds the
    flicker rate to the summary (always measured when smoothing). `preview=False` skips segment.mp4,
    whose H.264 encoding is most of the cost beyond the model itself. Returns the summary, also
    written to OUT/segment.json.
    """
    from contextlib import nullcontext

    from v2vcli.io.background import BackgroundSink
    from v2vcli.io.frames import write_image
    from v2vcli.io.outputs import atomic_path, check_output
    from v2vcli.io.video import PREVIEW_PRESET, VideoReader, VideoWriter, probe_video
    from v2vcli.progress import track

    config = config or SegmentConfig()
    # An unknown name fails before the video is probed; an alias is recorded as what it stands for.
    config = replace(config, backend=backend_name(config.backend))
    video, output = Path(video), Path(output)
    info = probe_video(video)
    check_output(output, [video], overwrite)
    measure_flicker = measure_flicker or config.smooth > 0
    flicker, raw_flicker = (FlickerMeter(), FlickerMeter()) if measure_flicker else (None, None)
    started = time.perf_counter()
    count = 0
    class_pixels = np.zeros(256, np.int64)
    with make_backend(config) as backend, atomic_path(output) as folder:
        table = color_table(backend.classes)
        (folder / LABELS_DIR).mkdir(parents=True)
        preview_writer = VideoWriter(folder / PREVIEW_NAME, info.fps, preset=PREVIEW_PRESET) if preview else None
        with preview_writer or nullcontext() as writer:

            def write(item: tuple[int, np.ndarray, np.ndarray]) -> None:
                index, frame, labels = item
                write_image(folder / LABELS_DIR / LABEL_NAME.format(index), labels)
                class_pixels[:] += np.bincount(labels.ravel(), minlength=256)
                if writer is not None:
                    colors = colorize(labels, table)
                    writer.write(overlay(frame, colors) if overlay_input else colors)

            with BackgroundSink(write) as sink:
                frames = VideoReader(video, info=info)
                # The reader's frames are kept for the overlay; tee them through a one-item buffer.
                current: list[np.ndarray] = []

                def remember(source: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
                    for frame in source:
                        current[:] = [frame]
                        yield frame

                labelled = segment_frames(remember(frames), backend, float(info.fps), config.smooth, flicker,
                                          raw_flicker)
                for labels in track(labelled, info.frame_count, f"segment ({config.backend})", quiet):
                    sink.put((count, current[0], labels))
                    count += 1
        seconds = time.perf_counter() - started
        total = max(int(class_pixels.sum()), 1)
        summary = {
            "video": str(video),
            "output": str(output),
            **asdict(config),
            "overlay": overlay_input,
            "preview": str(output / PREVIEW_NAME) if preview else None,
            "width": info.width,
            "height": info.height,
            "frames": count,
            "label_images": count,
            "classes": [segment_class.to_dict() for segment_class in backend.classes],
            "class_fractions": {c.name: round(int(class_pixels[c.id]) / total, 4) for c in backend.classes
                                if class_pixels[c.id]},
            "seconds": round(seconds, 3),
            "fps": round(count / seconds, 2) if seconds > 0 else None,
        }
        if measure_flicker:
            summary["flicker_rate"] = _rounded(flicker.rate)
            summary["flicker_rate_unsmoothed"] = _rounded(raw_flicker.rate)
            summary["still_fraction"] = _rounded(flicker.still_fraction)
        classes = {"backend": config.backend, "model": config.model, "classes": summary["classes"]}
        (folder / CLASSES_NAME).write_text(json.dumps(classes, indent=2) + "\n")
        (folder / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 5)
