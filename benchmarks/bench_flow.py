"""Throughput of `v2v flow` against a bare cv2 DIS loop over the same decoded frames, in one run.

    python benchmarks/bench_flow.py [--size 512x256] [--frames 240] [--repeats 3] [--video PATH]

Makes a clip (the astronaut photo panning and zooming) unless --video is given, decodes it once into
memory for the bare loop (making the estimator, cvtColor to gray + its calc per pair, nothing else),
then runs the full command (decode, flow, float16 fields, colour preview encoding, atomic folder) on
the file, with and without the preview. Prints pairs/s and ratios per method, and CPU ms per pair,
medians of --repeats alternating runs.
"""

from __future__ import annotations

import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if not __package__:  # run as `python benchmarks/bench_flow.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.harness import Run, Stage, Trial, Workload, measure  # noqa: E402
from v2vcli.flow import DEFAULT_METHOD  # noqa: E402  (imports neither cv2 nor torch)

if TYPE_CHECKING:
    import numpy as np


def bare_flow(frames: list[np.ndarray], method: str, backward: bool) -> None:
    """The estimator alone on decoded frames."""
    import cv2

    from v2vcli.flow.compute import make_estimator

    estimator = make_estimator(method)
    previous = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
    for frame in frames[1:]:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        estimator(previous, gray)
        if backward:
            estimator(gray, previous)
        previous = gray


def bare_flow_on(video: Path, method: str, backward: bool) -> Run:
    frames, _ = inputs.decoded(video)
    return partial(bare_flow, frames, method, backward)


def flow_command(video: Path, output: Path, method: str, backward: bool, preview: bool = True) -> None:
    """`v2v flow VIDEO -o OUTPUT --method METHOD` with those options (the library call it makes)."""
    from v2vcli.flow.export import export_flow

    export_flow(video, output, method=method, backward=backward, overwrite=True, quiet=True, preview=preview)


def flow_trial(video: Path, output: Path, method: str = DEFAULT_METHOD, backward: bool = False,
               preview: bool = True) -> Trial:
    """`v2v flow` on `video`'s frame pairs with those options against the bare loop."""
    return Trial(inputs.frame_count(video) - 1, partial(flow_command, video, output, method, backward, preview),
                 partial(bare_flow_on, video, method, backward))


STAGE = Stage(
    name="flow", pipeline=f"export_flow ({DEFAULT_METHOD}): decode, DIS, float16 fields, preview",
    limit="bare cv2 DIS loop", full=Workload(frames=96, rounds=3), quick=Workload(frames=24, rounds=1),
    inputs=inputs.target_clip, trial=inputs.on_target_clip(flow_trial, "flow"), unit="pairs/s", target=0.85)


def main() -> None:
    parser = inputs.clip_parser(__doc__)
    parser.add_argument("--methods", default="dis-fast,dis-medium,farneback")
    parser.add_argument("--backward", action="store_true", help="Also compute backward flow and occlusion.")
    args = parser.parse_args()

    from v2vcli.io.video import probe_video

    with tempfile.TemporaryDirectory() as temporary:
        video, output = inputs.clip_of(args, Path(temporary)), Path(temporary) / "out"
        info = probe_video(video)
        print(f"{video.name}: {info.width}x{info.height}, {info.frame_count} frames, backward={args.backward}")
        print("pairs/s (ratio to bare) and CPU ms per pair, all threads and ffmpeg processes included")
        print(f"{'method':<12}{'bare':>16}{'v2v flow':>24}{'v2v flow --no-preview':>28}")
        for method in args.methods.split(","):
            lean = flow_trial(video, output, method, args.backward, preview=False).pipeline
            result = measure(flow_trial(video, output, method, args.backward), args.repeats, {"lean": lean})
            cells = [f"{result.rate(side):.1f} ({result.rate(side) / result.rate('limit'):.2f}) "
                     f"{result.cpu_ms(side):.1f} ms" for side in result.seconds]
            print(f"{method:<12}{cells[0]:>16}{cells[1]:>24}{cells[2]:>28}", flush=True)


if __name__ == "__main__":
    main()
