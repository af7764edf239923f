"""Training step time per preset, and the cost of the flow path (with it / without it), in one run.

    python benchmarks/bench_train.py                       # CPU: tiny and small
    python benchmarks/bench_train.py --device cuda --presets tiny small base hd

A step is one clip of --frames frames at the preset's resolution (the final spatial stage), generated,
judged and back-propagated chunk by chunk exactly as `v2v train` does (StepRunner), on synthetic tensors
so that data loading is not measured. Times are medians over --steps steps after one warm-up step; the
flow ratio compares the same preset with and without the flow/mask path (frame-by-frame ablation)
measured alternately, so a noisy machine affects both sides alike.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import torch

from v2vcli.config import preset
from v2vcli.models import Discriminators, Generator, count_parameters
from v2vcli.training.schedule import Phase
from v2vcli.training.step import StepRunner

SIZES = {"tiny": (128, 128), "small": (256, 256), "base": (512, 256), "hd": (1024, 512)}


def make_runner(name: str, use_flow: bool, device: torch.device, amp: bool) -> tuple[StepRunner, object]:
    config = preset(name)
    config.model.use_flow = use_flow
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


def batch(frames: int, size: tuple[int, int]) -> dict[str, torch.Tensor]:
    width, height = size
    return {
        "images": torch.rand(1, frames, 3, height, width) * 2 - 1,
        "labels": torch.rand(1, frames, 3, height, width) * 2 - 1,
        "flows": torch.randn(1, frames, 2, height, width),
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, device: torch.device, frames: int, steps: int, amp: bool = True) -> dict:
    size = SIZES[name]
    phase = Phase(0, 0, 1, preset(name).model.n_scales_spatial, size, frames)
    data = batch(frames, size)
    runners = {flow: make_runner(name, flow, device, amp)[0] for flow in (True, False)}
    times: dict[bool, list[float]] = {True: [], False: []}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for repeat in range(steps + 1):
        for flow in (True, False):
            synchronize(device)
            start = time.perf_counter()
            runners[flow].run(data, phase)
            synchronize(device)
            if repeat:  # the first step warms up allocators and kernels
                times[flow].append(time.perf_counter() - start)
    config = runners[True].config
    with_flow, without = statistics.median(times[True]), statistics.median(times[False])
    return {
        "preset": name,
        "size": f"{size[0]}x{size[1]}",
        "G_params_M": round(count_parameters(runners[True].generator) / 1e6, 2),
        "D_params_M": round(count_parameters(runners[True].discriminators) / 1e6, 2),
        "frames": frames,
        "chunk": config.train.frames_per_chunk,
        "step_s": round(with_flow, 3),
        "frame_ms": round(1000 * with_flow / frames, 1),
        "step_no_flow_s": round(without, 3),
        "flow_cost": round(with_flow / without, 2),
        # CUDA: peak tensor memory of this preset; CPU: the process's peak resident memory so far (presets
        # run smallest first, so it is this preset's peak, float32 without autocast)
        "peak_GiB": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda"
        else round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=list(SIZES))
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast (CUDA)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []
    for name in sorted(args.presets, key=list(SIZES).index):
        row = measure(name, device, args.frames, args.steps, args.amp)
        rows.append(row)
        if not args.json:
            print(f"{row['preset']:<6} {row['size']:>9}  G {row['G_params_M']:>6.2f}M  D {row['D_params_M']:>6.2f}M  "
                  f"step {row['step_s']:>7.3f} s ({row['frame_ms']:>7.1f} ms/frame)  "
                  f"without flow {row['step_no_flow_s']:>7.3f} s  flow cost x{row['flow_cost']:.2f}"
                  f"  peak {row['peak_GiB']} GiB", flush=True)
    if args.json:
        print(json.dumps({"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                          "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                          "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
