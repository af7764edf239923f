"""vid2vid's central ablation at small scale: flow-warped sequential generation against frame-by-frame
synthesis, with and without the temporal discriminator, on held-out frames of a real clip.

    python benchmarks/ablation.py --quick                                  # a few steps: checks that it all runs
    python benchmarks/ablation.py --steps 800 --size 128x128 --threads 1   # the CPU run of docs/results.md
    python benchmarks/ablation.py --device cuda --preset small --steps 1400 --seeds 0 1 2 --parallel 12 --workers 1

Stages (all by default, or pick with --stages; each reads what the one before left in --work):
  prepare   the clip's first --train-frames frames become the training set, the rest the held-out
            sequence (split losslessly); `v2v prepare` (pose) on each, and on --extra-heldout (a second
            held-out clip of the same person with other motion) when given. Needs mediapipe.
  train     the same generator and the same schedule for every variant, each `v2v train --config` with
            the same seed(s) and steps: full (flow + temporal D), no-flow (frame by frame), no-temporal
            (flow, no temporal D), neither. --parallel runs several at once (one GPU holds many).
  evaluate  `v2v generate` on each held-out sequence's condition maps with each model, then `v2v eval`
            against the real held-out frames: warping error (relative to the reference and absolute),
            flicker, PSNR, SSIM; prints the table and the ratios, writes results.json and the plot.

Generated and reference videos are both written as H.264 yuv420p at crf 0 (lossless after the colour
conversion), so codec noise does not blur the temporal metrics and both sides share the chroma subsampling.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {  # name -> (use_flow, temporal discriminators on)
    "full": (True, True),
    "no-flow": (False, True),
    "no-temporal": (True, False),
    "neither": (False, False),
}
LABELS = {
    "full": "flow + temporal D (vid2vid)",
    "no-flow": "frame by frame + temporal D",
    "no-temporal": "flow, no temporal D",
    "neither": "frame by frame, no temporal D",
}
METRICS = ("warp_error", "warp_error_absolute", "flicker", "psnr", "ssim")
TARGET_RATIO, TARGET_PSNR_GAP = 0.8, 1.0  # issue 6: warping error <= 0.8x frame-by-frame, PSNR within 1 dB
QUICK_STEPS, QUICK_SIZE = 12, "64x64"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- prepare


def split_clip(clip: Path, train_frames: int, folder: Path) -> tuple[Path, Path]:
    """clip -> folder/train.mp4 (frames [0, train_frames)) and folder/heldout.mp4 (the rest), lossless."""
    from v2vcli.errors import BadInput
    from v2vcli.io.video import VideoReader, VideoWriter, probe_video

    info = probe_video(clip)
    if not 0 < train_frames < info.frame_count - 2:
        raise BadInput(f"--train-frames {train_frames}: {clip} has {info.frame_count} frames; keep at least 3 held out")
    folder.mkdir(parents=True, exist_ok=True)
    train_path, heldout_path = folder / "train.mp4", folder / "heldout.mp4"
    with VideoWriter(train_path, info.fps, lossless=True) as train, \
            VideoWriter(heldout_path, info.fps, lossless=True) as heldout:
        for index, frame in enumerate(VideoReader(clip, info=info)):
            (train if index < train_frames else heldout).write(frame)
    return train_path, heldout_path


def write_reference(frames_folder: Path, output: Path, fps: float) -> None:
    """The real held-out frames (at the dataset size) as the video `v2v eval` compares against."""
    from v2vcli.io.frames import read_frame_folder
    from v2vcli.io.video import VideoWriter

    with VideoWriter(output, fps, crf=0) as writer:
        for frame in read_frame_folder(frames_folder):
            writer.write(frame)


def prepare(args: argparse.Namespace, work: Path) -> None:
    from v2vcli.config import parse_size
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset

    size = parse_size(args.size)
    clips = work / "clips"
    train_clip, heldout_clip = split_clip(args.clip, args.train_frames, clips)
    sets = {"heldout": heldout_clip}
    if args.extra_heldout:
        sets["other-motion"] = args.extra_heldout
    started = time.perf_counter()
    common = dict(condition="pose", size=size, overwrite=True, quiet=True)
    (work / "data").mkdir(exist_ok=True)
    prepare_dataset([train_clip], work / "data" / "train", PrepareConfig(**common))
    for name, clip in sets.items():
        prepare_dataset([clip], work / "data" / name, PrepareConfig(**common, masks=False, flow=False))
        meta = json.loads((work / "data" / name / "dataset.json").read_text())
        sequence = work / "data" / name / meta["sequences"][0]["name"]
        (work / "references").mkdir(exist_ok=True)
        write_reference(sequence / "frames", work / "references" / f"{name}.mp4", meta["fps"])
    (work / "heldout.json").write_text(json.dumps(
        {name: str(next((work / "data" / name).glob("*/labels"))) for name in sets}, indent=2) + "\n")
    log(f"prepared {args.clip} ({args.train_frames} training frames) and {len(sets)} held-out set(s) at {args.size} "
        f"in {time.perf_counter() - started:.1f} s")


# ------------------------------------------------------------------------------------------------ train


def run_names(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """(run name, variant, seed) for every model to train."""
    return [(f"{variant}-s{seed}", variant, seed) for variant in args.variants for seed in args.seeds]


def write_configs(args: argparse.Namespace, work: Path) -> dict[str, Path]:
    from v2vcli.config import preset

    folder = work / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for variant in args.variants:
        use_flow, temporal = VARIANTS[variant]
        config = preset(args.preset)
        config.model.use_flow = use_flow
        if not temporal:
            config.model.n_scales_temporal = 0  # no temporal discriminator at all (no parameters, no loss)
        paths[variant] = folder / f"{variant}.json"
        config.save(paths[variant])
    return paths


def train_command(args: argparse.Namespace, work: Path, name: str, config: Path, seed: int) -> list[str]:
    return ["-m", "v2vcli", "train", str(work / "data" / "train"), "--name", name, "--config", str(config),
            "--steps", str(args.steps), "--seed", str(seed), "--size", args.size, "--device", args.device,
            "--output-dir", str(work / "weights"), "--save-every", str(args.steps), "--sample-every", "0",
            "--workers", str(args.workers), "--overwrite", "--json"]


def train(args: argparse.Namespace, work: Path, configs: dict[str, Path] | None = None) -> None:
    """Train every run of `args` (its variants x seeds) from `configs` (variant -> config file; default:
    this module's variants, written under `work`)."""
    configs = configs or write_configs(args, work)
    (work / "logs").mkdir(exist_ok=True)
    pending = [(name, train_command(args, work, name, configs[variant], seed))
               for name, variant, seed in run_names(args)]
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.parallel))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))}
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    timings: dict[str, float] = {}
    commands = {name: "python " + shlex.join(command) for name, command in pending}
    started = time.perf_counter()
    while pending or running:
        while pending and len(running) < args.parallel:
            name, command = pending.pop(0)
            with open(work / "logs" / f"{name}.log", "w") as output:
                process = subprocess.Popen([sys.executable, *command], stdout=output, stderr=subprocess.STDOUT,
                                           env=env, cwd=Path.cwd())
            running[name] = (process, time.perf_counter())
            log(f"train {name}: {commands[name]}")
        time.sleep(0.5)
        for name, (process, begun) in list(running.items()):
            if process.poll() is None:
                continue
            del running[name]
            if process.returncode != 0:
                tail = (work / "logs" / f"{name}.log").read_text().strip().splitlines()[-5:]
                for other, _ in running.values():
                    other.terminate()
                raise SystemExit(f"training {name} failed (exit {process.returncode}):\n" + "\n".join(tail))
            timings[name] = round(time.perf_counter() - begun, 1)
            total = len(timings) + len(running) + len(pending)
            log(f"trained {name} in {timings[name]:.0f} s ({len(timings)} of {total})")
    record = {"commands": commands, "seconds": timings, "wall_seconds": round(time.perf_counter() - started, 1),
              "parallel": args.parallel, "steps": args.steps, "preset": args.preset, "size": args.size,
              "device": args.device, "seeds": args.seeds, "variants": args.variants, "threads": threads}
    (work / "training.json").write_text(json.dumps(record, indent=2) + "\n")


