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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from v2vcli.conditions import condition_named
from v2vcli.data.layout import (
    DATASET_FILE,
    DATASET_VERSION,
    FLOW_DIR,
    FRAMES_DIR,
    LABELS_DIR,
    MASKS_DIR,
    preset_size,
)
from v2vcli.errors import BadInput
from v2vcli.flow.storage import COMPACT_FIELD_NAME
from v2vcli.io.frames import FRAME_NAME, fit_to_size, write_image
from v2vcli.io.outputs import atomic_path, check_output
from v2vcli.io.video import VideoInfo, VideoReader, probe_video
from v2vcli.preprocess.pose_backend import DEFAULT_POSE_BACKEND, pose_backend_class
from v2vcli.preprocess.segment import DEFAULT_BACKEND, SegmentConfig, backend_name, person_backends
from v2vcli.preprocess.timestamps import frame_milliseconds
from v2vcli.preprocess.tracking import parse_person
from v2vcli.progress import track
from v2vcli.results import Result, rate, write_json


@dataclass
class PrepareConfig:
    """What `v2v prepare` makes. size: [W, H]; None: the size `v2v train --preset preset` trains the first
    video at (its size fitted to the preset's longest side, never enlarged, aspect kept, each side rounded
    down to the multiple the preset's generator needs: v2vcli.data.layout.preset_size).
    segment_*: the segmentation for --condition segment (v2vcli.preprocess.segment SegmentConfig fields).
    pose_backend: the pose backend of a pose dataset (v2vcli.preprocess.pose_backend). pose_model: its
    model file (None: its default one from weights/). person: whom the pose maps draw, a track id or a
    position (v2vcli.preprocess.tracking.choose_person), chosen in each video. masks / flow: write them.
    mask_backend: the person segmentation of the masks, "pose" (whole bodies: every person found) or
    "selfie" (close-ups). face_edges: a face dataset's maps also draw the Canny edges outside the face
    (v2vcli.conditions.face says why they are on by default)."""

    condition: str = "pose"
    size: list[int] | None = None
    preset: str = "base"
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
    face_edges: bool = True
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


def prepare_dataset(videos: list[Path], output: Path, config: PrepareConfig, workers: int | None = 1) -> PrepareResult:
    """Build the dataset folder `output` from `videos`; return what it made (dataset.json has more).

    Several videos are prepared in `workers` processes (None: one per CPU core, v2vcli.batch), each
    writing its sequence folder; the pose statistics are then taken over all of them. A video that fails
    lets the others finish, so that every bad one is named at once (BatchFailed), and the dataset is not
    written."""
    condition = condition_named(config.condition)  # an unknown name fails here, listing the known ones
    config = replace(config, segment_backend=backend_name(config.segment_backend),
                     mask_backend=backend_name(config.mask_backend))
    if config.masks and config.mask_backend not in person_backends():
        raise BadInput(f"masks need a person segmentation backend ({', '.join(person_backends())}), "
                       f"not {config.mask_backend!r}")
    pose_backend_class(config.pose_backend)  # a bad --pose-backend fails before any work
    parse_person(config.person)  # a bad --person fails before any work
    if not videos:
        raise BadInput("name at least one video")
    infos = probe_videos(videos, f"{output} was not written")
    check_output(output, inputs=videos, overwrite=config.overwrite)
    width, height = config.size or preset_size((infos[0].width, infos[0].height), config.preset)
    started = time.perf_counter()
    sequences, all_poses, classes = [], [], None
    with atomic_path(output) as folder:
        folder.mkdir()
        jobs = [(folder / name, video, info, (width, height), config)
                for name, video, info in zip(sequence_names(videos), videos, infos, strict=True)]
        for prepared in prepare_sequences(jobs, workers, config.quiet, f"{output} was not written"):
            sequences.append(prepared.sequence)
            all_poses.extend(prepared.poses)
            classes = prepared.classes
        meta = {
            "version": DATASET_VERSION,
            "condition": config.condition,
            "size": [width, height],
            "fps": float(infos[0].fps),
            "sequences": sequences,
        }
        if config.masks:
            meta["masks"] = {"backend": config.mask_backend}
        meta.update(condition.dataset_record(config, classes, all_poses))
        write_json(folder / DATASET_FILE, meta)
    frames = sum(sequence["frames"] for sequence in sequences)
    seconds = time.perf_counter() - started
    return PrepareResult(dataset=str(output), condition=meta["condition"], num_classes=meta["num_classes"],
                         size=meta["size"], sequences=meta["sequences"], frames=frames, seconds=round(seconds, 2),
                         frames_per_second=rate(frames, seconds))


@dataclass
class PreparedSequence:
    """One video's part of a dataset, as `prepare_sequence` returns it. sequence: its dataset.json entry
    ({"name", "frames", "source"}, and "person" for pose). poses: the keypoints (K, 5) of the person drawn
    per frame (None where absent; empty for segment). classes: the segmentation's classes (segment only)."""

    sequence: dict
    poses: list[np.ndarray | None]
    classes: list[dict] | None


