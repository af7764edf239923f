"""Throughput of `v2v flow` against a bare cv2 DIS loop over the same decoded frames, in one run.

    python benchmarks/bench_flow.py [--size 512x256] [--frames 240] [--repeats 3] [--video PATH]

Makes a clip (the astronaut photo panning and zooming) unless --video is given, decodes it once into
memory for the bare loop (cvtColor to gray + DISOpticalFlow.calc per pair, nothing else), then runs
the full command (decode, flow, float16 fields, colour preview encoding, atomic folder) on the file,
with and without the preview. Prints pairs/s and ratios per method, medians of --repeats alternating runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_clip(path: Path, width: int, height: int, frames: int) -> None:
    import cv2
    from skimage import data

    from v2vcli.io.video import VideoWriter

    photo = data.astronaut()
    with VideoWriter(path, 24) as writer:
        for index in range(frames):
            t = index / frames
            scale = max(width, height) / photo.shape[1] * (1.1 + 0.1 * np.sin(2 * np.pi * t))
            matrix = cv2.getRotationMatrix2D((256, 256), 5 * np.sin(2 * np.pi * t), scale)
            matrix[:, 2] += (width / 2 - 256 + 30 * np.sin(4 * np.pi * t), height / 2 - 256)
            writer.write(cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))


def bare_loop(frames: list[np.ndarray], method: str, backward: bool) -> float:
    """Pairs per second of the estimator alone on decoded frames."""
    import cv2

    from v2vcli.flow.compute import make_estimator

    estimator = make_estimator(method)
    started = time.perf_counter()
    previous = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
    for frame in frames[1:]:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        estimator(previous, gray)
        if backward:
            estimator(gray, previous)
        previous = gray
    return (len(frames) - 1) / (time.perf_counter() - started)


def command(video: Path, work: Path, method: str, backward: bool, preview: bool = True) -> float:
    """Pairs per second of the whole `v2v flow` command (library call, as the CLI makes it)."""
    from v2vcli.flow.export import export_flow
    from v2vcli.io.outputs import remove

    output = work / "out"
    started = time.perf_counter()
    summary = export_flow(video, output, method=method, backward=backward, overwrite=True, quiet=True,
                          preview=preview)
    seconds = time.perf_counter() - started
    remove(output)
    return summary["flow_fields"] / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path)
    parser.add_argument("--size", default="512x256")
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="dis-fast,dis-medium,farneback")
    parser.add_argument("--backward", action="store_true", help="Also compute backward flow and occlusion.")
    args = parser.parse_args()

    from v2vcli.io.video import probe_video, read_frames

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        video = args.video
        if video is None:
            width, height = (int(side) for side in args.size.split("x"))
            video = work / "clip.mp4"
            make_clip(video, width, height, args.frames)
        info = probe_video(video)
        frames = list(read_frames(video))
        print(f"{video.name}: {info.width}x{info.height}, {len(frames)} frames, backward={args.backward}")
        print(f"{'method':<12}{'bare pairs/s':>14}{'v2v flow':>10}{'ratio':>7}{'--no-preview':>14}{'ratio':>7}")
        for method in args.methods.split(","):
            bare, full, lean = [], [], []
            for _ in range(args.repeats):
                bare.append(bare_loop(frames, method, args.backward))
                full.append(command(video, work, method, args.backward))
                lean.append(command(video, work, method, args.backward, preview=False))
            bare_rate, full_rate, lean_rate = (statistics.median(rates) for rates in (bare, full, lean))
            print(f"{method:<12}{bare_rate:>14.1f}{full_rate:>10.1f}{full_rate / bare_rate:>7.2f}"
                  f"{lean_rate:>14.1f}{lean_rate / bare_rate:>7.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