# --------------------------------------------------------------------------------------------- evaluate


def generated_and_scored(labels: Path, generated: Path, reference: Path, model: Path, device: str,
                         fps: float) -> dict:
    """`v2v generate` from `labels` into `generated` (lossless), then `v2v eval` against `reference`:
    {"generate_fps", "summary" (metric -> value over the video), "rows" (per frame)}. The one place that
    reads what generate_video and evaluate_videos return."""
    from v2vcli.evaluate import evaluate_videos
    from v2vcli.inference.generate import GenerateConfig, generate_video

    made = generate_video(labels, generated, GenerateConfig(model=str(model), device=device, fps=fps, crf=0,
                                                            overwrite=True, quiet=True))
    scored = evaluate_videos(generated, reference=reference)
    return {"generate_fps": made["frames_per_second"], "summary": scored["summary"], "rows": scored["rows"]}


def evaluate(args: argparse.Namespace, work: Path) -> dict:
    heldout = {name: Path(path) for name, path in json.loads((work / "heldout.json").read_text()).items()}
    training = json.loads((work / "training.json").read_text()) if (work / "training.json").is_file() else {}
    (work / "generated").mkdir(exist_ok=True)
    runs = []
    for name, variant, seed in run_names(args):
        for set_name, labels in heldout.items():
            generated = work / "generated" / f"{name}-{set_name}.mp4"
            meta = json.loads((labels.parent.parent / "dataset.json").read_text())
            result = generated_and_scored(labels, generated, work / "references" / f"{set_name}.mp4",
                                          work / "weights" / name, args.device, meta["fps"])
            runs.append({"run": name, "variant": variant, "seed": seed, "heldout": set_name,
                         "train_seconds": training.get("seconds", {}).get(name), **result})
            log(f"{name} on {set_name}: warp_error {result['summary']['warp_error']:.3f}, "
                f"PSNR {result['summary']['psnr']:.2f} dB")
    results = {"runs": runs, "aggregate": aggregate(runs, args), "training": training,
               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {device_name(args.device)}",
               "arguments": {key: str(value) if isinstance(value, Path) else value
                             for key, value in vars(args).items()}}
    (work / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return torch.cuda.get_device_name(0)
    return "CPU only"


def aggregate(runs: list[dict], args: argparse.Namespace) -> dict:
    """Per held-out set and variant: each metric's mean and min/max over seeds, and the ratios to no-flow."""
    table: dict[str, dict] = {}
    for set_name in dict.fromkeys(run["heldout"] for run in runs):
        rows = {}
        for variant in args.variants:
            chosen = [run for run in runs if run["heldout"] == set_name and run["variant"] == variant]
            rows[variant] = {metric: {"mean": float(np.mean(values)), "min": float(np.min(values)),
                                      "max": float(np.max(values))}
                             for metric in METRICS
                             for values in [[run["summary"][metric] for run in chosen]]}
            rows[variant]["train_seconds"] = _mean_or_none([run["train_seconds"] for run in chosen])
            first = chosen[0]["summary"]
            rows[variant]["warp_error_reference"] = first["warp_error_reference"]
            rows[variant]["flicker_reference"] = first["flicker_reference"]
        comparison = {}
        if "full" in rows and "no-flow" in rows:
            full, frame_by_frame = rows["full"], rows["no-flow"]
            ratio = full["warp_error"]["mean"] / frame_by_frame["warp_error"]["mean"]
            gap = full["psnr"]["mean"] - frame_by_frame["psnr"]["mean"]
            comparison = {
                "warp_error_ratio": ratio,
                "warp_error_absolute_ratio": full["warp_error_absolute"]["mean"]
                / frame_by_frame["warp_error_absolute"]["mean"],
                "flicker_ratio": full["flicker"]["mean"] / frame_by_frame["flicker"]["mean"],
                "psnr_difference": gap,
                "per_seed_warp_error_ratios": _per_seed_ratios(runs, set_name, "full", "no-flow"),
                "target_met": bool(ratio <= TARGET_RATIO and abs(gap) <= TARGET_PSNR_GAP),
            }
        table[set_name] = {"variants": rows, "full_vs_no_flow": comparison}
    return table


def _mean_or_none(values: list) -> float | None:
    present = [value for value in values if value is not None]
    return float(np.mean(present)) if present else None


def _per_seed_ratios(runs: list[dict], set_name: str, top: str, bottom: str) -> dict[int, float]:
    pick = {(run["variant"], run["seed"]): run["summary"]["warp_error"] for run in runs if run["heldout"] == set_name}
    return {seed: pick[(top, seed)] / pick[(bottom, seed)] for variant, seed in pick
            if variant == top and (bottom, seed) in pick}


def print_table(results: dict) -> None:
    for set_name, block in results["aggregate"].items():
        print(f"\nheld-out set: {set_name}")
        print(f"{'variant':<14}{'warp_error':>12}{'warp_abs':>10}{'flicker':>9}{'PSNR dB':>9}{'SSIM':>8}{'train s':>9}")
        for variant, row in block["variants"].items():
            seconds = f"{row['train_seconds']:.0f}" if row["train_seconds"] is not None else "-"
            print(f"{variant:<14}{row['warp_error']['mean']:>12.3f}{row['warp_error_absolute']['mean']:>10.3f}"
                  f"{row['flicker']['mean']:>9.3f}{row['psnr']['mean']:>9.2f}{row['ssim']['mean']:>8.3f}{seconds:>9}")
        real = next(iter(block["variants"].values()))
        print(f"{'real video':<14}{0.0:>12.3f}{real['warp_error_reference']:>10.3f}{real['flicker_reference']:>9.3f}")
        comparison = block["full_vs_no_flow"]
        if comparison:
            seeds = ", ".join(f"{value:.2f}" for value in comparison["per_seed_warp_error_ratios"].values())
            print(f"full / no-flow: warp_error x{comparison['warp_error_ratio']:.2f} (per seed {seeds}), "
                  f"absolute x{comparison['warp_error_absolute_ratio']:.2f}, "
                  f"flicker x{comparison['flicker_ratio']:.2f}, "
                  f"PSNR {comparison['psnr_difference']:+.2f} dB; target (<= x{TARGET_RATIO}, within "
                  f"{TARGET_PSNR_GAP} dB) {'met' if comparison['target_met'] else 'not met'}")


def plot(results: dict, output: Path) -> None:
    """Per held-out set: per-frame warping error and PSNR, each variant's mean over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(results["aggregate"])
    figure, axes = plt.subplots(len(sets), 2, figsize=(11, 3.4 * len(sets)), squeeze=False)
    for row, set_name in enumerate(sets):
        for column, metric in enumerate(("warp_error", "psnr")):
            axis = axes[row][column]
            for variant in results["aggregate"][set_name]["variants"]:
                chosen = [run["rows"] for run in results["runs"] if run["heldout"] == set_name
                          and run["variant"] == variant]
                frames = [item["frame"] for item in chosen[0] if item[metric] is not None]
                values = np.array([[item[metric] for item in rows if item[metric] is not None] for rows in chosen])
                mean = values.mean(axis=0)
                seeds = len(chosen)
                axis.plot(frames, mean, label=f"{LABELS[variant]} (mean {mean.mean():.2f})", linewidth=1.6)
                if seeds > 1:
                    axis.fill_between(frames, values.min(axis=0), values.max(axis=0), alpha=0.15)
            name = "warping error vs the real video (levels)" if metric == "warp_error" else "PSNR (dB)"
            axis.set_title(f"{set_name}: {name}", fontsize=10)
            axis.set_xlabel("held-out frame")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7.5)
    training = results.get("training") or {}
    if training:
        seeds = len(training["seeds"])
        figure.suptitle(f"preset {training['preset']}, {training['size']}, {training['steps']} steps, {seeds} seed(s) "
                        f"({'band: min-max over seeds, ' if seeds > 1 else ''}{results['machine']})", fontsize=10)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=100)
    plt.close(figure)


# ------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=REPO / "examples" / "target.mp4", help="the real clip")
    parser.add_argument("--train-frames", type=int, default=72, help="first N frames train, the rest are held out")
    parser.add_argument("--extra-heldout", default=str(REPO / "examples" / "source.mp4"),
                        help="a second held-out clip of the same person, other motion ('' for none)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for everything made (default runs/ablation, with --quick runs/ablation-quick)")
    parser.add_argument("--stages", nargs="+", default=["prepare", "train", "evaluate"],
                        choices=["prepare", "train", "evaluate"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--size", default="128x128", help="WxH of the dataset and the models")
    parser.add_argument("--steps", type=int, default=800, help="training steps, the same for every variant")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", type=int, default=1, help="training runs at once")
    parser.add_argument("--workers", type=int, default=0, help="data loading processes per training run")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per training run (default: CPUs / --parallel; 1 is steadier on a busy CPU)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps at {QUICK_SIZE}: a check")
    parser.add_argument("--plot", type=Path, default=None, help="plot PNG (default WORK/ablation.png)")
    parser.add_argument("--json", type=Path, default=None, help="also write the aggregate results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.size = QUICK_STEPS, QUICK_SIZE
    args.work = args.work or Path("runs/ablation-quick" if args.quick else "runs/ablation")
    args.extra_heldout = Path(args.extra_heldout) if args.extra_heldout else None
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if "prepare" in args.stages:
        prepare(args, work)
    if "train" in args.stages:
        train(args, work)
    if "evaluate" in args.stages:
        results = evaluate(args, work)
        print_table(results)
        if args.quick:
            print(f"\n--quick: {args.steps} steps, a check that every stage runs; the numbers are noise")
        plot(results, args.plot or work / "ablation.png")
        if args.json:
            args.json.write_text(json.dumps({key: results[key] for key in ("aggregate", "training", "machine",
                                                                           "arguments")}, indent=1) + "\n")
    log(f"done in {time.perf_counter() - started:.0f} s; everything is under {work}")


if __name__ == "__main__":
    main()
