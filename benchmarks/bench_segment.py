"""Throughput of `v2v segment` against a bare mediapipe ImageSegmenter loop over the same decoded frames.

    python benchmarks/bench_segment.py [--size 512x256] [--frames 240] [--repeats 3] [--video PATH]

Makes a clip (the astronaut photo panning and zooming) unless --video is given, decodes it once into
memory for the bare loop (segment_for_video + copying out the confidence mask, nothing else), then
runs the full command (decode, segmentation, label PNGs, colour preview encoding, atomic folder) on
the file: as it is by default, without the preview, with the flicker measure that --json adds, and
with --smooth 0.5.
Prints frames/s and ratios, the medians of --repeats alternating runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_flow import add_clip_arguments, load_clip  # noqa: E402
from common import measured  # noqa: E402


def bare_loop(frames: list[np.ndarray], fps: float) -> tuple[float, float]:
    """(frames/s, CPU ms/frame) of the mediapipe segmenter alone on decoded frames."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from v2vcli.preprocess.segment_backends import native_logs_silenced
    from v2vcli.weights import find_weight_file

    options = vision.ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_path=str(find_weight_file("selfie_segmentation.tflite"))),
        running_mode=vision.RunningMode.VIDEO, output_confidence_masks=True, output_category_mask=False)
    with native_logs_silenced():
        segmenter = vision.ImageSegmenter.create_from_options(options)
    def run() -> None:
        for index, frame in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            result = segmenter.segment_for_video(image, round(index * 1000 / fps))
            result.confidence_masks[0].numpy_view().copy()

    try:
        return measured(run, len(frames))
    finally:
        with native_logs_silenced():
            segmenter.close()


def command(video: Path, work: Path, frames: int, smooth: float = 0.0, flicker: bool = False,
            preview: bool = True) -> tuple[float, float]:
    """(frames/s, CPU ms/frame) of the whole `v2v segment` command (library call, as the CLI makes it)."""
    from v2vcli.io.outputs import remove
    from v2vcli.preprocess.segment import SegmentConfig, export_segmentation

    output = work / "out"
    result = measured(lambda: export_segmentation(video, output, SegmentConfig(smooth=smooth), overwrite=True,
                                                  quiet=True, measure_flicker=flicker, preview=preview), frames)
    remove(output)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_clip_arguments(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        video, info, frames = load_clip(args, work)
        print(f"{video.name}: {info.width}x{info.height}, {len(frames)} frames")
        variants = {"v2v segment": {}, "--no-preview": {"preview": False}, "--json (flicker)": {"flicker": True},
                    "--smooth 0.5": {"smooth": 0.5}}
        runs: dict[str, list[tuple[float, float]]] = {"bare mediapipe": [], **{name: [] for name in variants}}
        for _ in range(args.repeats):
            runs["bare mediapipe"].append(bare_loop(frames, float(info.fps)))
            for name, options in variants.items():
                runs[name].append(command(video, work, len(frames), **options))
        bare = statistics.median(rate for rate, _ in runs["bare mediapipe"])
        print(f"{'':<18}{'frames/s':>10}{'ratio':>8}{'CPU ms/frame':>14}")
        for name, values in runs.items():
            rate, cpu = statistics.median(r for r, _ in values), statistics.median(c for _, c in values)
            print(f"{name:<18}{rate:>10.1f}{rate / bare:>8.2f}{cpu:>14.1f}")


if __name__ == "__main__":
    main()
