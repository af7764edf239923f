"""Quality on real footage of a person: train on the first part of a real clip, generate the held-out rest
from its pose maps, and measure how close it comes (docs/results.md, "Quality on real footage").

    python benchmarks/quality.py                    # the CPU run: sports2d, tiny preset at its 128 px cap, 1000 steps
    python benchmarks/quality.py --quick            # a few steps on a short, small clip: checks that it all runs
    python benchmarks/quality.py --device cuda --preset small --steps 2000 --parallel 2 --workers 2   # the GPU run
    python benchmarks/quality.py --clip talking-head --compare face --parallel 2   # the face refiner, on a close-up

Run it from the root of the checkout whose v2vcli is measured (training runs `python -m v2vcli` there).

Stages (all by default, or pick with --stages; each reads what the one before left in --work):
  prepare   the clip: a fixed square crop around the person (--clip names one of CLIPS), scaled to --clip-size,
            written losslessly; its first --train-frames frames become the training set, the rest are held
            out. `v2v prepare` with its defaults on each part (the held-out part: condition maps only) and
            `v2v pose` on each part (its poses.json: the keypoints its condition maps were drawn from).
  train     `v2v train` with the preset's config (full: flow-warped, with the face refiner, as users get it)
            and the same config without one part (--compare): the flow path (frame by frame, ablation.py's
            `no-flow`) or the face refiner and its discriminator (`no-face`); same seed and steps. The size
            is the one `v2v train` picks by default (the preset's cap); the face box is the clip's.
  generate  `v2v generate` on the condition maps of each part with both models (H.264 crf 0).
  evaluate  `v2v eval` of each against the real frames at the generated size, with `--poses`: PSNR, SSIM,
            warping error (and full / frame-by-frame), flicker, pose error and how often a person is found
            again, face-region PSNR/SSIM and face and hand keypoint errors. The held-out part is the result;
            the training part tells whether the model can draw even the frames it learned from. Prints the
            tables; writes results.json, strip.png (held-out frames: real | condition | generated) and
            faces.png (held-out face regions: real | generated).

Stages can run on different machines sharing --work: mediapipe (prepare, evaluate) may be missing where
the GPU is (train, generate). Every stage records its wall and CPU seconds in WORK/timings.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ablation  # noqa: E402
from common import ROOT, cpu_seconds, machine  # noqa: E402

# What each comparison trains: the model as users get it ("full"), against one without a part of it.
# "flow": frame by frame (ablation.py's `no-flow`); "face": without the face refiner and its discriminator.
COMPARISONS = {"flow": ("full", "no-flow"), "face": ("full", "no-face")}
VARIANTS = COMPARISONS["flow"]
STAGES = ("prepare", "train", "generate", "evaluate")
PARTS = ("heldout", "training")  # the headline, and the frames the model was trained on
REAL_VIDEO = ("warp_error_reference", "flicker_reference", "pose_error_reference", "pose_detected_reference",
              "pose_error_pixels_reference", "pose_error_normalized_reference", "face_error_reference",
              "face_error_pixels_reference", "hand_error_reference")
METRICS = ("psnr", "ssim", "warp_error", "warp_error_absolute", "flicker", "pose_error", "pose_detected",
           "pose_error_pixels", "pose_error_normalized", "face_psnr", "face_ssim", "face_error", "face_error_pixels",
           "hand_error", "hand_error_pixels")
# The face refiner's aim (docs/results.md): face PSNR at least this much higher, face keypoint error this much lower.
FACE_TARGET_PSNR_GAIN, FACE_TARGET_ERROR_RATIO = 1.5, 0.75


@dataclass(frozen=True)
class Clip:
    """A square crop of a real clip (examples/footage.py) around one person, and its split."""

    footage: str  # the clip's name in examples/footage.py
    first: int  # first source frame used
    frames: int  # frames used
    crop: tuple[int, int, int, int]  # x, y, width, height in source pixels (width == height)
    train_frames: int  # the first this-many frames train; the rest are held out
    content: str
    face_size: float | None = None  # the model's face box (ModelConfig.face_size); None: the preset's


CLIPS = {
    "sports2d": Clip(
        "sports2d", 0, 144, (420, 0, 520, 520), 112,
        "the man on the box, full body, about 400 px tall in the 520 px crop: jumping jacks (frames 0-85), "
        "then he turns and walks sideways along the box; held out (112-143): walking sideways, before his back "
        "flip"),
    "talking-head": Clip(
        "talking-head", 0, 472, (280, 0, 360, 360), 376,
        "one woman, head and the top of the shoulders, static camera and background; pose gives the face "
        "points (and the shoulders, mostly below the frame); held out: the last 96 frames (4 s). A close-up: "
        "the face is about half the frame, so the face box is too", face_size=0.5),
}
QUICK = dict(frames=40, train_frames=30, clip_size=128, steps=6)
# The budget of the starting figures in docs/results.md, fixed so that later code compares at the same one
# (`v2v train`'s own default now depends on the preset).
STEPS = 1000


def log(message: str) -> None:
    ablation.log(message)


def load_footage():
    """examples/footage.py, loaded by path (it is a script, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("v2v_footage", ROOT / "examples" / "footage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def library() -> dict:
    """Where the measured v2vcli comes from, its commit, and its files that differ from that commit."""
    import v2vcli

    root = Path(v2vcli.__file__).resolve().parent.parent

    def git(*command: str) -> str:
        run = subprocess.run(["git", "-C", str(root), *command], capture_output=True, text=True)
        return run.stdout.rstrip() if run.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", "v2vcli").splitlines()]
    return {"v2vcli": str(Path(v2vcli.__file__).resolve()), "commit": git("rev-parse", "--short", "HEAD"),
            "changed": changed}


# ---------------------------------------------------------------------------------------------- prepare


def make_clip(source: Path, clip: Clip, frames: int, side: int, output: Path) -> Path:
    """Frames [first, first + frames) of `source`, cropped to clip.crop and scaled to side x side, lossless."""
    import cv2

    from v2vcli.errors import BadInput
    from v2vcli.io.video import VideoReader, VideoWriter, probe_video

    info = probe_video(source)
    x, y, width, height = clip.crop
    if clip.first + frames > info.frame_count or x + width > info.width or y + height > info.height:
        raise BadInput(f"{source} ({info.width}x{info.height}, {info.frame_count} frames) is too small for "
                       f"frames {clip.first}..{clip.first + frames - 1} cropped at {clip.crop}")
    output.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(output, info.fps, lossless=True) as writer:
        for index, frame in enumerate(VideoReader(source, info=info)):
            if index >= clip.first + frames:
                break
            if index >= clip.first:
                writer.write(cv2.resize(frame[y:y + height, x:x + width], (side, side), interpolation=cv2.INTER_AREA))
    return output


def prepare(args: argparse.Namespace, work: Path) -> dict:
    """The clip, its split, the two datasets and the held-out poses.json; returns what it made."""
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset
    from v2vcli.preprocess.pose import run_pose

    source = load_footage().fetch(args.clip.footage) if args.video is None else args.video
    clip = make_clip(source, args.clip, args.frames, args.clip_size, work / "clips" / "clip.mp4")
    train_clip, heldout_clip = ablation.split_clip(clip, args.train_frames, work / "clips")
    (work / "data").mkdir(exist_ok=True)
    # `v2v prepare`'s defaults: the video's size, masks and flow; the held-out part needs its labels only.
    prepare_dataset([train_clip], work / "data" / "train", PrepareConfig(overwrite=True, quiet=True))
    prepare_dataset([heldout_clip], work / "data" / "heldout",
                    PrepareConfig(masks=False, flow=False, overwrite=True, quiet=True))
    (work / "poses").mkdir(exist_ok=True)
    for name, part in (("heldout", heldout_clip), ("training", train_clip)):
        # The condition maps (prepare) and poses.json (pose) come from the same mediapipe run on the same
        # frames, deterministic on one machine: the same keypoints, up to poses.json's rounding to 0.01 px.
        run_pose(part, work / "poses" / name, overwrite=True, quiet=True)
    return {"source": str(source), "clip": str(clip), "settings": clip_settings(args)}


def clip_settings(args: argparse.Namespace) -> dict:
    return {"clip": args.clip_name, **asdict(args.clip), "frames": args.frames, "train_frames": args.train_frames,
            "clip_size": args.clip_size, "quick": args.quick}


def sequence_folder(work: Path, part: str) -> Path:
    """The prepared frames/ and labels/ of a part: "heldout" (the headline) or "training" (a diagnostic:
    can the model draw the frames it was trained on?)."""
    return work / "data" / "heldout" / "heldout" if part == "heldout" else work / "data" / "train" / "train"


def generated_video(work: Path, variant: str, seed: int, part: str) -> Path:
    return work / "generated" / f"{run_name(variant, seed)}-{part}.mp4"


# ------------------------------------------------------------------------------------------------ train


def default_size(args: argparse.Namespace, work: Path) -> str:
    """The size `v2v train` picks for this dataset and preset when given no --size (the preset's cap)."""
    from v2vcli.config import preset
    from v2vcli.data import choose_size, open_dataset

    config = preset(args.preset)
    width, height = choose_size(open_dataset(work / "data" / "train"), config.data, config.model.size_multiple)
    return f"{width}x{height}"


def write_configs(args: argparse.Namespace, work: Path) -> dict[str, Path]:
    """variant -> its config file: the preset (with the clip's face box), and for `no-flow` / `no-face` that
    part off."""
    from v2vcli.config import preset

    folder = work / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for variant in args.variants:
        config = preset(args.preset)
        if args.clip.face_size is not None:
            config.model.face_size = args.clip.face_size
        config.model.use_flow = variant != "no-flow"
        config.model.face = variant != "no-face"
        paths[variant] = folder / f"{variant}.json"
        config.save(paths[variant])
    return paths


def train(args: argparse.Namespace, work: Path) -> None:
    """ablation.py's training stage with this benchmark's two variants (its configs) and one seed."""
    size = default_size(args, work)
    settings = argparse.Namespace(variants=list(args.variants), seeds=[args.seed], preset=args.preset,
                                  steps=args.steps, size=size, device=args.device, parallel=args.parallel,
                                  threads=args.threads, workers=args.workers)
    log(f"training {', '.join(args.variants)} with preset {args.preset} at {size}, {args.steps} steps, "
        f"seed {args.seed}")
    ablation.train(settings, work, write_configs(args, work))


def run_name(variant: str, seed: int) -> str:
    return f"{variant}-s{seed}"


# --------------------------------------------------------------------------------------------- generate


def generate(args: argparse.Namespace, work: Path) -> dict:
    from v2vcli.inference.generate import GenerateConfig, generate_video

    fps = json.loads((work / "data" / "heldout" / "dataset.json").read_text())["fps"]
    (work / "generated").mkdir(exist_ok=True)
    speeds = {}
    for variant, part in itertools.product(args.variants, PARTS):
        name = run_name(variant, args.seed)
        config = GenerateConfig(model=str(work / "weights" / name), device=args.device, fps=fps, crf=0,
                                overwrite=True, quiet=True)
        output = generated_video(work, variant, args.seed, part)
        summary = generate_video(sequence_folder(work, part) / "labels", output, config)
        speeds[f"{name}-{part}"] = summary["frames_per_second"]
    return {"generate_frames_per_second": speeds}


# --------------------------------------------------------------------------------------------- evaluate


def write_reference(work: Path, part: str, size: tuple[int, int], fps: float) -> Path:
    """The real frames of a part at the generated size (scaled as `v2v prepare` scales: INTER_AREA), crf 0
    like the generated videos, so both share the chroma subsampling and no codec noise."""
    import cv2

    from v2vcli.io.frames import read_frame_folder
    from v2vcli.io.video import VideoWriter

    output = work / "references" / f"{part}-{size[0]}x{size[1]}.mp4"
    output.parent.mkdir(exist_ok=True)
    with VideoWriter(output, fps, crf=0) as writer:
        for frame in read_frame_folder(sequence_folder(work, part) / "frames"):
            writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    return output


def compare(full: dict, other: dict, comparison: str) -> dict:
    """The headline of a comparison from two summaries: for "flow", full / no-flow warping error; for
    "face", the face PSNR gain and face keypoint error ratio of full over no-face, and whether they meet
    the aim."""
    if comparison == "flow":
        return {"warp_error_vs_frame_by_frame": full["warp_error"] / other["warp_error"]}
    gain = full["face_psnr"] - other["face_psnr"]
    # a face error of 0 (every face point exact) leaves nothing to improve on: no ratio
    ratio = full["face_error"] / other["face_error"] if other["face_error"] else None
    met = gain >= FACE_TARGET_PSNR_GAIN and ratio is not None and ratio <= FACE_TARGET_ERROR_RATIO
    return {"face_psnr_gain": gain, "face_error_ratio": ratio, "face_target_met": bool(met)}


def evaluate(args: argparse.Namespace, work: Path) -> dict:
    """Both variants on both parts; per part the summaries, the comparison, the real video's floors and rows."""
    from v2vcli.evaluate import evaluate_videos
    from v2vcli.io.video import probe_video

    info = probe_video(generated_video(work, "full", args.seed, "heldout"))
    parts = {}
    for part in PARTS:
        reference = write_reference(work, part, (info.width, info.height), float(info.fps))
        poses = work / "poses" / part / "poses.json"
        results = {}
        for variant in args.variants:
            results[variant] = evaluate_videos(generated_video(work, variant, args.seed, part), reference=reference,
                                               poses=poses)
            log(f"{variant} on {part}: PSNR {results[variant]['summary']['psnr']:.2f} dB, "
                f"pose error {results[variant]['summary']['pose_error']:.3f}")
        full, other = (results[variant]["summary"] for variant in args.variants)
        parts[part] = {
            "variants": {variant: {key: result["summary"][key] for key in METRICS}
                         for variant, result in results.items()},
            **compare(full, other, args.compare),
            "real_video": {key: full[key] for key in REAL_VIDEO},
            "frames": len(results["full"]["rows"]),
            "pose_frames": full["pose_frames"],
            "face_frames": full["face_frames"],
            "rows": {variant: result["rows"] for variant, result in results.items()},
            "reference": str(reference),
            "poses": str(poses),
        }
    return {"size": [info.width, info.height], "compare": args.compare, "variants": list(args.variants),
            "parts": parts}


def draw_strip(work: Path, evaluation: dict, output: Path, columns: int = 5, zoom: int = 2) -> Path:
    """Rows real | condition map | each variant's generated frames (full, then the other), for `columns`
    held-out frames spread over the held-out part, each shown at the generated size times `zoom`."""
    import cv2

    from v2vcli.io.frames import frame_paths, read_image
    from v2vcli.io.video import read_frames

    size = tuple(evaluation["size"])
    heldout = evaluation["parts"]["heldout"]
    picks = np.linspace(0, heldout["frames"] - 1, columns).round().astype(int)
    labels = frame_paths(sequence_folder(work, "heldout") / "labels")
    rows = {"real": list(read_frames(heldout["reference"])),
            "condition": [cv2.resize(read_image(path), size, interpolation=cv2.INTER_AREA) for path in labels]}
    for variant in evaluation["variants"]:
        rows[variant] = list(read_frames(generated_video(work, variant, evaluation["seed"], "heldout")))
    return write_grid(rows, picks, None, size[0] * zoom, size[1] * zoom, output)


def draw_faces(work: Path, evaluation: dict, output: Path, columns: int = 6, side: int = 96) -> Path | None:
    """Rows real | each variant's generated frames, cut to the face region `v2v eval` measures (from the
    held-out poses.json), for `columns` held-out frames with a face, each scaled to `side` pixels; None
    (nothing drawn) when no held-out frame shows a face."""
    from v2vcli.evaluate.face_region import FaceRegions
    from v2vcli.evaluate.pose_error import load_condition_poses
    from v2vcli.io.video import read_frames

    size = tuple(evaluation["size"])
    heldout = evaluation["parts"]["heldout"]
    header, poses = load_condition_poses(heldout["poses"], heldout["frames"], heldout["reference"])
    regions = FaceRegions(poses, (header["width"], header["height"]), header["backend"])
    boxes = [regions.box(index, size) for index in range(heldout["frames"])]
    with_face = [index for index, box in enumerate(boxes) if box is not None]
    if not with_face:
        return None
    picks = [with_face[round(position)] for position in np.linspace(0, len(with_face) - 1, columns)]
    rows = {"real": list(read_frames(heldout["reference"]))}
    for variant in evaluation["variants"]:
        rows[variant] = list(read_frames(generated_video(work, variant, evaluation["seed"], "heldout")))
    return write_grid(rows, picks, boxes, side, side, output)


def write_grid(rows: dict[str, list[np.ndarray]], picks: list[int], boxes: list | None, tile_w: int, tile_h: int,
               output: Path) -> Path:
    """A PNG grid: one labelled row per entry of `rows`, the frames `picks` (cut to boxes[index], x0, y0,
    x1, y1, where boxes are given) scaled to tile_w x tile_h."""
    import cv2

    from v2vcli.io.frames import write_image

    margin = 110
    columns = len(picks)
    image = np.full((len(rows) * tile_h, margin + columns * tile_w, 3), 255, np.uint8)
    for row, (name, frames) in enumerate(rows.items()):
        cv2.putText(image, name, (6, row * tile_h + tile_h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                    cv2.LINE_AA)
        for column, index in enumerate(picks):
            frame = frames[index]
            if boxes is not None:
                x0, y0, x1, y1 = boxes[index]
                frame = frame[y0:y1, x0:x1]
            tile = cv2.resize(frame, (tile_w, tile_h), interpolation=cv2.INTER_NEAREST)
            image[row * tile_h:(row + 1) * tile_h, margin + column * tile_w:margin + (column + 1) * tile_w] = tile
    output.parent.mkdir(parents=True, exist_ok=True)
    write_image(output, image)
    return output


def print_table(results: dict) -> None:
    settings, evaluation, library_used = results["settings"], results["evaluation"], results["library"]
    changed = f" + {', '.join(library_used['changed'])}" if library_used["changed"] else ""
    print(f"\nclip {settings['clip']} ({settings['train_frames']} training frames, "
          f"{settings['frames'] - settings['train_frames']} held out), generated at "
          f"{evaluation['size'][0]}x{evaluation['size'][1]}; preset {settings['preset']}, {settings['steps']} steps, "
          f"seed {settings['seed']}; v2vcli {library_used['commit']}{changed}")
    for part, block in evaluation["parts"].items():
        print(f"\n{part} ({block['frames']} frames{'' if part == 'heldout' else ', seen in training'})")
        print(f"{'variant':<10}{'PSNR dB':>9}{'SSIM':>8}{'warp err':>10}{'flicker':>9}{'pose err':>10}{'found':>8}"
              f"{'px':>8}{'/size':>8}{'face dB':>9}{'face SSIM':>10}{'face err':>9}{'face px':>8}{'hand err':>9}")
        for name, row in block["variants"].items():
            print(f"{name:<10}{row['psnr']:>9.2f}{row['ssim']:>8.3f}{row['warp_error']:>10.2f}{row['flicker']:>9.2f}"
                  f"{row['pose_error']:>10.3f}{_percent(row['pose_detected']):>8}"
                  f"{_number(row['pose_error_pixels'])}{_number(row['pose_error_normalized'], 3)}"
                  f"{_number(row['face_psnr'], 2, 9)}{_number(row['face_ssim'], 3, 10)}"
                  f"{_number(row['face_error'], 3, 9)}{_number(row['face_error_pixels'])}"
                  f"{_number(row['hand_error'], 3, 9)}")
        real = block["real_video"]
        print(f"{'real':<10}{'':>9}{'':>8}{0.0:>10.2f}{real['flicker_reference']:>9.2f}"
              f"{real['pose_error_reference']:>10.3f}{_percent(real['pose_detected_reference']):>8}"
              f"{_number(real['pose_error_pixels_reference'])}{_number(real['pose_error_normalized_reference'], 3)}"
              f"{'':>9}{'':>10}{_number(real['face_error_reference'], 3, 9)}"
              f"{_number(real['face_error_pixels_reference'])}{_number(real['hand_error_reference'], 3, 9)}")
        print(f"pose error over {block['pose_frames']} frames with a person; face PSNR/SSIM over "
              f"{block['face_frames']} frames with a face")
        if "warp_error_vs_frame_by_frame" in block:
            print(f"warping error vs frame-by-frame (full / no-flow): x{block['warp_error_vs_frame_by_frame']:.2f}")
        else:
            print(f"face refiner (full vs no-face): face PSNR {block['face_psnr_gain']:+.2f} dB (aim >= "
                  f"+{FACE_TARGET_PSNR_GAIN}), face keypoint error x{_number(block['face_error_ratio'], 2, 0)} (aim <= "
                  f"x{FACE_TARGET_ERROR_RATIO}): {'met' if block['face_target_met'] else 'not met'}")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _number(value: float | None, digits: int = 2, width: int = 8) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


# ------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="sports2d", choices=list(CLIPS), help="the real clip and its crop")
    parser.add_argument("--compare", default="flow", choices=list(COMPARISONS),
                        help="what the second model lacks: the flow path (frame by frame) or the face refiner")
    parser.add_argument("--video", type=Path, default=None,
                        help="use this file instead of fetching the clip (the crop and frames still apply)")
    parser.add_argument("--frames", type=int, default=None, help="frames used (default: the clip's)")
    parser.add_argument("--train-frames", type=int, default=None, help="first N train, the rest are held out")
    parser.add_argument("--clip-size", type=int, default=256, help="side of the square clip `v2v prepare` gets")
    parser.add_argument("--work", type=Path, default=None, help="folder for everything (default runs/quality-CLIP)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--preset", default="tiny", help="`v2v train --preset` (tiny: its default)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps (default {STEPS}; with --quick {QUICK['steps']})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--parallel", type=int, default=1, help="training runs at once (2: both together)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per training run (1: steadier and cheaper on a busy CPU)")
    parser.add_argument("--workers", type=int, default=0, help="data loading processes per training run")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['frames']} frames at {QUICK['clip_size']} px, {QUICK['steps']} steps: a check")
    parser.add_argument("--strip", type=Path, default=None, help="frame strip PNG (default WORK/strip.png)")
    parser.add_argument("--faces", type=Path, default=None,
                        help="face crops PNG: real | each variant in the face region (default WORK/faces.png)")
    parser.add_argument("--json", type=Path, default=None, help="also write results.json (without rows) here")
    args = parser.parse_args(argv)
    args.clip_name, args.clip = args.clip, CLIPS[args.clip]
    args.variants = COMPARISONS[args.compare]
    args.steps = args.steps or (QUICK["steps"] if args.quick else STEPS)
    if args.quick:
        args.clip_size = QUICK["clip_size"]
    args.frames = args.frames or (QUICK["frames"] if args.quick else args.clip.frames)
    args.train_frames = args.train_frames or (QUICK["train_frames"] if args.quick else args.clip.train_frames)
    args.work = args.work or Path(f"runs/quality-{args.clip_name}" + ("-quick" if args.quick else ""))
    return args


def check_library() -> None:
    """Training runs `python -m v2vcli` in the current folder, which imports the v2vcli found there first:
    refuse to measure one checkout's training and another's generation."""
    import v2vcli

    root = Path(v2vcli.__file__).resolve().parent.parent
    if root != Path.cwd().resolve():
        raise SystemExit(f"error: this process imports v2vcli from {root} but training would run in {Path.cwd()}; "
                         f"run from {root} (or set PYTHONPATH to the checkout you run from)")


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if "train" in args.stages:
        check_library()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    timings_path = work / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    outcome = json.loads((work / "stages.json").read_text()) if (work / "stages.json").is_file() else {}
    for stage, run in (("prepare", prepare), ("train", train), ("generate", generate), ("evaluate", evaluate)):
        if stage not in args.stages:
            continue
        wall, cpu = time.perf_counter(), cpu_seconds()
        made = run(args, work)
        timings[stage] = {"wall_seconds": round(time.perf_counter() - wall, 1),
                          "cpu_seconds": round(cpu_seconds() - cpu, 1), "load_after": os.getloadavg()[0]}
        log(f"{stage}: {timings[stage]['wall_seconds']:.0f} s wall, {timings[stage]['cpu_seconds']:.0f} s CPU")
        timings_path.write_text(json.dumps(timings, indent=2) + "\n")
        if made:
            outcome[stage] = made
            (work / "stages.json").write_text(json.dumps(outcome, indent=1) + "\n")
    if "evaluate" not in args.stages:
        return None
    training = json.loads((work / "training.json").read_text()) if (work / "training.json").is_file() else {}
    # What the stages recorded when they ran (perhaps on other machines), over this call's arguments.
    settings = {**clip_settings(args), "compare": args.compare, "preset": args.preset, "steps": args.steps,
                "seed": args.seed, "device": args.device, "parallel": args.parallel, "threads": args.threads}
    settings |= outcome.get("prepare", {}).get("settings", {})
    settings |= {key: training[key] for key in ("preset", "steps", "device", "parallel", "threads") if key in training}
    evaluation = outcome["evaluate"] | {"seed": args.seed}
    results = {"settings": settings, "library": library(), "machine": machine(), "timings": timings,
               "training": training, "prepare": outcome.get("prepare"), "generate": outcome.get("generate"),
               "evaluation": evaluation}
    (work / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    strip = draw_strip(work, evaluation, args.strip or work / "strip.png")
    faces = draw_faces(work, evaluation, args.faces or work / "faces.png")
    print_table(results)
    print(f"strip: {strip}; face crops: {faces or 'none (no face in the held-out frames)'}; "
          f"results: {work / 'results.json'}")
    if args.json:
        without_rows = results | {"evaluation": {k: v for k, v in evaluation.items() if k != "rows"}}
        args.json.write_text(json.dumps(without_rows, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
