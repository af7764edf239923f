"""`v2v prepare`: turn videos of the target into a training set (the layout of v2vcli/data/dataset.py).

For each video (one sequence each): frames resized to the dataset size, condition maps (rendered poses,
or class ids from a segmentation backend), foreground masks (person segmentation: by default the pose
landmarker's person masks, which for a pose dataset come from the same landmarker run as the poses),
the backward optical flow between consecutive frames (DIS), and for pose datasets the target's pose
statistics (v2vcli.preprocess.normalize) that dance transfer needs. One pass per video: decoding,
the models and the PNG writes overlap; dataset.json is written last and the folder appears complete
or not at all. dataset.json records how the labels and masks were made ("segmentation", "masks"), so
`v2v generate --from segment` can segment new videos the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from v2vcli.data.layout import CONDITIONS, DATASET_VERSION
from v2vcli.errors import BadInput
from v2vcli.io.frames import FRAME_NAME, write_image
from v2vcli.io.outputs import atomic_path, check_output
from v2vcli.io.video import VideoReader, probe_video
from v2vcli.preprocess.segment import DEFAULT_BACKEND, PERSON_BACKENDS, SegmentConfig, backend_name
from v2vcli.progress import track

POSE_LABEL_CHANNELS = 3  # an RGB pose rendering
MASK_THRESHOLD = 0.5  # person probability above which a mask pixel is foreground, as the segment backends


@dataclass
class PrepareConfig:
    """What `v2v prepare` makes. size: [W, H], None keeps the first video's size (rounded down to even).
    segment_*: the segmentation for --condition segment (v2vcli.preprocess.segment SegmentConfig fields).
    pose_model: a PoseLandmarker .task file (None: looked up in weights/). masks / flow: write them.
    mask_backend: the person segmentation of the masks, "pose" (whole bodies) or "selfie" (close-ups)."""

    condition: str = "pose"
    size: list[int] | None = None
    segment_backend: str = DEFAULT_BACKEND
    segment_model: str | None = None
    segment_weights: str | None = None
    segment_threshold: float = 0.5
    pose_model: str | None = None
    masks: bool = True
    mask_backend: str = DEFAULT_BACKEND
    flow: bool = True
    flow_method: str = "dis-medium"
    overwrite: bool = False
    quiet: bool = False


def prepare_dataset(videos: list[Path], output: Path, config: PrepareConfig) -> dict:
    """Build the dataset folder `output` from `videos`; return the summary (also in dataset.json)."""
    if config.condition not in CONDITIONS:
        raise BadInput(f"unknown condition {config.condition!r}; choose one of: {', '.join(CONDITIONS)}")
    config = replace(config, segment_backend=backend_name(config.segment_backend),
                     mask_backend=backend_name(config.mask_backend))
    if config.masks and config.mask_backend not in PERSON_BACKENDS:
        raise BadInput(f"masks need a person segmentation backend ({', '.join(PERSON_BACKENDS)}), "
                       f"not {config.mask_backend!r}")
    if not videos:
        raise BadInput("name at least one video")
    infos = [probe_video(video) for video in videos]
    check_output(output, inputs=videos, overwrite=config.overwrite)
    width, height = config.size or (infos[0].width // 2 * 2, infos[0].height // 2 * 2)
    started = time.perf_counter()
    sequences, all_poses, classes = [], [], None
    with atomic_path(output) as folder:
        folder.mkdir()
        for name, video, info in zip(sequence_names(videos), videos, infos, strict=True):
            writer = SequenceWriter(folder / name, (width, height), info.fps, config)
            with writer:
                count = writer.write_all(track(resized(VideoReader(video, info=info), (width, height)),
                                               info.frame_count, f"prepare {video.name}", config.quiet))
            sequences.append({"name": name, "frames": count, "source": str(video)})
            all_poses.extend(writer.poses)
            classes = writer.classes
        meta = {
            "version": DATASET_VERSION,
            "condition": config.condition,
            "num_classes": POSE_LABEL_CHANNELS if config.condition == "pose" else len(classes),
            "size": [width, height],
            "fps": float(infos[0].fps),
            "sequences": sequences,
        }
        if config.masks:
            meta["masks"] = {"backend": config.mask_backend}
        if config.condition == "pose":
            from v2vcli.preprocess.normalize import pose_statistics

            meta["pose_stats"] = pose_statistics(all_poses)
            if not meta["pose_stats"]:
                raise BadInput("no person was found in enough frames to train on poses "
                               f"(frames with a person: {sum(p is not None for p in all_poses)} of {len(all_poses)})")
        else:
            meta["classes"] = classes
            meta["segmentation"] = {"backend": config.segment_backend, "model": located(config.segment_model),
                                    "weights": located(config.segment_weights), "threshold": config.segment_threshold}
        (folder / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    frames = sum(sequence["frames"] for sequence in sequences)
    seconds = time.perf_counter() - started
    return {"dataset": str(output), **{k: meta[k] for k in ("condition", "num_classes", "size", "sequences")},
            "frames": frames, "seconds": round(seconds, 2), "fps": round(frames / max(seconds, 1e-9), 2)}


def segment_config(config: PrepareConfig) -> SegmentConfig:
    """The segmentation of a segment dataset's labels."""
    return SegmentConfig(backend=config.segment_backend, model=config.segment_model, weights=config.segment_weights,
                         threshold=config.segment_threshold)


