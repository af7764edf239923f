"""Training step time per preset, and the cost of one part of the model (with it / without it), in one run.

    python benchmarks/bench_train.py                       # CPU: tiny and small; the flow path's cost
    python benchmarks/bench_train.py --device cuda --presets tiny small base hd
    python benchmarks/bench_train.py --presets tiny --part coordinates --steps 20

A step is one clip of --frames frames at the preset's resolution (the final spatial stage), generated,
judged and back-propagated chunk by chunk exactly as `v2v train` does (StepRunner), on synthetic tensors
so that data loading is not measured. Times are medians over --steps steps after one warm-up step; the
cost compares the same preset with and without --part (PARTS: the flow/mask path, the frame-by-frame
ablation; the coordinate channels) measured alternately, so a noisy machine affects both sides alike.
`peak` is the step with the part: peak
tensor memory on CUDA (bf16 autocast), the process's peak resident memory on the CPU (float32).

The stages `train tiny` and `train small` of run_all.py are declared here too: `train()` itself
(loading clips from a dataset folder, then the step) against StepRunner on a synthetic batch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if not __package__:  # run as `python benchmarks/bench_train.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.harness import Run, Seconds, Setting, Size, Stage, Trial, Workload, measure, synchronize  # noqa: E402
from v2vcli.config import preset  # noqa: E402  (imports neither cv2 nor torch)

if TYPE_CHECKING:
    import torch

    from v2vcli.training.step import StepRunner

SIZES = {"tiny": (128, 128), "small": (256, 256), "base": (512, 256), "hd": (1024, 512)}


# The parts --part can price: the ModelConfig switch that removes each.
PARTS = {"flow": "use_flow", "coordinates": "coordinates"}


def make_runner(name: str, device: torch.device, amp: bool, **model) -> tuple[StepRunner, object]:
    """A StepRunner of preset `name` on `device`, with `model` set on its ModelConfig, and its config."""
    import torch

    from v2vcli.models import Discriminators, Generator
    from v2vcli.training.step import StepRunner

    config = preset(name)
    for key, value in model.items():
        setattr(config.model, key, value)
    config.train.amp = amp
    torch.manual_seed(0)
    generator = Generator(config.model).to(device)
    discriminators = Discriminators(config.model).to(device)
    if device.type == "cuda":
        generator = generator.to(memory_format=torch.channels_last)
        discriminators = discriminators.to(memory_format=torch.channels_last)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminators.parameters(), lr=2e-4, betas=(0.5, 0.999))
    runner = StepRunner(config, generator, discriminators, optimizer_G, optimizer_D, None, device)
    return runner, config


def batch(frames: int, size: Size) -> dict[str, torch.Tensor]:
    """A synthetic batch of one clip: images and labels (1, T, 3, H, W) in [-1, 1], flows (1, T, 2, H, W)."""
    import torch

    width, height = size
    return {
        "images": torch.rand(1, frames, 3, height, width) * 2 - 1,
        "labels": torch.rand(1, frames, 3, height, width) * 2 - 1,
        "flows": torch.randn(1, frames, 2, height, width),
    }


def final_phase(name: str, size: Size, frames: int):
    """The schedule's last phase of preset `name`: every spatial scale, at `size`, clips of `frames`."""
    from v2vcli.training.schedule import Phase

    return Phase(0, 0, 1, preset(name).model.n_scales_spatial, size, frames)


def bare_steps(name: str, size: Size, frames: int, steps: int, device: str) -> Run:
    """StepRunner alone on a synthetic batch: a Run giving the median seconds of `steps` steps after the first."""
    from v2vcli.devices import resolve_device

    runner, _ = make_runner(name, resolve_device(device), True)
    data, phase = batch(frames, size), final_phase(name, size, frames)

    def run() -> Seconds:
        seconds = []
        for _ in range(steps):
            synchronize()
            started = time.perf_counter()
            runner.run(data, phase)
            synchronize()
            seconds.append(time.perf_counter() - started)
        return Seconds(statistics.median(seconds[1:]))

    return run


