"""Throughput of `v2v generate` (condition video -> mp4) against the bare generator forward loop, in one run.

    python benchmarks/bench_generate.py                                   # small preset, 256x256, CPU
    python benchmarks/bench_generate.py --preset tiny --size 512x256 --frames 48
    python benchmarks/bench_generate.py --device cuda --preset base --size 512x256 --frames 480
    python benchmarks/bench_generate.py --device cuda --preset hd --size 1024x512 --cuda-graphs --profile

The model is the preset's generator with random weights (speed does not depend on training), saved as
`v2v train` saves one: generator.safetensors with the config in its metadata. The condition video is a
rendered stick figure waving its arms (the same renderer as `v2v pose`). The pipeline is
`generate_video` (decode, encode conditions, generate, encode H.264, mux) on that file; the bare loop is
SequentialGenerator.tensor over the same maps, decoded, encoded and already on the device, with no I/O
and no copy back. The two run alternately (after one warm-up run of each); figures are medians.
--compile / --cuda-graphs run the pipeline so (the bare loop stays the plain eager one, the reference).
Targets: pipeline >= 0.85x bare; on CUDA (--gpu-check, on by default there) the base preset at 512x256
>= 100 frames/s and the hd preset at 1024x512 >= 30, with autocast. Without CUDA the GPU rows are skipped
(and say so). --profile: after the measurement, one more run of the pipeline under cProfile (the main
thread's functions by own time) and, on CUDA, torch.profiler (host and GPU time by op), where the
remaining gap goes (docs/generate.md reads them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if not __package__:  # run as `python benchmarks/bench_generate.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.harness import Setting, Size, Stage, Trial, Workload, measure  # noqa: E402

if TYPE_CHECKING:
    import torch

GPU_PRESET, GPU_SIZE = "base", (512, 256)
GPU_ROWS = (("base", (512, 256), 100.0), ("hd", (1024, 512), 30.0))  # (preset, size, target frames/s)


def decoded_conditions(condition: Path, size: Size, device: torch.device) -> list[torch.Tensor]:
    """Every frame of `condition` at `size`, encoded as the generator sees it ((3, H, W) in [-1, 1]), on `device`."""
    import cv2
    import numpy as np

    from v2vcli.data.conditions import encode_conditions
    from v2vcli.io.video import read_frames

    maps = [frame if (frame.shape[1], frame.shape[0]) == size else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            for frame in read_frames(condition)]
    return list(encode_conditions(np.stack(maps), "pose", 3).to(device).unbind(0))


class BareLoop:
    """The generator alone: SequentialGenerator over maps already decoded and on the device."""

    def __init__(self, model: Path, condition: Path, device: str):
        from v2vcli.devices import resolve_device
        from v2vcli.training.checkpoint import load_generator

        self.device = resolve_device(device)
        self.generator, self.config = load_generator(model, self.device)
        self.maps = decoded_conditions(condition, tuple(self.config.data.size), self.device)

    def __call__(self) -> None:
        """Generate every frame once, from an empty history."""
        from v2vcli.inference.sequential import SequentialGenerator

        sequential = SequentialGenerator(self.generator, self.config, self.device)
        for labels in self.maps:
            sequential.tensor(labels)


def generate_command(model: Path, condition: Path, output: Path, device: str, compile_step: bool = False,
                     cuda_graphs: bool = False) -> None:
    """`v2v generate --model MODEL CONDITION -o OUTPUT [--compile] [--cuda-graphs]` (the library call the
    command makes)."""
    from v2vcli.inference.generate import GenerateConfig, generate_video

    generate_video(condition, output, GenerateConfig(model=str(model), device=device, overwrite=True, quiet=True,
                                                     compile=compile_step, cuda_graphs=cuda_graphs))


def generate_trial(model: Path, condition: Path, output: Path, device: str, compile_step: bool = False,
                   cuda_graphs: bool = False) -> Trial:
    return Trial(inputs.frame_count(condition),
                 partial(generate_command, model, condition, output, device, compile_step, cuda_graphs),
                 partial(BareLoop, model, condition, device))


def profile(run: Callable[[], object], cuda: bool, rows: int = 14) -> str:
    """One call of `run` profiled: the main thread's functions by own time (cProfile) and, on CUDA, ops by
    host and by GPU time (torch.profiler)."""
    import cProfile
    import io
    import pstats

    import torch

    report = io.StringIO()
    profiler = cProfile.Profile()
    profiler.runcall(run)
    pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(rows)
    text = "\n".join(line for line in report.getvalue().splitlines() if line.strip())
    if cuda:
        activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=activities) as traced:
            run()
        averages = traced.key_averages()
        text += "\n" + averages.table(sort_by="self_cpu_time_total", row_limit=rows)
        text += "\n" + averages.table(sort_by="self_cuda_time_total", row_limit=rows)
    return text


def stage_inputs(setting: Setting, preset_name: str = "tiny") -> tuple[Path, Path]:
    """(random-weights generator of `preset_name`, stick-figure condition video) at the setting's size."""
    return (inputs.random_generator(setting.folder, preset_name, setting.size),
            inputs.condition_video(setting.folder, setting.size, setting.workload.frames))


def stage_trial(setting: Setting, preset_name: str = "tiny", device: str | None = None) -> Trial:
    model, condition = stage_inputs(setting, preset_name)
    return generate_trial(model, condition, setting.output(f"generated-{preset_name}.mp4"), device or setting.device)


