"""Decode + encode through v2vcli.io against the bundled ffmpeg doing the same transcode alone.

    python benchmarks/bench_io.py [--frames 600] [--size 640x360] [--repeats 3]

Both sides decode the same H.264 file and encode H.264 yuv420p at crf 18, preset medium. The ratio is
ffmpeg-alone time over v2v time (1.0 = no overhead; higher is better). Runs alternate, best of N.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from v2vcli.io.ffmpeg import run_ffmpeg
from v2vcli.io.video import VideoWriter, probe_video, read_frames


def make_source(path: Path, frames: int, width: int, height: int) -> None:
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30", "-frames:v", str(frames),
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", str(path)])


def through_v2v(source: Path, output: Path) -> float:
    start = time.perf_counter()
    with VideoWriter(output, probe_video(source).fps, crf=18) as writer:
        writer.write_all(read_frames(source))
    return time.perf_counter() - start


def ffmpeg_alone(source: Path, output: Path) -> float:
    start = time.perf_counter()
    run_ffmpeg(["-i", str(source), "-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p",
                "-an", "-y", str(output)])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.mp4"
        make_source(source, args.frames, width, height)
        v2v_times, ffmpeg_times = [], []
        for repeat in range(args.repeats):
            v2v_times.append(through_v2v(source, Path(folder) / f"v2v{repeat}.mp4"))
            ffmpeg_times.append(ffmpeg_alone(source, Path(folder) / f"ffmpeg{repeat}.mp4"))
    best_v2v, best_ffmpeg = min(v2v_times), min(ffmpeg_times)
    print(f"decode+encode {args.frames} frames {width}x{height} (best of {args.repeats})")
    print(f"  v2vcli.io     {best_v2v:7.2f} s  {args.frames / best_v2v:7.1f} fps")
    print(f"  ffmpeg alone  {best_ffmpeg:7.2f} s  {args.frames / best_ffmpeg:7.1f} fps")
    print(f"  ratio (ffmpeg time / v2v time): {best_ffmpeg / best_v2v:.2f}  (median runs: "
          f"{np.median(ffmpeg_times) / np.median(v2v_times):.2f})")


if __name__ == "__main__":
    main()
