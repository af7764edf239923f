"""`v2v dance`: the source's moves, the target's appearance, the source's audio.

Two passes over the source video, streamed: the first finds its people (the pose backend's keypoints,
33 a person and frame with mediapipe, kept in memory: a few hundred bytes each), tracks them, smooths
each one's keypoints without lag and chooses the one to follow (`--person`, the most prominent by
default), so the normalization sees the whole range of that person's positions; the second normalizes
each of their poses to the target's body (v2vcli.preprocess.normalize, with the statistics saved at
prepare/train time), renders it as in training, generates the frame and writes it.

Frames where the person followed is absent: the last normalized pose is held; before their first pose,
the frame is generated from a blank (no-person) rendering.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.inference.generate import SpeedOptions
from v2vcli.io.encoders import check_encoder
from v2vcli.io.writers import check_video_output
from v2vcli.preprocess.pose_backend import PoseConfig, PoseOptions, pose_backend_class
from v2vcli.preprocess.tracking import parse_person
from v2vcli.progress import track
from v2vcli.results import Result, rate


@dataclass
class DanceConfig(PoseOptions, SpeedOptions):
    """target: the model (name or path). side_by_side: write source | pose | result. pose_backend,
    pose_model, person (PoseOptions): the pose backend that finds the source's poses, its model file, and
    the person of the source to follow. encoder, compile, cuda_graphs: v2vcli.inference.generate
    SpeedOptions."""

    target: str = "demo"
    device: str = "auto"
    side_by_side: bool = False
    crf: int = 18
    overwrite: bool = False
    quiet: bool = False


@dataclass
class DanceResult(Result):
    """What `v2v dance` made (its --json).

    output: the video. model: the target model's path. frames: frames written. frames_with_person:
    source frames where the person followed has a pose. person: their track id in the source (as `v2v
    pose` on the source numbers them). fps: the output's frame rate (the source's). has_audio: the
    source's audio is on it. size: the generated frames' [width, height]. seconds: wall time, both
    passes. frames_per_second: frames made a second (throughput). encoder, compiled, cuda_graphs: as
    GenerateResult's.
    """

    output: str
    model: str
    frames: int
    frames_with_person: int
    person: int | None
    fps: float
    has_audio: bool
    size: list[int]
    seconds: float
    frames_per_second: float | None
    encoder: str | None
    compiled: bool
    cuda_graphs: bool


def source_poses(source: Path, info, config: PoseConfig, person: str | int = "auto",
                 quiet: bool = False) -> tuple[list[np.ndarray | None], int | None]:
    """(the keypoints (K, 5) of the person followed in every frame of the source, None where they are
    absent; their track id, None when nobody was found)."""
    from v2vcli.io.video import VideoReader
    from v2vcli.preprocess.pose import find_people

    clip = find_people(track(VideoReader(source, info=info), info.frame_count, "find people", quiet), info.fps,
                       config)
    followed = clip.choose(person)
    return clip.person_poses(followed), followed


def held_poses(poses: list[np.ndarray | None]) -> list[np.ndarray | None]:
    """Fill frames without a person with the last pose seen (None before the first one)."""
    held, last = [], None
    for pose in poses:
        last = pose if pose is not None else last
        held.append(last)
    return held


def side_by_side(source: np.ndarray, rendering: np.ndarray, result: np.ndarray) -> np.ndarray:
    """source | pose | result, each scaled to the result's height."""
    import cv2

    height = result.shape[0]
    scaled = [cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height),
                         interpolation=cv2.INTER_AREA) for image in (source, rendering)]
    return np.concatenate([*scaled, result], axis=1)


def dance(source: Path, output: Path, config: DanceConfig) -> DanceResult:
    """Make `output`: the target model performing the source video's moves, with the source's audio."""
    from v2vcli.inference.generate import LoadedModel, frame_writer
    from v2vcli.io.video import VideoReader, VideoWriter, probe_video
    from v2vcli.preprocess.normalize import PoseNormalizer, pose_statistics
    from v2vcli.preprocess.render import render_pose

    estimation = config.pose_config()  # an unknown pose backend or person fails before any work
    person = parse_person(config.person)
    layout = pose_backend_class(estimation.backend).layout
    source, output = Path(source), Path(output)
    info = probe_video(source)
    check_video_output(output, inputs=[source], overwrite=config.overwrite)
    check_encoder(config.encoder)
    model = LoadedModel(config.target, config.device, config)
    target_stats = model.config.data.pose_stats
    if model.condition != "pose" or not target_stats:
        raise BadInput(f"{model.path}: dance needs a model trained on poses (this one takes {model.condition} "
                       "maps, or has no pose statistics)")
    started = time.perf_counter()
    poses, followed = source_poses(source, info, estimation, person, config.quiet)
    found = sum(pose is not None for pose in poses)
    if followed is None:
        raise BadInput(f"{source}: no person found in any frame")
    try:
        normalize = PoseNormalizer(pose_statistics(poses, layout), target_stats, layout)
    except ValueError as error:
        raise BadInput(f"{source}: {error}") from None
    render_size = tuple(model.config.data.dataset_size or model.size)
    with VideoWriter(output, info.fps, crf=config.crf, audio_from=source, encoder=config.encoder) as writer:

        def write(frame: np.ndarray, rendering: np.ndarray, result: np.ndarray) -> None:
            writer.write(side_by_side(frame, rendering, result) if config.side_by_side else result)

        frames = VideoReader(source, info=info)
        with frame_writer(write) as sink:
            for frame, pose in track(zip(frames, held_poses(poses), strict=True), info.frame_count, "dance",
                                     config.quiet):
                normalized = normalize(pose) if pose is not None else None
                rendering = model.fit(render_pose(normalized, render_size, layout=layout))
                sink.put((frame, rendering, model.generate(rendering)))
    seconds = time.perf_counter() - started
    return DanceResult(output=str(output), model=str(model.path), frames=writer.frames_written,
                       frames_with_person=found, person=followed, fps=float(info.fps), has_audio=info.has_audio,
                       size=list(model.size), seconds=round(seconds, 2),
                       frames_per_second=rate(writer.frames_written, seconds), encoder=writer.codec,
                       compiled=model.sequential.compiled, cuda_graphs=model.sequential.cuda_graphs)
