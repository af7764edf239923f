"""`v2v dance`: the source's moves, the target's appearance, the source's audio.

Two passes over the source video, streamed: the first finds its poses (33 keypoints a frame, kept in
memory: a few hundred bytes each) so the normalization sees the whole range of the source's positions;
the second normalizes each pose to the target's body (v2vcli.preprocess.normalize, with the statistics
saved at prepare/train time), renders it as in training, generates the frame and writes it.

Frames where the source has no person: the last normalized pose is held; before the first pose is
found, the frame is generated from a blank (no-person) rendering.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.io.writers import check_video_output
from v2vcli.progress import track


@dataclass
class DanceConfig:
    target: str = "demo"
    device: str = "auto"
    side_by_side: bool = False
    pose_model: str | None = None
    crf: int = 18
    overwrite: bool = False
    quiet: bool = False


def source_poses(source: Path, info, config: DanceConfig) -> list[np.ndarray | None]:
    """The first person's keypoints (33, 5) in every frame of the source, or None where nobody is found."""
    from v2vcli.io.video import VideoReader
    from v2vcli.preprocess.pose import PoseConfig, PoseEstimator

    model = Path(config.pose_model) if config.pose_model else None
    with PoseEstimator(info.fps, PoseConfig(model=model)) as estimator:
        return [found.landmarks[0] if (found := estimator(frame)) is not None else None
                for frame in track(VideoReader(source, info=info), info.frame_count, "find poses", config.quiet)]


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


def dance(source: Path, output: Path, config: DanceConfig) -> dict:
    """Make `output`: the target model performing the source video's moves, with the source's audio."""
    from v2vcli.inference.generate import LoadedModel, frame_writer
    from v2vcli.io.video import VideoReader, VideoWriter, probe_video
    from v2vcli.preprocess.normalize import PoseNormalizer, pose_statistics
    from v2vcli.preprocess.render import render_pose

    source, output = Path(source), Path(output)
    info = probe_video(source)
    check_video_output(output, inputs=[source], overwrite=config.overwrite)
    model = LoadedModel(config.target, config.device)
    target_stats = model.config.data.pose_stats
    if model.condition != "pose" or not target_stats:
        raise BadInput(f"{model.path}: dance needs a model trained on poses (this one takes {model.condition} "
                       "maps, or has no pose statistics)")
    started = time.perf_counter()
    poses = source_poses(source, info, config)
    found = sum(pose is not None for pose in poses)
    if found == 0:
        raise BadInput(f"{source}: no person found in any frame")
    try:
        normalize = PoseNormalizer(pose_statistics(poses), target_stats)
    except ValueError as error:
        raise BadInput(f"{source}: {error}") from None
    render_size = tuple(model.config.data.dataset_size or model.size)
    with VideoWriter(output, info.fps, crf=config.crf, audio_from=source) as writer:

        def write(frame: np.ndarray, rendering: np.ndarray, result: np.ndarray) -> None:
            writer.write(side_by_side(frame, rendering, result) if config.side_by_side else result)

        frames = VideoReader(source, info=info)
        with frame_writer(write) as sink:
            for frame, pose in track(zip(frames, held_poses(poses), strict=True), info.frame_count, "dance",
                                     config.quiet):
                rendering = model.fit(render_pose(normalize(pose) if pose is not None else None, render_size))
                sink.put((frame, rendering, model.generate(rendering)))
    seconds = time.perf_counter() - started
    return {"output": str(output), "model": str(model.path), "frames": writer.frames_written,
            "frames_with_person": found, "fps": float(info.fps), "has_audio": info.has_audio,
            "size": list(model.size), "seconds": round(seconds, 2)}
