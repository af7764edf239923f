"""Throughput of `v2v segment` against a bare mediapipe ImageSegmenter loop over the same decoded frames.

    python benchmarks/bench_segment.py [--size 512x256] [--frames 240] [--repeats 3] [--video PATH]

Makes a clip (the astronaut photo panning and zooming) unless --video is given, decodes it once into
memory for the bare loop (loading the selfie segmenter, segment_for_video + copying out the confidence
mask, nothing else), then runs the full command with the same model (`--backend mediapipe`: decode,
segmentation, label PNGs, colour preview encoding, atomic folder) on the file: as it is by default,
without the preview, with the flicker measure that --json adds, and with --smooth 0.5.
Prints frames/s, ratios and CPU ms per frame, the medians of --repeats alternating runs.
"""

from __future__ import annotations

import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if not __package__:  # run as `python benchmarks/bench_segment.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.harness import Run, Stage, Trial, Workload, measure  # noqa: E402

if TYPE_CHECKING:
    import numpy as np

BACKEND = "mediapipe"  # the selfie segmenter, the model the bare loop runs


def bare_segment(frames: list[np.ndarray], fps: float) -> None:
    """The mediapipe segmenter alone on decoded frames."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from v2vcli.preprocess.native_logs import native_logs_silenced
    from v2vcli.weights import find_weight_file

    options = vision.ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_path=str(find_weight_file("selfie_segmentation.tflite"))),
        running_mode=vision.RunningMode.VIDEO, output_confidence_masks=True, output_category_mask=False)
    with native_logs_silenced():
        segmenter = vision.ImageSegmenter.create_from_options(options)
    try:
        for index, frame in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            result = segmenter.segment_for_video(image, round(index * 1000 / fps))
            result.confidence_masks[0].numpy_view().copy()
    finally:
        with native_logs_silenced():
            segmenter.close()


def bare_segment_on(video: Path) -> Run:
    return partial(bare_segment, *inputs.decoded(video))


def segment_command(video: Path, output: Path, smooth: float = 0.0, flicker: bool = False,
                    preview: bool = True) -> None:
    """`v2v segment VIDEO -o OUTPUT --backend mediapipe` with those options (the library call it makes)."""
    from v2vcli.preprocess.segment import SegmentConfig, export_segmentation

    export_segmentation(video, output, SegmentConfig(backend=BACKEND, smooth=smooth), overwrite=True, quiet=True,
                        measure_flicker=flicker, preview=preview)


def segment_trial(video: Path, output: Path, **options) -> Trial:
    """`v2v segment` on `video` with `options` (those of segment_command) against the bare loop."""
    return Trial(inputs.frame_count(video), partial(segment_command, video, output, **options),
                 partial(bare_segment_on, video))


STAGE = Stage(
    name="segment", pipeline="export_segmentation (selfie model): decode, mediapipe, label PNGs, preview",
    limit="bare mediapipe loop", full=Workload(frames=96, rounds=3), quick=Workload(frames=24, rounds=1),
    inputs=inputs.target_clip, trial=inputs.on_target_clip(segment_trial, "segment"), target=0.85)


def main() -> None:
    args = inputs.clip_parser(__doc__).parse_args()

    from v2vcli.io.video import probe_video

    with tempfile.TemporaryDirectory() as temporary:
        video, output = inputs.clip_of(args, Path(temporary)), Path(temporary) / "out"
        info = probe_video(video)
        print(f"{video.name}: {info.width}x{info.height}, {info.frame_count} frames", flush=True)
        variants = {"--no-preview": {"preview": False}, "--json (flicker)": {"flicker": True},
                    "--smooth 0.5": {"smooth": 0.5}}
        extras = {name: segment_trial(video, output, **options).pipeline for name, options in variants.items()}
        result = measure(segment_trial(video, output), args.repeats, extras)
    names = {"limit": "bare mediapipe", "pipeline": "v2v segment"}
    print(f"{'':<18}{'frames/s':>10}{'ratio':>8}{'CPU ms/frame':>14}")
    for side in result.seconds:
        print(f"{names.get(side, side):<18}{result.rate(side):>10.1f}{result.rate(side) / result.rate('limit'):>8.2f}"
              f"{result.cpu_ms(side):>14.1f}")


if __name__ == "__main__":
    main()
