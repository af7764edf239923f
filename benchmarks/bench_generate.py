"""Throughput of `v2v generate` (condition video -> mp4) against the bare generator forward loop, in one run.

    python benchmarks/bench_generate.py                                   # small preset, 256x256, CPU
    python benchmarks/bench_generate.py --preset tiny --size 512x256 --frames 48
    python benchmarks/bench_generate.py --device cuda --preset base --size 512x256 --frames 480

The model is the preset's generator with random weights (speed does not depend on training), saved as
`v2v train` saves one: generator.safetensors with the config in its metadata. The condition video is a
rendered stick figure waving its arms (the same renderer as `v2v pose`). The pipeline is
`generate_video` (decode, encode conditions, generate, encode H.264, mux) on that file; the bare loop is
SequentialGenerator.tensor over the same maps, decoded, encoded and already on the device, with no I/O
and no copy back. The two run alternately (after one warm-up run of each); figures are medians.
Targets: pipeline >= 0.85x bare; on CUDA, the base preset at 512x256 with autocast >= 30 frames/s.
Without CUDA the GPU measurement is skipped (and says so).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_size  # noqa: E402

GPU_PRESET, GPU_SIZE, GPU_TARGET_FPS = "base", (512, 256), 30.0


def save_random_generator(path: Path, preset_name: str, size: tuple[int, int], *, pose_stats: dict | None = None,
                          dataset_size: tuple[int, int] | None = None, fps: float = 24.0, seed: int = 0) -> Path:
    """A pose generator of preset `preset_name` at `size` (W, H) with random weights, written as training
    writes generator.safetensors (weights + the config JSON in the metadata), so load_generator reads it.
    `pose_stats` (as `v2v prepare` computes them, for pose renderings of `dataset_size`) makes it usable by
    `v2v dance`."""
    from safetensors.torch import save_file

    from v2vcli.config import preset
    from v2vcli.models import Generator

    config = preset(preset_name)
    config.model.label_channels = 3
    config.data.condition, config.data.num_classes, config.data.fps = "pose", 3, fps
    config.data.size = list(size)
    config.data.dataset_size = list(dataset_size or size)
    config.data.pose_stats = pose_stats
    torch.manual_seed(seed)
    generator = Generator(config.model)
    tensors = {name: tensor.detach().contiguous() for name, tensor in generator.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": "v2v-generator", "config": config.to_json(), "step": "0"})
    return path


# A front-facing person in the 33 BlazePose landmarks, (x, y) as fractions of the frame's width and height.
_BODY = np.array([
    (.50, .18), (.51, .165), (.52, .165), (.53, .165), (.49, .165), (.48, .165), (.47, .165), (.545, .175),
    (.455, .175), (.515, .20), (.485, .20), (.58, .30), (.42, .30), (.62, .42), (.38, .42), (.64, .54),
    (.36, .54), (.65, .57), (.35, .57), (.64, .575), (.36, .575), (.63, .56), (.37, .56), (.555, .55),
    (.445, .55), (.56, .70), (.44, .70), (.565, .85), (.435, .85), (.56, .87), (.44, .87), (.59, .88), (.41, .88),
], dtype=np.float32)
_LEFT_ARM, _RIGHT_ARM = [13, 15, 17, 19, 21], [14, 16, 18, 20, 22]


def stick_figure(index: int, size: tuple[int, int], period: int = 48) -> np.ndarray:
    """(33, 2) keypoints in pixels of frame `index`: arms swinging about the shoulders, body swaying."""
    phase = 2 * np.pi * index / period
    points = _BODY.copy()
    for arm, shoulder, sign in ((_LEFT_ARM, 11, -1.0), (_RIGHT_ARM, 12, 1.0)):
        angle = sign * 0.9 * (1 + np.sin(phase + (0 if sign < 0 else np.pi / 2)))
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=np.float32)
        points[arm] = (points[arm] - points[shoulder]) @ rotation.T + points[shoulder]
    points[:, 0] += 0.08 * np.sin(phase / 2)
    return points * np.float32(size)


def make_condition_video(path: Path, size: tuple[int, int], frames: int, fps: float = 24.0) -> Path:
    """A pose condition video (what `v2v pose` writes as pose.mp4) of the moving stick figure."""
    from v2vcli.io.video import VideoWriter
    from v2vcli.preprocess.render import render_pose

    with VideoWriter(path, fps) as writer:
        for index in range(frames):
            writer.write(render_pose(stick_figure(index, size), size))
    return path


def decoded_conditions(condition: Path, size: tuple[int, int], device: torch.device) -> list[torch.Tensor]:
    """Every frame of `condition` at `size`, encoded as the generator sees it ((3, H, W) in [-1, 1]), on `device`."""
    import cv2

    from v2vcli.data.conditions import encode_conditions
    from v2vcli.io.video import read_frames

    maps = [frame if (frame.shape[1], frame.shape[0]) == size else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            for frame in read_frames(condition)]
    return list(encode_conditions(np.stack(maps), "pose", 3).to(device).unbind(0))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BareLoop:
    """The generator alone: SequentialGenerator over maps already decoded and on the device."""

    def __init__(self, model: Path, condition: Path, device: torch.device):
        from v2vcli.training.checkpoint import load_generator

        self.generator, self.config = load_generator(model, device)
        self.device = device
        self.maps = decoded_conditions(condition, tuple(self.config.data.size), device)

    def __call__(self) -> float:
        """Seconds to generate every frame once, from an empty history."""
        from v2vcli.inference.sequential import SequentialGenerator

        sequential = SequentialGenerator(self.generator, self.config, self.device)
        synchronize(self.device)
        started = time.perf_counter()
        for labels in self.maps:
            sequential.tensor(labels)
        synchronize(self.device)
        return time.perf_counter() - started


def pipeline(model: Path, condition: Path, output: Path, device: str) -> float:
    """Seconds of `v2v generate --model MODEL CONDITION -o OUTPUT` (the library call the CLI makes)."""
    from v2vcli.inference.generate import GenerateConfig, generate_video

    started = time.perf_counter()
    generate_video(condition, output, GenerateConfig(model=str(model), device=device, overwrite=True, quiet=True))
    return time.perf_counter() - started


def measure(model: Path, condition: Path, work: Path, device: str = "auto", rounds: int = 3) -> dict:
    """Alternate the pipeline and the bare loop `rounds` times after a warm-up of each; medians."""
    from v2vcli.devices import resolve_device
    from v2vcli.io.video import probe_video

    resolved = resolve_device(device)
    frames = probe_video(condition).frame_count
    output = work / "generated.mp4"
    pipeline(model, condition, output, str(resolved))  # warm-up: lazy imports, CUDA context, allocator
    bare = BareLoop(model, condition, resolved)
    bare()
    if resolved.type == "cuda":
        torch.cuda.reset_peak_memory_stats(resolved)
    times: dict[str, list[float]] = {"bare": [], "pipeline": []}
    for _ in range(rounds):
        times["bare"].append(bare())
        times["pipeline"].append(pipeline(model, condition, output, str(resolved)))
    bare_fps = frames / statistics.median(times["bare"])
    pipeline_fps = frames / statistics.median(times["pipeline"])
    config = bare.config
    result = {"preset": config.preset, "size": "x".join(map(str, config.data.size)), "device": str(resolved),
              "frames": frames, "rounds": rounds, "pipeline_fps": round(pipeline_fps, 2),
              "bare_fps": round(bare_fps, 2), "ratio": round(pipeline_fps / bare_fps, 3)}
    if resolved.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(resolved)
        result["autocast"] = str(getattr(torch, "bfloat16" if torch.cuda.is_bf16_supported() else "float16"))
        result["gpu_peak_GiB"] = round(torch.cuda.max_memory_allocated(resolved) / 2**30, 3)
    return result


def run(preset_name: str, size: tuple[int, int], frames: int, work: Path, device: str = "auto", rounds: int = 3,
        condition: Path | None = None) -> dict:
    """Make the random-weights model (and the condition video unless given) under `work` and measure."""
    model = save_random_generator(work / f"{preset_name}-{size[0]}x{size[1]}" / "generator.safetensors",
                                  preset_name, size)
    if condition is None:
        condition = make_condition_video(work / f"condition-{size[0]}x{size[1]}.mp4", size, frames)
    return measure(model, condition, work, device, rounds)


def describe(result: dict) -> str:
    line = (f"{result['preset']:<5} {result['size']:>8} {result['device']:<7} {result['frames']} frames: "
            f"v2v generate {result['pipeline_fps']:7.1f} frames/s, bare loop {result['bare_fps']:7.1f} frames/s, "
            f"ratio {result['ratio']:.2f} (target 0.85)")
    if "gpu" in result:
        line += f"  [{result['gpu']}, autocast {result['autocast']}, peak {result['gpu_peak_GiB']} GiB]"
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
                        help=f"with CUDA, also time the {GPU_PRESET} preset at {GPU_SIZE[0]}x{GPU_SIZE[1]}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(run(args.preset, parse_size(args.size), args.frames, Path(folder), args.device, args.rounds,
                           args.condition))
        if not args.json:
            print(describe(results[-1]), flush=True)
        gpu_done = results[-1]["device"].startswith("cuda") and results[-1]["preset"] == GPU_PRESET \
            and results[-1]["size"] == "x".join(map(str, GPU_SIZE))
        if args.gpu_check and torch.cuda.is_available() and not gpu_done:
            results.append(run(GPU_PRESET, GPU_SIZE, max(args.frames, 240), Path(folder), "cuda", args.rounds))
            if not args.json:
                print(describe(results[-1]), flush=True)
        elif args.gpu_check and not torch.cuda.is_available() and not args.json:
            print(f"CUDA not available: the {GPU_PRESET} preset at {GPU_SIZE[0]}x{GPU_SIZE[1]} on the GPU "
                  f"(target {GPU_TARGET_FPS:.0f} frames/s) was not measured")
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
