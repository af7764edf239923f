"""Does data loading keep the training step fed? The DataLoader alone (clips/s) against the step (steps/s).

    python benchmarks/bench_loader.py                                     # CPU: tiny and small
    python benchmarks/bench_loader.py --device cuda --presets tiny small base hd
    python benchmarks/bench_loader.py --workers 0 1 2                     # loader rates by worker count

Each preset gets a dataset made by `v2v prepare --preset NAME` from one clip (default: examples/target.mp4
scaled to 1920x1080; --video for another), so the frames are stored at the preset's training size, as a
user's are. The loader side is `v2v train`'s own DataLoader (v2vcli.training.trainer.make_loader, with
the default worker count for the device unless --workers is given) drawing clips of the preset's
longest length (train.n_frames_max) with augmentation; after one clip (the workers' start) the median
seconds a clip over --clips clips is timed. The step side is StepRunner's step on a synthetic clip of the
same size and length (benchmarks/bench_train.py), the median of --steps steps after a warm-up. The
ratio, loader clips/s over steps/s, says how far ahead loading runs: with workers (CUDA) it must stay
above 1.5 so the step never waits; with none (a CPU) loading runs between steps, and 1/ratio is the
share of the step it adds.

The stages `loader tiny` and `loader small` of run_all.py are declared here too, on run_all's dataset at
each run size (the loader's clip against one step of the preset at that size).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

if not __package__:  # run as `python benchmarks/bench_loader.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.bench_train import bare_steps, final_phase, stage_inputs  # noqa: E402
from benchmarks.common import EXAMPLES, load_average  # noqa: E402
from benchmarks.harness import Run, Seconds, Setting, Size, Stage, Trial, Workload, measure  # noqa: E402

PRESETS = ("tiny", "small", "base", "hd")
FULL_HD = (1920, 1080)


def clip_length(name: str) -> int:
    """The longest clip preset `name` trains on."""
    from v2vcli.config import preset

    return preset(name).train.n_frames_max


def loader_clips(dataset: Path, name: str, size: Size, frames: int, clips: int, device: str,
                 workers: int | None = None) -> Seconds:
    """`v2v train`'s DataLoader over `dataset` for preset `name` at `size`, clips of `frames`: the median
    seconds a clip over `clips` clips, after the first (which starts the workers)."""
    from v2vcli.config import preset
    from v2vcli.data import ClipDataset, open_dataset
    from v2vcli.devices import resolve_device
    from v2vcli.training import distributed
    from v2vcli.training.trainer import FramesAt, SampleNumbers, default_workers, make_loader

    target = resolve_device(device)
    workers = default_workers(target.type) if workers is None else workers
    config = preset(name)
    clip_dataset = ClipDataset(open_dataset(dataset), config.data, size, seed=0,
                               frames_at=FramesAt([final_phase(name, size, frames)], 1))
    context = distributed.Context(device=target)
    loader = make_loader(clip_dataset, SampleNumbers(0, 1, context), 1, workers, target, seed=0)
    batches = iter(loader)
    next(batches)
    seconds = []
    for _ in range(clips):
        started = time.perf_counter()
        next(batches)
        seconds.append(time.perf_counter() - started)
    del batches  # stops the workers
    return Seconds(statistics.median(seconds))


def loader_trial(setting: Setting, name: str) -> Trial:
    frames, clips = setting.workload.frames, setting.workload.steps
    pipeline = partial(loader_clips, stage_inputs(setting), name, setting.size, frames, clips, setting.device)
    return Trial(1, pipeline, partial(bare_steps, name, setting.size, frames, max(2, clips // 4), setting.device))


def loader_stage(name: str, **options) -> Stage:
    frames = clip_length(name)
    return Stage(
        name=f"loader {name}", pipeline=f"train()'s DataLoader, default workers ({name} clips)",
        limit=f"training step ({name} preset, synthetic clip)", full=Workload(frames=frames, rounds=2, steps=24),
        quick=Workload(frames=frames, rounds=1, steps=8), inputs=stage_inputs,
        trial=partial(loader_trial, name=name), unit="clips/s", target=1.5, **options)


# The small preset's step takes seconds on a CPU: a quick run times it at its first size only.
STAGES = (loader_stage("tiny"), loader_stage("small", sizes=lambda sizes, quick: sizes[:1] if quick else sizes))


# ---------------------------------------------------------------- the command line: every preset at its size

def preset_dataset(work: Path, video: Path, name: str) -> tuple[Path, Size]:
    """`v2v prepare VIDEO --preset NAME` (pose, masks, flow) in `work`: the dataset and its size."""
    from v2vcli.data.layout import open_dataset
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset

    dataset = inputs.kept(work / f"dataset-{name}", lambda path: prepare_dataset(
        [video], path, PrepareConfig(preset=name, overwrite=True, quiet=True)))
    return dataset, open_dataset(dataset).size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=PRESETS)
    parser.add_argument("--video", type=Path, help="the clip to prepare (default: examples/target.mp4 at 1920x1080)")
    parser.add_argument("--workers", type=int, nargs="+", help="loader processes to time (default: the device's rule)")
    parser.add_argument("--clips", type=int, default=24, help="clips timed per loader (after the first)")
    parser.add_argument("--steps", type=int, default=3, help="steps timed (after a warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of step and loader")
    parser.add_argument("--work", type=Path, help="keep the clip and datasets here (default: a temporary folder)")
    args = parser.parse_args()

    from v2vcli.devices import resolve_device
    from v2vcli.training.trainer import default_workers

    device = resolve_device(args.device)
    counts = args.workers or [default_workers(device.type)]
    print(f"device {device}, load {load_average()}; loader: median seconds a clip; step: median of "
          f"{args.steps} steps; ratio: loader clips/s over steps/s")
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        video = args.video or inputs.kept(work / "source-1920x1080.mp4", lambda path: inputs.scaled_clip(
            EXAMPLES / "target.mp4", path, FULL_HD))
        for name in args.presets:
            dataset, size = preset_dataset(work, video, name)
            frames = clip_length(name)
            loaders: dict[str, Run] = {f"workers {count}": partial(loader_clips, dataset, name, size, frames,
                                                                   args.clips, args.device, count)
                                       for count in counts}
            first, *others = loaders.values()
            result = measure(Trial(1, first, partial(bare_steps, name, size, frames, args.steps + 1, args.device)),
                             args.rounds, dict(zip(list(loaders)[1:], others, strict=True)))
            step = 1 / result.rate("limit")
            cells = [f"{label}: {1000 / result.rate(side):.0f} ms a clip, ratio {result.rate(side) * step:.1f}"
                     for label, side in zip(loaders, ["pipeline", *list(loaders)[1:]], strict=True)]
            print(f"{name:<6} {inputs.size_name(size):>9}, clips of {frames}: step {step:.3f} s; {'; '.join(cells)}",
                  flush=True)


if __name__ == "__main__":
    main()