def located(name: str | None) -> str | None:
    """A model file or folder as an absolute path, so it is found from any folder; a hub id as it is."""
    return str(Path(name).resolve()) if name and Path(name).exists() else name


def sequence_names(videos: list[Path]) -> list[str]:
    """One folder name per video: its stem, made unique with a numeric suffix."""
    names: list[str] = []
    for video in videos:
        name, number = video.stem, 2
        while name in names or name == "dataset.json":
            name, number = f"{video.stem}_{number}", number + 1
        names.append(name)
    return names


def resized(frames, size: tuple[int, int]) -> Iterator[np.ndarray]:
    import cv2

    for frame in frames:
        if (frame.shape[1], frame.shape[0]) == size:
            yield frame
        else:
            yield cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class SequenceWriter:
    """Writes one sequence folder (frames/, labels/, masks/, flow_backward/) frame by frame."""

    def __init__(self, folder: Path, size: tuple[int, int], fps, config: PrepareConfig):
        self.folder, self.size, self.fps, self.config = folder, size, fps, config
        self.poses: list[np.ndarray | None] = []
        self.classes: list[dict] | None = None
        self._contexts: list = []

    def __enter__(self) -> SequenceWriter:
        from v2vcli.flow.compute import make_estimator, to_gray
        from v2vcli.io.background import BackgroundSink
        from v2vcli.preprocess.segment import make_backend

        for part in ("frames", "labels") + (("masks",) if self.config.masks else ()) + (
                ("flow_backward",) if self.config.flow else ()):
            (self.folder / part).mkdir(parents=True)
        self._sink = BackgroundSink(self._write)
        self._flow = make_estimator(self.config.flow_method) if self.config.flow else None
        self._to_gray = to_gray
        self._previous_gray = None
        self._pose = self._segmenter = self._masker = None
        config = self.config
        # Pose masks for a pose dataset come from the landmarker that finds the poses: one model run.
        self._pose_masks = config.masks and config.condition == "pose" and config.mask_backend == "pose"
        if config.condition == "pose":
            from v2vcli.preprocess.pose import PoseConfig, PoseEstimator

            model = Path(config.pose_model) if config.pose_model else None
            self._pose = PoseEstimator(self.fps, PoseConfig(model=model, segmentation_masks=self._pose_masks))
            self._pose.__enter__()
            self._contexts.append(self._pose)
        else:
            self._segmenter = make_backend(segment_config(config))
            self._contexts.append(self._segmenter)
            self.classes = [segment_class.to_dict() for segment_class in self._segmenter.classes]
        if config.masks and not self._pose_masks:
            if config.condition == "segment" and config.segment_backend == config.mask_backend:
                self._masker = self._segmenter  # its labels already are person (1) vs background (0)
            else:
                self._masker = make_backend(SegmentConfig(backend=config.mask_backend))
                self._contexts.append(self._masker)
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                self._sink.close()
            else:
                self._sink.abort()
        finally:
            for context in reversed(self._contexts):
                context.close()

    def write_all(self, frames) -> int:
        count = 0
        for index, frame in enumerate(frames):
            self.add(index, frame)
            count += 1
        if count == 0:
            raise BadInput(f"{self.folder.name}: the video has no frames")
        return count

    def add(self, index: int, frame: np.ndarray) -> None:
        timestamp = round(index * 1000 / float(self.fps))
        name = FRAME_NAME.format(index)
        items = [("frames", name, frame)]
        if self._pose is not None:
            from v2vcli.preprocess.render import render_pose

            found = self._pose(frame)
            keypoints = found.landmarks[0] if found is not None else None
            self.poses.append(keypoints)
            items.append(("labels", name, render_pose(keypoints, self.size)))
            segment_labels = None
            if self._pose_masks:
                person = found.segmentation > MASK_THRESHOLD if found is not None else np.zeros(frame.shape[:2])
                items.append(("masks", name, (person * 255).astype(np.uint8)))
        else:
            segment_labels = self._segmenter.labels(self._segmenter.scores(frame, timestamp))
            items.append(("labels", name, segment_labels.astype(np.uint8)))
        if self._masker is not None:
            person = segment_labels if self._masker is self._segmenter else \
                self._masker.labels(self._masker.scores(frame, timestamp))
            items.append(("masks", name, ((person > 0) * 255).astype(np.uint8)))
        if self._flow is not None:
            gray = self._to_gray(frame)
            if self._previous_gray is not None:
                # backward flow from frame i to i-1, stored under i-1 (see v2vcli/data/dataset.py)
                items.append(("flow_backward", FRAME_NAME.format(index - 1).replace(".png", ".npy"),
                              self._flow(gray, self._previous_gray)))
            self._previous_gray = gray
        self._sink.put(items)

    def _write(self, items) -> None:
        from v2vcli.flow.storage import write_flow

        for part, name, data in items:
            if part == "flow_backward":
                write_flow(self.folder / part / name, data)
            else:
                write_image(self.folder / part / name, data)
