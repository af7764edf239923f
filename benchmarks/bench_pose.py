"""Throughput of `run_pose` (decode + PoseLandmarker + smoothing + render + encode + poses.json) against the
bare mediapipe loop on the same frames, already decoded, measured alternately in one run.

    python benchmarks/bench_pose.py                       # examples/target.mp4 played 4 times
    python benchmarks/bench_pose.py VIDEO --repeat 1 --rounds 5

Both sides include loading the model (run_pose cannot be timed without it); --repeat makes the clip
long enough that loading is a small share. Target: run_pose at >= 0.85x the bare loop's frames/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if not __package__:  # run as `python benchmarks/bench_pose.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.common import EXAMPLES  # noqa: E402
from benchmarks.harness import Run, Stage, Trial, Workload, measure  # noqa: E402

if TYPE_CHECKING:
    import numpy as np


def bare_pose(frames: list[np.ndarray], fps: float, model: Path) -> None:
    """mediapipe alone: PoseLandmarker in VIDEO mode over decoded frames, nothing else."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from v2vcli.preprocess.native_logs import native_logs_silenced

    options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                           running_mode=vision.RunningMode.VIDEO)
    with native_logs_silenced(), vision.PoseLandmarker.create_from_options(options) as landmarker:
        for index, frame in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            landmarker.detect_for_video(image, round(index * 1000 / fps))


def bare_pose_on(video: Path) -> Run:
    """The bare loop over `video`'s frames, decoded now."""
    from v2vcli.preprocess.pose import POSE_MODEL_FILE
    from v2vcli.weights import find_weight_file

    frames, fps = inputs.decoded(video)
    return partial(bare_pose, frames, fps, find_weight_file(POSE_MODEL_FILE))


def pose_command(video: Path, output: Path, overlay: bool = False) -> None:
    """`v2v pose VIDEO -o OUTPUT [--overlay]` (the library call the command makes)."""
    from v2vcli.preprocess.pose import run_pose

    run_pose(video, output, overlay=overlay, overwrite=True, quiet=True)


def pose_trial(video: Path, output: Path, overlay: bool = False) -> Trial:
    """`v2v pose` on `video` (drawing over it with `overlay`) against the bare loop."""
    return Trial(inputs.frame_count(video), partial(pose_command, video, output, overlay), partial(bare_pose_on, video))


STAGE = Stage(
    name="pose", pipeline="run_pose: decode, PoseLandmarker, smoothing, render, encode, poses.json",
    limit="bare mediapipe loop", full=Workload(frames=96, rounds=3), quick=Workload(frames=24, rounds=1),
    inputs=inputs.target_clip, trial=inputs.on_target_clip(pose_trial, "pose"), target=0.85)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path, nargs="?", default=EXAMPLES / "target.mp4")
    parser.add_argument("--repeat", type=int, default=4, help="play the clip this many times (forth and back)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements of each method")
    args = parser.parse_args()

    from v2vcli.io.video import probe_video

    info = probe_video(args.video)
    with tempfile.TemporaryDirectory() as folder:
        # Forth and back, so the motion stays continuous and tracking behaves as on a long real clip.
        video = inputs.scaled_clip(args.video, Path(folder) / "clip.mp4", (info.width, info.height),
                                   info.frame_count * args.repeat)
        output = Path(folder) / "pose"
        trial = pose_trial(video, output)
        result = measure(trial, args.rounds, {"run_pose --overlay": pose_trial(video, output, overlay=True).pipeline})

    print(f"{args.video.name}: {info.width}x{info.height}, {trial.items} frames, {args.rounds} rounds (median)")
    names = {"limit": "bare mediapipe", "pipeline": "run_pose"}
    for side in result.seconds:
        speed = result.rate(side)
        print(f"  {names.get(side, side):20s} {speed:7.1f} frames/s   {speed / result.rate('limit'):5.2f}x bare")


if __name__ == "__main__":
    main()
