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
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import measured  # noqa: E402


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


def bare_loop(frames: list[np.ndarray], method: str, backward: bool) -> tuple[float, float]:
    """(pairs/s, CPU ms/pair) of the estimator alone on decoded frames."""
    import cv2

    from v2vcli.flow.compute import make_estimator

    estimator = make_estimator(method)

    def run() -> None:
        previous = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
        for frame in frames[1:]:
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            estimator(previous, gray)
            if backward:
                estimator(gray, previous)
            previous = gray

    return measured(run, len(frames) - 1)


def command(video: Path, work: Path, pairs: int, method: str, backward: bool, preview: bool = True):
    """(pairs/s, CPU ms/pair) of the whole `v2v flow` command (library call, as the CLI makes it)."""
    from v2vcli.flow.export import export_flow
    from v2vcli.io.outputs import remove

    output = work / "out"
    result = measured(lambda: export_flow(video, output, method=method, backward=backward, overwrite=True,
                                          quiet=True, preview=preview), pairs)
    remove(output)
    return result


def add_clip_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every per-command benchmark takes: a video, or the size and length of a made clip."""
    parser.add_argument("--video", type=Path)
    parser.add_argument("--size", default="512x256")
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=3)


def load_clip(args: argparse.Namespace, work: Path):
    """(video path, VideoInfo, decoded frames): args.video, or a clip made in `work` at args.size."""
    from v2vcli.io.video import probe_video, read_frames

    video = args.video
    if video is None:
        width, height = (int(side) for side in args.size.split("x"))
        video = work / "clip.mp4"
        make_clip(video, width, height, args.frames)
    return video, probe_video(video), list(read_frames(video))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_clip_arguments(parser)
    parser.add_argument("--methods", default="dis-fast,dis-medium,farneback")
    parser.add_argument("--backward", action="store_true", help="Also compute backward flow and occlusion.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        video, info, frames = load_clip(args, work)
        print(f"{video.name}: {info.width}x{info.height}, {len(frames)} frames, backward={args.backward}")
        pairs = len(frames) - 1
        print("pairs/s (ratio to bare) and CPU ms per pair, all threads and ffmpeg processes included")
        print(f"{'method':<12}{'bare':>16}{'v2v flow':>24}{'v2v flow --no-preview':>28}")
        for method in args.methods.split(","):
            runs: dict[str, list[tuple[float, float]]] = {"bare": [], "full": [], "lean": []}
            for _ in range(args.repeats):
                runs["bare"].append(bare_loop(frames, method, args.backward))
                runs["full"].append(command(video, work, pairs, method, args.backward))
                runs["lean"].append(command(video, work, pairs, method, args.backward, preview=False))
            rate = {name: statistics.median(r for r, _ in values) for name, values in runs.items()}
            cpu = {name: statistics.median(c for _, c in values) for name, values in runs.items()}
            cells = [f"{rate[name]:.1f} ({rate[name] / rate['bare']:.2f}) {cpu[name]:.1f} ms" for name in runs]
            print(f"{method:<12}{cells[0]:>16}{cells[1]:>24}{cells[2]:>28}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