def prepare_sequence(folder: Path, video: Path, info: VideoInfo, size: tuple[int, int],
                     config: PrepareConfig) -> PreparedSequence:
    """Write the sequence folder `folder` from `video` at `size` (W, H): one video's work, run in a worker
    process when several videos are prepared at once."""
    writer = SequenceWriter(folder, size, info.fps, config)
    with writer:
        count = writer.write_all(track(VideoReader(video, info=info), info.frame_count, f"prepare {video.name}",
                                       config.quiet))
    sequence = {"name": folder.name, "frames": count, "source": str(video)}
    if config.condition == "pose":
        sequence["person"] = writer.person
    return PreparedSequence(sequence, writer.poses, writer.classes)


def probe_videos(videos: list[Path], consequence: str) -> list[VideoInfo]:
    """Each video's VideoInfo, before any work; with several videos, BatchFailed names every unreadable one."""
    from v2vcli.batch import BatchFailed, failure_of

    if len(videos) == 1:
        return [probe_video(videos[0])]
    infos, failures = [], []
    for video in videos:
        try:
            infos.append(probe_video(video))
        except (BadInput, OSError) as error:
            failures.append(failure_of(str(video), error))
    if failures:
        raise BatchFailed(failures, len(videos), consequence)
    return infos


def prepare_sequences(jobs: list[tuple], workers: int | None, quiet: bool, consequence: str) -> list[PreparedSequence]:
    """`prepare_sequence(*job)` for each job, in order. One video runs here, its error raised as it is;
    several run in `workers` processes, and BatchFailed (with `consequence`) names every one that failed."""
    from v2vcli.batch import BatchFailed, Call, Failure, run_calls

    if len(jobs) == 1:
        return [prepare_sequence(*jobs[0])]
    outcomes = run_calls([Call(str(job[1]), prepare_sequence, job) for job in jobs], workers, quiet)
    failures = [outcome for outcome in outcomes if isinstance(outcome, Failure)]
    if failures:
        raise BatchFailed(failures, len(jobs), consequence)
    return outcomes


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


class SequenceWriter:
    """Writes one sequence folder (FRAMES_DIR, LABELS_DIR, MASKS_DIR, FLOW_DIR) frame by frame; the maps
    (LABELS_DIR) come from the condition type's MapMaker (v2vcli.conditions): as the frames come, or after
    the last one (a pose sequence's, once the person to follow is known; edge maps, once the video's
    thresholds are).

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
        for part in (FRAMES_DIR, LABELS_DIR) + ((MASKS_DIR,) if self.config.masks else ()) + (
                (FLOW_DIR,) if self.config.flow else ()):
            (self.folder / part).mkdir(parents=True)
        self._sink = BackgroundSink(self._write)
        self._flow = FlowToPrevious(self.config.flow_method) if self.config.flow else None
        config = self.config
        self._maker = condition_named(config.condition).map_maker(config, self.size, self.fps)
        self._contexts.append(self._maker)
        self.classes = self._maker.classes
        self._masker = None
        if config.masks and not self._maker.gives_masks:
            from v2vcli.preprocess.segment import make_backend

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
        """Write every frame of `frames` (RGB uint8 (H, W, 3) as decoded, resized here); the number written."""
        count = 0
        for index, frame in enumerate(frames):
            self.add(index, frame)
            count += 1
        if count == 0:
            raise BadInput(f"{self.folder.name}: the video has no frames")
        if self._maker.deferred:
            self._draw_maps(count)
        return count

    def _draw_maps(self, count: int) -> None:
        """Write the maps the MapMaker makes after the last frame (for pose: the person it chose, with their
        keypoints in `poses`); the frames are on disk first, for makers that read them back."""
        from v2vcli.io.background import BackgroundSink
        from v2vcli.io.frames import read_image

        self._sink.close()
        self._sink = BackgroundSink(self._write)

        def frames():
            return (read_image(self.folder / FRAMES_DIR / FRAME_NAME.format(index)) for index in range(count))

        maps = track(self._maker.finish(frames), count, f"draw {self.config.condition} maps {self.folder.name}",
                     self.config.quiet)
        for index, condition_map in enumerate(maps):
            self._sink.put([(LABELS_DIR, FRAME_NAME.format(index), condition_map)])
        self.poses, self.person = self._maker.poses, self._maker.person

    def add(self, index: int, source: np.ndarray) -> None:
        name = FRAME_NAME.format(index)
        frame = fit_to_size(source, self.size)
        items = [(FRAMES_DIR, name, frame)]
        # Keypoints are found on the decoded frame: a person a few dozen pixels tall at a small training
        # size is still found there, and their keypoints are scaled to the dataset's size.
        condition_map, person = self._maker.add(index, source if self._maker.reads_source else frame)
        if condition_map is not None:
            items.append((LABELS_DIR, name, condition_map))
        if self._masker is not None:
            person = self._masker.labels(self._masker.scores(frame, frame_milliseconds(index, float(self.fps)))) > 0
        if person is not None:
            items.append((MASKS_DIR, name, person.astype(np.uint8) * 255))
        if self._flow is not None and (flow := self._flow(frame)) is not None:
            # backward flow from frame i to i-1, stored under i-1 (see v2vcli/data/dataset.py)
            items.append((FLOW_DIR, COMPACT_FIELD_NAME.format(index - 1), flow))
        self._sink.put(items)

    def _write(self, items) -> None:
        from v2vcli.flow.storage import write_compact_flow

        for part, name, data in items:
            if part == FLOW_DIR:
                write_compact_flow(self.folder / part / name, data)
            else:
                write_image(self.folder / part / name, data)
