"""Throughput of `v2v dance` against the two models it runs, each bare: the pose landmarker and the generator.

    python benchmarks/bench_dance.py [--size 256x256] [--frames 96] [--rounds 2] [--device auto]

The source is examples/source.mp4 scaled to --size and played forth and back to --frames frames. The
target model is the tiny preset with random weights (speed does not depend on training), carrying the
pose statistics of a dataset that `v2v prepare` makes from examples/target.mp4. The pipeline is
`dance()` (two decodes, pose, normalization, rendering, generation, encoding, muxing the source's
audio); the limit is the bare PoseLandmarker loop over the decoded source plus the bare generator
loop over as many stick-figure condition maps. After one warm-up of each, medians of --rounds rounds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path

if not __package__:  # run as `python benchmarks/bench_dance.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.bench_generate import BareLoop  # noqa: E402
from benchmarks.bench_pose import bare_pose_on  # noqa: E402
from benchmarks.harness import Run, Setting, Stage, Trial, Workload, measure  # noqa: E402


def dance_command(source: Path, model: Path, output: Path, device: str) -> None:
    """`v2v dance --source SOURCE --target MODEL -o OUTPUT` (the library call the command makes)."""
    from v2vcli.inference.dance import DanceConfig, dance

    dance(source, output, DanceConfig(target=str(model), device=device, overwrite=True, quiet=True))


def bare_models(source: Path, model: Path, condition: Path, device: str) -> Run:
    pose, generator = bare_pose_on(source), BareLoop(model, condition, device)

    def run() -> None:
        pose()
        generator()

    return run


def stage_inputs(setting: Setting) -> tuple[Path, Path, Path]:
    """(source clip, random-weights generator with a dataset's pose statistics, condition video)."""
    frames = setting.workload.frames
    model = inputs.random_generator(setting.folder, "tiny", setting.size, inputs.dataset(setting.folder, setting.size))
    return (inputs.example_clip(setting.folder, "source", setting.size, frames), model,
            inputs.condition_video(setting.folder, setting.size, frames))


def stage_trial(setting: Setting) -> Trial:
    source, model, condition = stage_inputs(setting)
    output = setting.output("dance.mp4")
    return Trial(inputs.frame_count(source), partial(dance_command, source, model, output, setting.device),
                 partial(bare_models, source, model, condition, setting.device))


STAGE = Stage(
    name="dance", pipeline="dance(): 2 decodes, pose, normalize, render, generate (tiny), encode, mux",
    limit="bare mediapipe + bare generator", full=Workload(frames=96, rounds=2), quick=Workload(frames=12, rounds=1),
    inputs=stage_inputs, trial=stage_trial)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from v2vcli.config import parse_size

    size = tuple(parse_size(args.size))
    with tempfile.TemporaryDirectory() as folder:
        setting = Setting(Path(folder), size, Workload(args.frames, args.rounds), args.device)
        result = measure(stage_trial(setting), args.rounds)
    print(f"dance {args.size}, {result.items} frames, {args.device}: v2v dance {result.rate():.1f} frames/s, "
          f"bare models {result.rate('limit'):.1f} frames/s, ratio {result.ratio:.2f}, "
          f"peak {result.peak_mib:.0f} MiB (largest ffmpeg {result.ffmpeg_peak_mib:.0f})")


if __name__ == "__main__":
    main()
