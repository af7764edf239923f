"""Throughput of `run_pose` (decode + PoseLandmarker + smoothing + render + encode + poses.json) against the
bare mediapipe loop on the same frames, already decoded, measured alternately in one run.

    python benchmarks/bench_pose.py                       # examples/target.mp4 played 4 times
    python benchmarks/bench_pose.py VIDEO --repeat 1 --rounds 5

Both sides include loading the model (run_pose cannot be timed without it); --repeat makes the clip
long enough that loading is a small share. Target: run_pose at >= 0.85x the bare loop's frames/s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def bare_loop(frames: list[np.ndarray], fps: float, model: Path) -> float:
    """Seconds for mediapipe alone: PoseLandmarker in VIDEO mode over decoded frames, nothing else."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from v2vcli.preprocess.native_logs import native_logs_silenced

    started = time.perf_counter()
    options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                           running_mode=vision.RunningMode.VIDEO)
    with native_logs_silenced(), vision.PoseLandmarker.create_from_options(options) as landmarker:
        for index, frame in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            landmarker.detect_for_video(image, round(index * 1000 / fps))
    return time.perf_counter() - started


def run_once(video: Path, work: Path, overlay: bool) -> float:
    from v2vcli.preprocess.pose import run_pose

    started = time.perf_counter()
    run_pose(video, work / "out", overlay=overlay, overwrite=True, quiet=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, nargs="?", default=ROOT / "examples" / "target.mp4")
    parser.add_argument("--repeat", type=int, default=4, help="play the clip this many times (forth and back)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements of each method")
    args = parser.parse_args()

    from v2vcli.io.video import VideoWriter, probe_video, read_frames
    from v2vcli.preprocess.pose import POSE_MODEL_FILE
    from v2vcli.weights import find_weight_file

    info = probe_video(args.video)
    model = find_weight_file(POSE_MODEL_FILE)
    clip = list(read_frames(args.video))
    # Forth and back, so the motion stays continuous and tracking behaves as on a long real clip.
    frames = [frame for turn in range(args.repeat) for frame in (clip if turn % 2 == 0 else clip[::-1])]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        video = work / "clip.mp4"
        with VideoWriter(video, info.fps) as writer:
            writer.write_all(frames)
        frames = list(read_frames(video))  # exactly the frames run_pose will decode
        times: dict[str, list[float]] = {"bare mediapipe": [], "run_pose": [], "run_pose --overlay": []}
        for _ in range(args.rounds):
            times["bare mediapipe"].append(bare_loop(frames, float(info.fps), model))
            times["run_pose"].append(run_once(video, work, overlay=False))
            times["run_pose --overlay"].append(run_once(video, work, overlay=True))

    count = len(frames)
    bare = count / statistics.median(times["bare mediapipe"])
    print(f"{args.video.name}: {info.width}x{info.height}, {count} frames, {args.rounds} rounds (median)")
    for name, seconds in times.items():
        speed = count / statistics.median(seconds)
        print(f"  {name:20s} {speed:7.1f} frames/s   {speed / bare:5.2f}x bare")


if __name__ == "__main__":
    main()