def on_cuda(sizes: tuple[Size, ...], quick: bool) -> tuple[Size, ...]:
    """The GPU row: at its own size, where CUDA is present."""
    import torch

    return (GPU_SIZE,) if torch.cuda.is_available() else ()


STAGE = Stage(
    name="generate", pipeline="generate_video: decode, generate (tiny), encode", limit="bare generator loop",
    full=Workload(frames=96, rounds=2), quick=Workload(frames=12, rounds=1), inputs=stage_inputs,
    trial=stage_trial, target=0.85)
CUDA_STAGE = Stage(
    name="generate cuda", pipeline=f"generate_video, {GPU_PRESET} preset, autocast",
    limit="bare generator loop (CUDA)", full=Workload(frames=240, rounds=2), quick=Workload(frames=240, rounds=1),
    inputs=partial(stage_inputs, preset_name=GPU_PRESET), trial=partial(stage_trial, preset_name=GPU_PRESET,
                                                                      device="cuda"),
    target=0.85, sizes=on_cuda)


# ---------------------------------------------------------------- the command line

def run(preset_name: str, size: Size, frames: int, work: Path, device: str = "auto", rounds: int = 3,
        condition: Path | None = None, compile_step: bool = False, cuda_graphs: bool = False,
        profiled: bool = False) -> dict:
    """Make the random-weights model (and the condition video unless given) under `work` and measure."""
    import torch

    from v2vcli.devices import resolve_device
    from v2vcli.io.encoders import h264_encoder

    setting = Setting(work / inputs.size_name(size), size, Workload(frames, rounds), str(resolve_device(device)))
    model, made_condition = stage_inputs(setting, preset_name)
    condition = condition or made_condition
    trial = generate_trial(model, condition, setting.output("generated.mp4"), setting.device, compile_step,
                           cuda_graphs)
    result = measure(trial, rounds)
    summary = {"preset": preset_name, "size": inputs.size_name(size), "device": setting.device,
               "frames": result.items, "rounds": rounds, "pipeline_fps": round(result.rate(), 2),
               "bare_fps": round(result.rate("limit"), 2), "ratio": round(result.ratio, 3),
               "compile": compile_step or cuda_graphs, "cuda_graphs": cuda_graphs,
               "encoder": h264_encoder("auto", *size, lossless=False)}
    if profiled:
        summary["profile"] = profile(trial.pipeline, setting.device.startswith("cuda"))
    if setting.device.startswith("cuda"):
        summary["gpu"] = torch.cuda.get_device_name(setting.device)
        summary["autocast"] = str(getattr(torch, "bfloat16" if torch.cuda.is_bf16_supported() else "float16"))
        summary["gpu_peak_GiB"] = round(result.gpu_peak_mib / 1024, 3)
    return summary


def describe(result: dict) -> str:
    step = "cuda graphs" if result["cuda_graphs"] else "compiled" if result["compile"] else "eager"
    line = (f"{result['preset']:<5} {result['size']:>8} {result['device']:<7} {result['frames']} frames: "
            f"v2v generate {result['pipeline_fps']:7.1f} frames/s ({step}, {result['encoder']}), bare loop "
            f"{result['bare_fps']:7.1f} frames/s, ratio {result['ratio']:.2f} (target 0.85)")
    if "gpu" in result:
        line += f"  [{result['gpu']}, autocast {result['autocast']}, peak {result['gpu_peak_GiB']} GiB]"
    if "profile" in result:
        line += "\n" + result["profile"]
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--condition", type=Path, help="a pose condition video (default: a rendered stick figure)")
    parser.add_argument("--gpu-check", action=argparse.BooleanOptionalAction, default=True,
                        help="with CUDA, also time the GPU rows: " + ", ".join(
                            f"{name} at {inputs.size_name(size)} (target {fps:.0f} frames/s)"
                            for name, size, fps in GPU_ROWS))
    parser.add_argument("--compile", action="store_true", help="run the pipeline with --compile")
    parser.add_argument("--cuda-graphs", action="store_true", help="run the pipeline with --cuda-graphs")
    parser.add_argument("--profile", action="store_true", help="print where the pipeline's time goes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from v2vcli.config import parse_size

    results = []
    speed = {"compile_step": args.compile, "cuda_graphs": args.cuda_graphs, "profiled": args.profile}
    with tempfile.TemporaryDirectory() as folder:
        results.append(run(args.preset, tuple(parse_size(args.size)), args.frames, Path(folder), args.device,
                           args.rounds, args.condition, **speed))
        if not args.json:
            print(describe(results[-1]), flush=True)
        for name, size, target in GPU_ROWS if args.gpu_check else ():
            done = results[0]["device"].startswith("cuda") and (results[0]["preset"], results[0]["size"]) == (
                name, inputs.size_name(size))
            if not torch.cuda.is_available():
                if not args.json:
                    print(f"CUDA not available: the {name} preset at {inputs.size_name(size)} on the GPU "
                          f"(target {target:.0f} frames/s) was not measured")
            elif not done:
                results.append(run(name, size, max(args.frames, 240), Path(folder), "cuda", args.rounds, **speed))
                if not args.json:
                    print(describe(results[-1]) + f"  target {target:.0f} frames/s", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
