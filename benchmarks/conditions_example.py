"""Street and face examples of the edges and face conditions: train on the first part of a real clip,
generate its held-out rest from the condition maps, and measure it against a frame-by-frame model
(docs/results.md, "Edges and face sketches on real footage").

    python benchmarks/conditions_example.py --example street    # dashcam, edges, tiny preset at 128 px
    python benchmarks/conditions_example.py --example face      # talking-head, face sketches
    python benchmarks/conditions_example.py --example street --quick   # a few steps: checks that it all runs

Run it from the root of the checkout whose v2vcli is measured. The stages are ablation.py's and
quality.py's, with the example's condition: the clip (quality.make_clip: a square crop scaled to 128 px,
lossless), split into training and held-out frames (ablation.split_clip); `v2v prepare --condition
NAME` on each part; `v2v train` of the flow-warped model (vid2vid) and the frame-by-frame one, same
preset, seed and steps (ablation.train); `v2v generate` on the held-out part's condition maps and `v2v
eval` against its real frames (ablation.generated_and_scored): PSNR, SSIM, warping error, flicker.
Writes WORK/results.json and a frame strip (held-out frames: real | condition | flow-warped | frame by
frame) to --strip.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ablation  # noqa: E402
import quality  # noqa: E402
from common import machine  # noqa: E402


@dataclass(frozen=True)
class Example:
    condition: str
    clip: quality.Clip


EXAMPLES = {
    "street": Example("edges", quality.Clip(
        "dashcam", 0, 220, (210, 0, 540, 540), 176,
        "highway driving, the middle of the frame: the lane ahead, its markings, the guard rail, cars; held out: "
        "the last 44 frames (1.8 s) of the drive")),
    "face": Example("face", quality.CLIPS["talking-head"]),
}
VARIANTS = ("full", "no-flow")  # ablation.py's: flow-warped (vid2vid) and frame by frame
SIDE = 128
QUICK = dict(frames=40, train_frames=30, steps=6)


def prepare(args: argparse.Namespace, work: Path) -> dict:
    """The clip, its split, the training set and the held-out condition maps and real frames."""
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset

    source = quality.load_footage().fetch(args.clip.footage)
    clip = quality.make_clip(source, args.clip, args.frames, SIDE, work / "clips" / "clip.mp4")
    train_clip, heldout_clip = ablation.split_clip(clip, args.train_frames, work / "clips")
    (work / "data").mkdir(exist_ok=True)
    common = dict(condition=args.condition, size=[SIDE, SIDE], masks=False, overwrite=True, quiet=True)
    prepare_dataset([train_clip], work / "data" / "train", PrepareConfig(**common))
    prepare_dataset([heldout_clip], work / "data" / "heldout", PrepareConfig(**common, flow=False))
    meta = json.loads((work / "data" / "heldout" / "dataset.json").read_text())
    (work / "references").mkdir(exist_ok=True)
    ablation.write_reference(heldout_folder(work) / "frames", work / "references" / "heldout.mp4", meta["fps"])
    return {"source": str(source), "fps": meta["fps"]}


def heldout_folder(work: Path) -> Path:
    return work / "data" / "heldout" / "heldout"


def evaluate(args: argparse.Namespace, work: Path, fps: float) -> dict:
    """Each model on the held-out condition maps, scored against the real held-out frames."""
    scores = {}
    (work / "generated").mkdir(exist_ok=True)
    for variant in VARIANTS:
        scores[variant] = ablation.generated_and_scored(
            heldout_folder(work) / "labels", work / "generated" / f"{variant}.mp4", work / "references" / "heldout.mp4",
            work / "weights" / f"{variant}-s{args.seed}", args.device, fps)
    full, frame_by_frame = (scores[variant]["summary"] for variant in VARIANTS)
    return {"variants": {variant: {key: score["summary"][key] for key in ablation.METRICS}
                         for variant, score in scores.items()},
            "generate_fps": {variant: score["generate_fps"] for variant, score in scores.items()},
            "warp_error_vs_frame_by_frame": full["warp_error"] / frame_by_frame["warp_error"],
            "real_video": {key: full[key] for key in ("warp_error_reference", "flicker_reference")}}


def draw_strip(work: Path, output: Path, columns: int) -> Path:
    """Rows real | condition | each variant, `columns` held-out frames spread over the held-out part."""
    from v2vcli.io.frames import frame_paths, read_image
    from v2vcli.io.video import read_frames

    real = list(read_frames(work / "references" / "heldout.mp4"))
    maps = [read_image(path) for path in frame_paths(heldout_folder(work) / "labels")]
    rows = {"real": real, "condition": [np.repeat(m[..., None], 3, 2) if m.ndim == 2 else m for m in maps]}
    labels = {"full": "vid2vid", "no-flow": "no flow"}
    for variant in VARIANTS:
        rows[labels[variant]] = list(read_frames(work / "generated" / f"{variant}.mp4"))
    picks = np.linspace(0, len(real) - 1, columns).round().astype(int).tolist()
    return quality.write_grid(rows, picks, None, SIDE, SIDE, output)


def print_table(results: dict) -> None:
    evaluation = results["evaluation"]
    print(f"\n{results['example']}: {results['condition']} maps, {results['train_frames']} training frames, "
          f"{results['frames'] - results['train_frames']} held out, {SIDE}x{SIDE}, preset {results['preset']}, "
          f"{results['steps']} steps, seed {results['seed']}")
    print(f"{'model':<16}{'PSNR dB':>9}{'SSIM':>8}{'warp err':>10}{'flicker':>9}")
    for variant, values in evaluation["variants"].items():
        print(f"{variant:<16}{values['psnr']:>9.2f}{values['ssim']:>8.3f}{values['warp_error']:>10.2f}"
              f"{values['flicker']:>9.2f}")
    real = evaluation["real_video"]
    print(f"{'real video':<16}{'':>9}{'':>8}{real['warp_error_reference']:>10.2f}{real['flicker_reference']:>9.2f}")
    print(f"warping error, flow-warped / frame by frame: {evaluation['warp_error_vs_frame_by_frame']:.2f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--example", choices=list(EXAMPLES), required=True)
    parser.add_argument("--steps", type=int, default=600, help="training steps of each model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", type=int, default=2, help="training runs at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training run")
    parser.add_argument("--work", type=Path, default=None, help="folder for everything made (default runs/EXAMPLE)")
    parser.add_argument("--strip", type=Path, default=None, help="frame strip PNG (default WORK/strip.png)")
    parser.add_argument("--columns", type=int, default=5, help="held-out frames in the strip")
    parser.add_argument("--quick", action="store_true", help="a few steps on a few frames: a check")
    args = parser.parse_args(argv)
    example = EXAMPLES[args.example]
    args.condition, args.clip = example.condition, example.clip
    args.frames, args.train_frames = args.clip.frames, args.clip.train_frames
    if args.quick:
        args.frames, args.train_frames, args.steps = QUICK["frames"], QUICK["train_frames"], QUICK["steps"]
    args.work = args.work or Path("runs") / (args.example + ("-quick" if args.quick else ""))
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    made = prepare(args, work)
    training = argparse.Namespace(variants=list(VARIANTS), seeds=[args.seed], preset="tiny", steps=args.steps,
                                  size=f"{SIDE}x{SIDE}", device=args.device, parallel=args.parallel,
                                  threads=args.threads, workers=0)
    ablation.train(training, work)
    results = {"example": args.example, "condition": args.condition, "clip": args.clip.footage,
               "content": args.clip.content, "frames": args.frames, "train_frames": args.train_frames,
               "preset": "tiny", "steps": args.steps, "seed": args.seed, "source": made["source"],
               "evaluation": evaluate(args, work, made["fps"]),
               "training_seconds": json.loads((work / "training.json").read_text())["seconds"],
               "machine": machine(), "library": quality.library()}
    results["strip"] = str(draw_strip(work, args.strip or work / "strip.png", args.columns))
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    (work / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)
    ablation.log(f"done in {results['wall_seconds']:.0f} s; everything is under {work}")
    return results


if __name__ == "__main__":
    main()