def train_command(dataset: Path, runs: Path, name: str, size: Size, frames: int, steps: int, device: str) -> Seconds:
    """`v2v train DATASET --preset NAME --size WxH --steps STEPS` on clips of `frames` frames, saving nothing
    but the log: the median seconds of a step (loading the clip from the dataset, then the step) after the first.

    The one place that calls train() and reads what it returns (the run folder, whose log.jsonl times
    every step)."""
    from v2vcli.config import RunSettings
    from v2vcli.training import train
    from v2vcli.training.logs import read_log

    config = preset(name)
    config.data.size = list(size)
    config.train.steps, config.train.n_frames_start, config.train.n_frames_max = steps, frames, frames
    result = train(config, RunSettings(name=f"train-{name}", output_dir=str(runs), dataset=str(dataset),
                                       device=device, save_every=0, sample_every=0, overwrite=True, quiet=True))
    seconds = [record["seconds"] for record in read_log(result.model / "log.jsonl") if "seconds" in record]
    return Seconds(statistics.median(seconds[1:]))


def train_trial(setting: Setting, name: str) -> Trial:
    frames, steps = setting.workload.frames, setting.workload.steps
    pipeline = partial(train_command, stage_inputs(setting), setting.output("runs"), name,
                       setting.size, frames, steps, setting.device)
    return Trial(1, pipeline, partial(bare_steps, name, setting.size, frames, steps, setting.device))


def stage_inputs(setting: Setting) -> Path:
    return inputs.dataset(setting.folder, setting.size)


def train_stage(name: str, **options) -> Stage:
    """Steps on clips of the preset's last phase (train.n_frames_max): the length most steps train on, and
    one every temporal discriminator can judge (train() refuses clips shorter than its windows)."""
    frames = preset(name).train.n_frames_max
    return Stage(
        name=f"train {name}", pipeline=f"train(): data loading + step ({name} preset)",
        limit="bare StepRunner, synthetic batch", full=Workload(frames=frames, rounds=1, steps=5),
        quick=Workload(frames=frames, rounds=1, steps=2), inputs=stage_inputs, trial=partial(train_trial, name=name),
        unit="steps/s", **options)


# The small preset's step takes seconds on a CPU: a quick run times it at its first size only.
STAGES = (train_stage("tiny"), train_stage("small", sizes=lambda sizes, quick: sizes[:1] if quick else sizes))


# ---------------------------------------------------------------- the command line: the flow path's cost

def part_cost(name: str, device: torch.device, frames: int, steps: int, amp: bool = True, part: str = "flow") -> dict:
    """One preset's step with `part` (PARTS) against the same step without it (the limit side), alternately."""
    from v2vcli.models import count_parameters

    size = SIZES[name]
    data, phase = batch(frames, size), final_phase(name, size, frames)
    runner, config = make_runner(name, device, amp, **{PARTS[part]: True})

    def without() -> Run:
        return partial(make_runner(name, device, amp, **{PARTS[part]: False})[0].run, data, phase)

    result = measure(Trial(1, partial(runner.run, data, phase), without), steps)
    step, step_without = 1 / result.rate("pipeline"), 1 / result.rate("limit")
    peak_mib = result.gpu_peak_mib if result.gpu_peak_mib is not None else result.peak_mib
    return {
        "preset": name,
        "size": inputs.size_name(size),
        "G_params_M": round(count_parameters(runner.generator) / 1e6, 2),
        "D_params_M": round(count_parameters(runner.discriminators) / 1e6, 2),
        "frames": frames,
        "chunk": config.train.frames_per_chunk,
        "step_s": round(step, 3),
        "frame_ms": round(1000 * step / frames, 1),
        "part": part,
        "step_without_s": round(step_without, 3),
        "cost": round(step / step_without, 2),
        "peak_GiB": round(peak_mib / 1024, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=list(SIZES))
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast (CUDA)")
    parser.add_argument("--part", default="flow", choices=list(PARTS), help="the part priced: with it / without it")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []
    for name in sorted(args.presets, key=list(SIZES).index):
        row = part_cost(name, device, args.frames, args.steps, args.amp, args.part)
        rows.append(row)
        if not args.json:
            print(f"{row['preset']:<6} {row['size']:>9}  G {row['G_params_M']:>6.2f}M  D {row['D_params_M']:>6.2f}M  "
                  f"step {row['step_s']:>7.3f} s ({row['frame_ms']:>7.1f} ms/frame)  "
                  f"without {args.part} {row['step_without_s']:>7.3f} s  {args.part} cost x{row['cost']:.2f}"
                  f"  peak {row['peak_GiB']} GiB", flush=True)
    if args.json:
        print(json.dumps({"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                          "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                          "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
