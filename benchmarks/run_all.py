"""Every stage of v2v against its limit, at two sizes, in one run: one table of throughput, peak memory and ratio.

    python benchmarks/run_all.py                                  # full run (about 10 minutes on 2 cores)
    python benchmarks/run_all.py --quick                          # smoke run: small sizes, short clips
    python benchmarks/run_all.py --output docs/benchmarks.md      # also write the table there
    python benchmarks/run_all.py --stages io,generate --sizes 512x256

Inputs are the example clips (examples/target.mp4, source.mp4) scaled to each size, a dataset made from
the target clip by `v2v prepare` (pose, flow; it gives the training stage its data and the dance model
its pose statistics), a rendered stick-figure pose video, and random-weights generators saved as
training saves them. Each stage and size runs in its own process: one warm-up run of the pipeline
(whose peak resident memory is the figure reported), then the pipeline and its limit alternately,
so a busy machine slows both alike; throughputs are medians. The ratio is pipeline / limit.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    EXAMPLES,
    ROOT,
    ChildPeak,
    machine,
    parse_size,
    peak_rss_mib,
    scaled_clip,
)

GENERATED_END = "<!-- run_all.py writes everything above this line; what follows is kept -->"


@dataclass(frozen=True)
class Plan:
    """How much each stage does: clip lengths, alternating rounds, training steps per round."""

    sizes: tuple[tuple[int, int], ...]
    io_frames: int  # decode/encode: the target clip played forth and back to this length
    frames: int  # decode/encode, pose, segment, flow: frames of the scaled target clip
    model_frames: int  # generate and dance: frames of the condition and source clips
    rounds: int
    model_rounds: int
    train_frames: int
    train_steps: int  # per round; the first step of each round is a warm-up
    small_train_sizes: int  # the small preset's train step runs at the first this-many sizes


FULL = Plan(sizes=((256, 256), (512, 256)), io_frames=480, frames=96, model_frames=96, rounds=3, model_rounds=2,
            train_frames=4, train_steps=5, small_train_sizes=2)
QUICK = Plan(sizes=((128, 128), (256, 128)), io_frames=48, frames=24, model_frames=12, rounds=1, model_rounds=1,
             train_frames=4, train_steps=2, small_train_sizes=1)

# stage -> (what the pipeline is, what its limit is, the target ratio or None)
STAGES = {
    "decode+encode": ("v2vcli.io read_frames -> VideoWriter (H.264 crf 18)", "ffmpeg alone, same transcode", 0.80),
    "pose": ("run_pose: decode, PoseLandmarker, smoothing, render, encode, poses.json", "bare mediapipe loop", 0.85),
    "segment": ("export_segmentation: decode, mediapipe, label PNGs, preview", "bare mediapipe loop", 0.85),
    "flow": ("export_flow (dis-medium): decode, DIS, float16 fields, preview", "bare cv2 DIS loop", 0.85),
    "train tiny": ("train(): data loading + step (tiny preset)", "bare StepRunner, synthetic batch", None),
    "train small": ("train(): data loading + step (small preset)", "bare StepRunner, synthetic batch", None),
    "generate": ("generate_video: decode, generate (tiny), encode", "bare generator loop", 0.85),
    "dance": ("dance(): 2 decodes, pose, normalize, render, generate (tiny), encode, mux",
              "bare mediapipe + bare generator", None),
    "generate cuda": ("generate_video, base preset, autocast", "bare generator loop (CUDA)", 0.85),
}


def stage_names(plan: Plan) -> list[tuple[str, tuple[int, int]]]:
    """(stage, size) pairs of a run, in order."""
    import torch

    pairs = []
    for name in STAGES:
        if name == "generate cuda":
            if torch.cuda.is_available():
                pairs.append((name, (512, 256)))
            continue
        sizes = plan.sizes[:plan.small_train_sizes] if name == "train small" else plan.sizes
        pairs.extend((name, size) for size in sizes)
    return pairs


# ---------------------------------------------------------------- inputs (made once, in the parent)

def size_name(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def make_inputs(work: Path, plan: Plan, pairs: list[tuple[str, tuple[int, int]]], quiet: bool = True) -> None:
    """What the stages of `pairs` read, per size under work/WxH/: target.mp4 (and target-long.mp4),
    source.mp4, condition.mp4, dataset/ (only for training and dance: making it runs mediapipe) and the
    generators."""
    import bench_generate

    from v2vcli.data.prepare import PrepareConfig, prepare_dataset

    for size in sorted({size for _, size in pairs}):
        stages = {name for name, at in pairs if at == size}
        folder = work / size_name(size)
        folder.mkdir(parents=True, exist_ok=True)
        scaled_clip(EXAMPLES / "target.mp4", folder / "target.mp4", size, plan.frames)
        if "decode+encode" in stages:
            scaled_clip(EXAMPLES / "target.mp4", folder / "target-long.mp4", size, plan.io_frames)
        scaled_clip(EXAMPLES / "source.mp4", folder / "source.mp4", size, plan.model_frames)
        bench_generate.make_condition_video(folder / "condition.mp4", size, plan.model_frames)
        bench_generate.save_random_generator(folder / "generate" / "generator.safetensors", "tiny", size)
        if stages & {"train tiny", "train small", "dance"}:
            prepare_dataset([folder / "target.mp4"], folder / "dataset",
                            PrepareConfig(size=list(size), masks=False, overwrite=True, quiet=quiet))
            stats = json.loads((folder / "dataset" / "dataset.json").read_text())["pose_stats"]
            bench_generate.save_random_generator(folder / "dance" / "generator.safetensors", "tiny", size,
                                                 pose_stats=stats, dataset_size=size)


# ---------------------------------------------------------------- one stage (in a child process)

def frames_of(video: Path) -> list:
    from v2vcli.io.video import read_frames

    return list(read_frames(video))


class Stage:
    """pipeline() and bare() each return seconds for `items` items; prepare() runs before the first bare()."""

    items: int
    unit = "frames/s"

    def prepare(self) -> None:
        pass


class DecodeEncode(Stage):
    def __init__(self, folder: Path, plan: Plan, device: str):
        import bench_io

        self.bench, self.source, self.folder = bench_io, folder / "target-long.mp4", folder
        self.items = plan.io_frames

    def pipeline(self) -> float:
        return self.bench.through_v2v(self.source, self.folder / "io-v2v.mp4")

    def bare(self) -> float:
        return self.bench.ffmpeg_alone(self.source, self.folder / "io-ffmpeg.mp4")


class Pose(Stage):
    def __init__(self, folder: Path, plan: Plan, device: str):
        import bench_pose

        self.bench, self.video, self.work = bench_pose, folder / "target.mp4", folder
        self.items = plan.frames

    def prepare(self) -> None:
        from v2vcli.io.video import probe_video
        from v2vcli.preprocess.pose import POSE_MODEL_FILE
        from v2vcli.weights import find_weight_file

        self.frames, self.fps = frames_of(self.video), float(probe_video(self.video).fps)
        self.model = find_weight_file(POSE_MODEL_FILE)

    def pipeline(self) -> float:
        return self.bench.run_once(self.video, self.work, overlay=False)

    def bare(self) -> float:
        return self.bench.bare_loop(self.frames, self.fps, self.model)


class Segment(Stage):
    def __init__(self, folder: Path, plan: Plan, device: str):
        import bench_segment

        self.bench, self.video, self.work = bench_segment, folder / "target.mp4", folder
        self.items = plan.frames

    def prepare(self) -> None:
        from v2vcli.io.video import probe_video

        self.frames, self.fps = frames_of(self.video), float(probe_video(self.video).fps)

    def pipeline(self) -> float:
        rate, _ = self.bench.command(self.video, self.work, self.items)
        return self.items / rate

    def bare(self) -> float:
        rate, _ = self.bench.bare_loop(self.frames, self.fps)
        return self.items / rate


class Flow(Stage):
    unit = "pairs/s"

    def __init__(self, folder: Path, plan: Plan, device: str):
        import bench_flow

        from v2vcli.flow import DEFAULT_METHOD

        self.bench, self.video, self.work, self.method = bench_flow, folder / "target.mp4", folder, DEFAULT_METHOD
        self.items = plan.frames - 1

    def prepare(self) -> None:
        self.frames = frames_of(self.video)

    def pipeline(self) -> float:
        rate, _ = self.bench.command(self.video, self.work, self.items, self.method, False)
        return self.items / rate

    def bare(self) -> float:
        rate, _ = self.bench.bare_loop(self.frames, self.method, False)
        return self.items / rate


class TrainStep(Stage):
    """Steps/s of `train()` (per-step times from its log.jsonl: loading the clip from the dataset, then the
    step) against StepRunner alone on a synthetic batch of the same shape (bench_train)."""

    unit = "steps/s"
    items = 1

    def __init__(self, folder: Path, plan: Plan, device: str, preset_name: str):
        from v2vcli.devices import resolve_device

        self.folder, self.preset, self.device = folder, preset_name, resolve_device(device)
        self.size = parse_size(folder.name)
        self.frames, self.steps = plan.train_frames, plan.train_steps

    def pipeline(self) -> float:
        from v2vcli.config import preset
        from v2vcli.training import train
        from v2vcli.training.logs import read_log

        config = preset(self.preset)
        config.data.root, config.data.size = str(self.folder / "dataset"), list(self.size)
        settings = config.train
        settings.name, settings.output_dir = f"train-{self.preset}", str(self.folder / "runs")
        settings.steps, settings.n_frames_start, settings.n_frames_max = self.steps, self.frames, self.frames
        settings.save_every, settings.sample_every = 0, 0
        settings.device, settings.overwrite, settings.quiet = str(self.device), True, True
        run_dir = train(config)
        seconds = [record["seconds"] for record in read_log(run_dir / "log.jsonl") if "seconds" in record]
        return statistics.median(seconds[1:])

    def prepare(self) -> None:
        import bench_train

        from v2vcli.config import preset
        from v2vcli.training.schedule import Phase

        self.bench = bench_train
        self.runner, _ = bench_train.make_runner(self.preset, True, self.device, True)
        self.phase = Phase(0, 0, 1, preset(self.preset).model.n_scales_spatial, self.size, self.frames)
        self.batch = bench_train.batch(self.frames, self.size)

    def bare(self) -> float:
        seconds = []
        for _ in range(self.steps):
            self.bench.synchronize(self.device)
            started = time.perf_counter()
            self.runner.run(self.batch, self.phase)
            self.bench.synchronize(self.device)
            seconds.append(time.perf_counter() - started)
        return statistics.median(seconds[1:])


class Generate(Stage):
    def __init__(self, folder: Path, plan: Plan, device: str):
        import bench_generate

        self.bench, self.folder, self.device = bench_generate, folder, device
        self.model, self.condition = folder / "generate" / "generator.safetensors", folder / "condition.mp4"
        self.items = plan.model_frames

    def prepare(self) -> None:
        from v2vcli.devices import resolve_device

        self.loop = self.bench.BareLoop(self.model, self.condition, resolve_device(self.device))

    def pipeline(self) -> float:
        return self.bench.pipeline(self.model, self.condition, self.folder / "generated.mp4", self.device)

    def bare(self) -> float:
        return self.loop()


class Dance(Stage):
    """dance() against the two models it runs, each bare: the pose landmarker and the generator."""

    def __init__(self, folder: Path, plan: Plan, device: str):
        self.folder, self.device = folder, device
        self.model, self.source = folder / "dance" / "generator.safetensors", folder / "source.mp4"
        self.items = plan.model_frames

    def prepare(self) -> None:
        import bench_generate
        import bench_pose

        from v2vcli.devices import resolve_device
        from v2vcli.io.video import probe_video
        from v2vcli.preprocess.pose import POSE_MODEL_FILE
        from v2vcli.weights import find_weight_file

        self.bench_pose = bench_pose
        self.frames, self.fps = frames_of(self.source), float(probe_video(self.source).fps)
        self.pose_model = find_weight_file(POSE_MODEL_FILE)
        self.loop = bench_generate.BareLoop(self.model, self.folder / "condition.mp4", resolve_device(self.device))

    def pipeline(self) -> float:
        from v2vcli.inference.dance import DanceConfig, dance

        started = time.perf_counter()
        dance(self.source, self.folder / "dance.mp4",
              DanceConfig(target=str(self.model), device=self.device, overwrite=True, quiet=True))
        return time.perf_counter() - started

    def bare(self) -> float:
        return self.bench_pose.bare_loop(self.frames, self.fps, self.pose_model) + self.loop()


class GenerateCuda(Generate):
    """The base preset at 512x256 on the GPU with autocast: its own model and a longer clip."""

    def __init__(self, folder: Path, plan: Plan, device: str):
        import bench_generate

        super().__init__(folder, plan, "cuda")
        self.model = bench_generate.save_random_generator(folder / "base" / "generator.safetensors", "base", (512, 256))
        self.items = max(plan.model_frames, 240)
        self.condition = bench_generate.make_condition_video(folder / "condition-long.mp4", (512, 256), self.items)


MAKERS = {
    "decode+encode": DecodeEncode, "pose": Pose, "segment": Segment, "flow": Flow,
    "train tiny": lambda *a: TrainStep(*a, "tiny"), "train small": lambda *a: TrainStep(*a, "small"),
    "generate": Generate, "dance": Dance, "generate cuda": GenerateCuda,
}


def measure_stage(name: str, folder: Path, plan: Plan, device: str) -> dict:
    """Warm-up pipeline run (its peak memory is reported), then `rounds` alternations of limit and pipeline."""
    stage = MAKERS[name](folder, plan, device)
    with ChildPeak() as children:
        stage.pipeline()
    peak, ffmpeg_peak = peak_rss_mib(), children.peak_mib
    stage.prepare()
    rounds = plan.model_rounds if name in ("generate", "dance", "generate cuda") else plan.rounds
    rounds = 1 if name.startswith("train") else rounds  # each round is several steps already
    times: dict[str, list[float]] = {"bare": [], "pipeline": []}
    for _ in range(rounds):
        times["bare"].append(stage.bare())
        times["pipeline"].append(stage.pipeline())
    pipeline_rate = stage.items / statistics.median(times["pipeline"])
    bare_rate = stage.items / statistics.median(times["bare"])
    result = {"stage": name, "size": folder.name, "unit": stage.unit, "items": stage.items, "rounds": rounds,
              "throughput": pipeline_rate, "limit": bare_rate, "ratio": pipeline_rate / bare_rate,
              "peak_mib": peak, "ffmpeg_peak_mib": ffmpeg_peak, "times": times}
    if name == "generate cuda":
        import torch

        result["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


# ---------------------------------------------------------------- the parent: runs, table, doc

def run_child(name: str, size: tuple[int, int], work: Path, plan_name: str, device: str) -> dict:
    """One stage at one size in a fresh process; its result, or {'error': last line} when it failed."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--child-folder",
               str(work / size_name(size)), "--device", device] + (["--quick"] if plan_name == "quick" else [])
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    load = round(os.getloadavg()[0], 1)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return {**json.loads(line[len("RESULT "):]), "wall_s": seconds, "load": load}
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return {"stage": name, "size": size_name(size), "error": lines[-1] if lines else f"exit code {done.returncode}",
            "wall_s": seconds, "load": load}


