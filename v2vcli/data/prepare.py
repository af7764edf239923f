"""`v2v prepare`: turn videos of the target into a training set (the layout of v2vcli/data/dataset.py).

For each video (one sequence each): frames resized to the dataset size, condition maps (rendered poses,
or class ids from a segmentation backend), foreground masks (person segmentation: by default the pose
landmarker's person masks, which for a pose dataset come from the same landmarker run as the poses),
the backward optical flow between consecutive frames (DIS), and for pose datasets the target's pose
statistics (v2vcli.preprocess.normalize) that dance transfer needs. One pass over each video's frames:
decoding, the models and the PNG writes overlap. A pose dataset's maps draw one person (`person`: the
most prominent by default, v2vcli.preprocess.tracking), which needs the whole video's people: they are
tracked and kept (keypoints only) during that pass, smoothed and chosen after it, and their maps drawn
then. dataset.json is written last and the folder appears complete or not at all. dataset.json
records how the labels and masks were made ("segmentation", "masks", and "pose": the pose backend), so
`v2v generate --from segment` can segment new videos the same way, and each sequence's "person" (the
track id drawn).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from v2vcli.data.layout import (
    CONDITIONS,
    DATASET_FILE,
    DATASET_VERSION,
    FLOW_DIR,
    FRAMES_DIR,
    LABELS_DIR,
    MASKS_DIR,
)
from v2vcli.errors import BadInput
from v2vcli.io.frames import FRAME_NAME, write_image
from v2vcli.io.outputs import atomic_path, check_output
from v2vcli.io.video import VideoReader, probe_video
from v2vcli.preprocess.pose_backend import DEFAULT_POSE_BACKEND, pose_backend_class
from v2vcli.preprocess.segment import DEFAULT_BACKEND, SegmentConfig, backend_name, person_backends
from v2vcli.preprocess.timestamps import frame_milliseconds
from v2vcli.preprocess.tracking import parse_person
from v2vcli.progress import track
from v2vcli.results import Result, rate, write_json

POSE_LABEL_CHANNELS = 3  # an RGB pose rendering
MASK_THRESHOLD = 0.5  # person probability above which a mask pixel is foreground, as the segment backends


@dataclass
class PrepareConfig:
    """What `v2v prepare` makes. size: [W, H], None keeps the first video's size (rounded down to even).
    segment_*: the segmentation for --condition segment (v2vcli.preprocess.segment SegmentConfig fields).
    pose_backend: the pose backend of a pose dataset (v2vcli.preprocess.pose_backend). pose_model: its
    model file (None: its default one from weights/). person: whom the pose maps draw, a track id or a
    position (v2vcli.preprocess.tracking.choose_person), chosen in each video. masks / flow: write them.
    mask_backend: the person segmentation of the masks, "pose" (whole bodies: every person found) or
    "selfie" (close-ups)."""

    condition: str = "pose"
    size: list[int] | None = None
    segment_backend: str = DEFAULT_BACKEND
    segment_model: str | None = None
    segment_weights: str | None = None
    segment_threshold: float = 0.5
    pose_backend: str = DEFAULT_POSE_BACKEND
    pose_model: str | None = None
    person: str = "auto"
    masks: bool = True
    mask_backend: str = DEFAULT_BACKEND
    flow: bool = True
    flow_method: str = "dis-medium"
    overwrite: bool = False
    quiet: bool = False


@dataclass
class PrepareResult(Result):
    """What `v2v prepare` made (its --json).

    dataset: the dataset folder. condition, num_classes, size ([width, height]), sequences ([{"name",
    "frames", "source"}]): as dataset.json records them. frames: frames written, all sequences together.
    seconds: wall time. frames_per_second: frames processed a second (throughput; the videos' frame rate
    is dataset.json's "fps").
    """

    dataset: str
    condition: str
    num_classes: int
    size: list[int]
    sequences: list[dict]
    frames: int
    seconds: float
    frames_per_second: float | None


def prepare_dataset(videos: list[Path], output: Path, config: PrepareConfig) -> PrepareResult:
    """Build the dataset folder `output` from `videos`; return what it made (dataset.json has more)."""
    if config.condition not in CONDITIONS:
        raise BadInput(f"unknown condition {config.condition!r}; choose one of: {', '.join(CONDITIONS)}")
    config = replace(config, segment_backend=backend_name(config.segment_backend),
                     mask_backend=backend_name(config.mask_backend))
    if config.masks and config.mask_backend not in person_backends():
        raise BadInput(f"masks need a person segmentation backend ({', '.join(person_backends())}), "
                       f"not {config.mask_backend!r}")
    layout = pose_backend_class(config.pose_backend).layout
    parse_person(config.person)  # a bad --person fails before any work
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
            sequence = {"name": name, "frames": count, "source": str(video)}
            if config.condition == "pose":
                sequence["person"] = writer.person
            sequences.append(sequence)
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

            meta["pose"] = {"backend": config.pose_backend}
            meta["pose_stats"] = pose_statistics(all_poses, layout)
            if not meta["pose_stats"]:
                raise BadInput("no person was found in enough frames to train on poses "
                               f"(frames with a person: {sum(p is not None for p in all_poses)} of {len(all_poses)})")
        else:
            meta["classes"] = classes
            meta["segmentation"] = {"backend": config.segment_backend, "model": located(config.segment_model),
                                    "weights": located(config.segment_weights), "threshold": config.segment_threshold}
        write_json(folder / DATASET_FILE, meta)
    frames = sum(sequence["frames"] for sequence in sequences)
    seconds = time.perf_counter() - started
    return PrepareResult(dataset=str(output), condition=meta["condition"], num_classes=meta["num_classes"],
                         size=meta["size"], sequences=meta["sequences"], frames=frames, seconds=round(seconds, 2),
                         frames_per_second=rate(frames, seconds))


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
        while name in names or name == DATASET_FILE:
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
    """Writes one sequence folder (FRAMES_DIR, LABELS_DIR, MASKS_DIR, FLOW_DIR) frame by frame; a pose
    sequence's maps (LABELS_DIR) are drawn after the last frame, once the person to follow is known.

    After `write_all`: `poses`, the keypoints (K, 5) of the person drawn per frame (None where absent),
    and `person`, their track id (None when nobody was found)."""

    def __init__(self, folder: Path, size: tuple[int, int], fps, config: PrepareConfig):
        self.folder, self.size, self.fps, self.config = folder, size, fps, config
        self.poses: list[np.ndarray | None] = []
        self.person: int | None = None
        self.classes: list[dict] | None = None
        self._contexts: list = []

    def __enter__(self) -> SequenceWriter:
        from v2vcli.flow.compute import FlowToPrevious
        from v2vcli.io.background import BackgroundSink
        from v2vcli.preprocess.segment import make_backend

        for part in (FRAMES_DIR, LABELS_DIR) + ((MASKS_DIR,) if self.config.masks else ()) + (
                (FLOW_DIR,) if self.config.flow else ()):
            (self.folder / part).mkdir(parents=True)
        self._sink = BackgroundSink(self._write)
        self._flow = FlowToPrevious(self.config.flow_method) if self.config.flow else None
        self._pose = self._segmenter = self._masker = None
        config = self.config
        # Pose masks for a pose dataset come from the landmarker that finds the poses (one model run), when
        # the pose backend gives masks: the "pose" mask backend is that landmarker's.
        self._pose_masks = (config.masks and config.condition == "pose" and config.mask_backend == "pose"
                            and pose_backend_class(config.pose_backend).gives_masks)
        if config.condition == "pose":
            from v2vcli.preprocess.pose import PeopleFinder
            from v2vcli.preprocess.pose_backend import PoseConfig

            model = Path(config.pose_model) if config.pose_model else None
            pose_config = PoseConfig(backend=config.pose_backend, model=model, segmentation_masks=self._pose_masks)
            self._pose = PeopleFinder(self.fps, self.size, pose_config)
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
        if self._pose is not None:
            self._draw_poses()
        return count

    def _draw_poses(self) -> None:
        """Choose the person to follow in the whole sequence and write their pose maps (an empty map where
        they are absent)."""
        from v2vcli.preprocess.render import render_pose

        people = self._pose.people()
        self.person = people.choose(self.config.person)
        self.poses = people.person_poses(self.person)
        for index, keypoints in enumerate(track(self.poses, len(self.poses), f"draw poses {self.folder.name}",
                                                self.config.quiet)):
            rendering = render_pose(keypoints, self.size, layout=people.layout)
            self._sink.put([(LABELS_DIR, FRAME_NAME.format(index), rendering)])

    def add(self, index: int, frame: np.ndarray) -> None:
        timestamp = frame_milliseconds(index, float(self.fps))
        name = FRAME_NAME.format(index)
        items = [(FRAMES_DIR, name, frame)]
        if self._pose is not None:
            found = self._pose(frame)
            segment_labels = None
            if self._pose_masks:
                person = found.segmentation > MASK_THRESHOLD if found is not None else np.zeros(frame.shape[:2])
                items.append((MASKS_DIR, name, (person * 255).astype(np.uint8)))
        else:
            segment_labels = self._segmenter.labels(self._segmenter.scores(frame, timestamp))
            items.append((LABELS_DIR, name, segment_labels.astype(np.uint8)))
        if self._masker is not None:
            person = segment_labels if self._masker is self._segmenter else \
                self._masker.labels(self._masker.scores(frame, timestamp))
            items.append((MASKS_DIR, name, ((person > 0) * 255).astype(np.uint8)))
        if self._flow is not None and (flow := self._flow(frame)) is not None:
            # backward flow from frame i to i-1, stored under i-1 (see v2vcli/data/dataset.py)
            items.append((FLOW_DIR, FRAME_NAME.format(index - 1).replace(".png", ".npy"), flow))
        self._sink.put(items)

    def _write(self, items) -> None:
        from v2vcli.flow.storage import write_flow

        for part, name, data in items:
            if part == FLOW_DIR:
                write_flow(self.folder / part / name, data)
            else:
                write_image(self.folder / part / name, data)