def format_rate(value: float, unit: str) -> str:
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"


def table(rows: list[dict]) -> str:
    """The results as a Markdown table (also readable as plain text)."""
    header = ("| stage | size | throughput | limit | limit throughput | ratio | target | peak RSS MiB "
              "(python / largest ffmpeg) | load |\n|---|---|---:|---|---:|---:|---:|---:|---:|")
    lines = [header]
    for row in rows:
        _, limit, target = STAGES[row["stage"]]
        if "error" in row:
            lines.append(f"| {row['stage']} | {row['size']} | failed: {row['error']} | {limit} | | | | "
                         f"| {row['load']} |")
            continue
        peak = f"{row['peak_mib']:.0f} / {row['ffmpeg_peak_mib']:.0f}"
        if "gpu_peak_mib" in row:
            peak += f" (GPU {row['gpu_peak_mib']:.0f})"
        lines.append(f"| {row['stage']} | {row['size']} | {format_rate(row['throughput'], row['unit'])} | {limit} | "
                     f"{format_rate(row['limit'], row['unit'])} | {row['ratio']:.2f} | "
                     f"{f'{target:.2f}' if target else '—'} | {peak} | {row['load']} |")
    return "\n".join(lines)


def describe_machine(info: dict, load_before: list[float], load_after: list[float]) -> str:
    gpu = info["gpu"] or "none (CUDA not available: the GPU row, base preset at 512x256 with autocast, was skipped)"
    return (f"- CPU: {info['cpu']}, {info['cores']} cores; torch {info['torch']} ({info['threads']} threads), "
            f"Python {info['python']}\n- GPU: {gpu}\n"
            f"- load average (1, 5, 15 min): {', '.join(map(str, load_before))} before, "
            f"{', '.join(map(str, load_after))} after")


def document(rows: list[dict], command: str, info: dict, loads: tuple[list[float], list[float]], plan: Plan,
             seconds: float, kept: str) -> str:
    stages = "\n".join(f"| {name} | {pipeline} | {limit} |" for name, (pipeline, limit, _) in STAGES.items())
    small_sizes = ", ".join(size_name(size) for size in plan.sizes[:plan.small_train_sizes])
    return f"""# Benchmarks

Every stage of v2v against its limit, measured in one run by `benchmarks/run_all.py`. The ratio is the
stage's throughput over its limit's, both measured alternately in the same process (medians), so a busy
machine slows both alike. Peak RSS is the stage's own process during one pipeline run, and separately
the largest ffmpeg process it started. Regenerate this file with the command below.

```
{command}
```

Measured {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; the run took {seconds / 60:.1f} minutes.
{describe_machine(info, *loads)}

{table(rows)}

Sizes are the example clips scaled (stretched) to each size: {plan.io_frames} frames for decode/encode (the
clip played forth and back), {plan.frames} for pose, segment and flow, {plan.model_frames} for generate and
dance. A training step is one clip of {plan.train_frames} frames (the small preset at {small_sizes}).
Models have random weights (speed does not depend on training): tiny preset for generate and dance,
the dance model carrying the pose statistics of a dataset made by `v2v prepare` from the target clip.
`load` is the 1-minute load average when the stage finished; the stage itself accounts for about 2 of
it on a 2-core machine. Well above that, another program shared the cores: torch's and mediapipe's
worker threads then wait for each other and throughput can drop several-fold; alternating spreads
that over both sides of the ratio, though not always evenly.

| stage | pipeline | limit |
|---|---|---|
{stages}

{GENERATED_END}
{kept}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, short clips, one round")
    parser.add_argument("--sizes", help="comma-separated WxH (default 256x256,512x256; quick 128x128,256x128)")
    parser.add_argument("--stages", help=f"comma-separated subset of: {', '.join(STAGES)}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", type=Path, help="write the table and the machine into this Markdown file")
    parser.add_argument("--work", type=Path, help="keep the inputs and outputs here (default: a temporary folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.child:
        print("RESULT " + json.dumps(measure_stage(args.child, args.child_folder, plan, args.device)), flush=True)
        return
    if args.sizes:
        plan = dataclasses.replace(plan, sizes=tuple(parse_size(size) for size in args.sizes.split(",")))
    pairs = stage_names(plan)
    if args.stages:
        wanted = [name.strip() for name in args.stages.split(",")]
        unknown = [name for name in wanted if name not in STAGES]
        if unknown:
            parser.error(f"unknown stages {unknown}; choose from: {', '.join(STAGES)}")
        pairs = [(name, size) for name, size in pairs if name in wanted]
    info, load_before, started = machine(), [round(value, 2) for value in os.getloadavg()], time.perf_counter()
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}, load {load_before}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        print("making inputs (scaled clips, datasets, models) ...", file=sys.stderr, flush=True)
        make_inputs(work, plan, pairs)
        rows = []
        for name, size in pairs:
            row = run_child(name, size, work, "quick" if args.quick else "full", args.device)
            rows.append(row)
            summary = row.get("error") or (f"{format_rate(row['throughput'], row['unit'])}, ratio {row['ratio']:.2f}, "
                                           f"peak {row['peak_mib']:.0f} MiB")
            print(f"{name:>14} {size_name(size):>8}: {summary}  ({row['wall_s']:.0f} s)", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    load_after = [round(value, 2) for value in os.getloadavg()]
    print(table(rows))
    print(f"{seconds / 60:.1f} minutes; load average {load_before} before, {load_after} after")
    if args.output:
        command = "python benchmarks/run_all.py " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
        kept = ""
        if args.output.is_file() and GENERATED_END in args.output.read_text():
            kept = args.output.read_text().split(GENERATED_END, 1)[1].lstrip("\n")
        args.output.write_text(document(rows, command.strip(), info, (load_before, load_after), plan, seconds, kept))
        print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
