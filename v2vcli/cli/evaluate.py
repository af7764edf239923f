"""`v2v eval`: how temporally consistent (and, with a reference, how faithful) a generated video is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from v2vcli.cli.options import Json, Overwrite, Quiet, show
from v2vcli.preprocess.pose_backend import DETECTION_CONFIDENCE

if TYPE_CHECKING:
    from v2vcli.evaluate.run import EvalResult


def _line(name: str, value: float | None, digits: int, unit: str = "", note: str = "") -> str:
    shown = "n/a" if value is None else f"{value:.{digits}f}"
    return f"  {name:<24} {shown:>8}  {unit}{f'  ({note})' if note else ''}".rstrip()


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _pose_lines(summary: dict, suffix: str) -> list[str]:
    """The pose error lines of `summary` for the generated video (suffix "") or the reference."""
    joints = summary["pose_joints" + suffix]
    compared = "n/a" if joints is None else f"{joints:.1f}"
    return [
        _line("pose error", summary["pose_error" + suffix], 3, "", "of the person's size, capped at 1; 1 if not found"),
        _line("pose found again", None if summary["pose_detected" + suffix] is None
              else 100 * summary["pose_detected" + suffix], 1, "%"),
        _line("pose distance", summary["pose_error_pixels" + suffix], 2, "px", f"{compared} joints compared"),
        _line("pose distance / size", summary["pose_error_normalized" + suffix], 3, "", "where found"),
        _line("face keypoint error", summary["face_error" + suffix], 3, "", "of the face's size, capped at 1"),
        _line("face keypoint distance", summary["face_error_pixels" + suffix], 2, "px", "where found"),
        _line("hand keypoint error", summary["hand_error" + suffix], 3, "", "of the hand's size, capped at 1"),
    ]


def summary_table(result: EvalResult) -> str:
    """The result as aligned lines for a terminal."""
    summary = result.summary
    has_reference = result.reference is not None
    lines = [f"generated   {result.generated}  ({result.frames} frames, {result.width}x{result.height})"]
    if has_reference:
        lines.append(f"reference   {result.reference}")
    if result.condition:
        lines.append(f"condition   {result.condition}")
    lines.append(f"flow from   the {result.flow_source} video ({result.flow_method})")
    visible = f"{result.warp_error_kind}; {_percent(summary['visible_fraction'])} of pixels visible"
    lines.append(_line("warping error", summary["warp_error"], 3, "levels", visible))
    if has_reference:
        lines.append(_line("warping error, absolute", summary["warp_error_absolute"], 3, "levels"))
        lines.append(_line("reference's own", summary["warp_error_reference"], 3, "levels"))
    static = f"over the {_percent(summary['static_fraction'])} of pixels that are static"
    lines.append(_line("flicker", summary["flicker"], 3, "levels", static))
    if has_reference:
        lines.append(_line("reference's own", summary["flicker_reference"], 3, "levels"))
        lines.append(_line("PSNR", summary["psnr"], 2, "dB", f"capped at {result.psnr_cap:g}"))
        lines.append(_line("SSIM", summary["ssim"], 4))
    if result.poses:
        lines.append(f"poses       {result.poses}  ({summary['pose_frames']} frames with a person to find)")
        if has_reference:
            lines.append(_line("face PSNR", summary["face_psnr"], 2, "dB", f"in the face region, "
                                                                            f"{summary['face_frames']} frames"))
            lines.append(_line("face SSIM", summary["face_ssim"], 4))
        lines.extend(_pose_lines(summary, ""))
        if has_reference:
            lines.append("  the reference's own, found on the real frames:")
            lines.extend(_pose_lines(summary, "_reference"))
    outputs = result.outputs
    if outputs:
        written = ", ".join(Path(outputs[key]).name for key in ("csv", "summary", "plot") if outputs[key])
        lines.append(f"written     {outputs['folder']}/  ({written})")
    return "\n".join(lines)


def evaluate(
    generated: Path = typer.Argument(..., help="The video to judge (e.g. the output of v2v generate)."),
    reference: Path = typer.Option(
        None, "--reference", "-r", help="The real video it should match: flow source, and PSNR/SSIM."
    ),
    condition: Path = typer.Option(
        None, "--condition", "-c", help="The condition video it was made from: flow source when no reference."
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="Folder for metrics.csv, summary.json, metrics.png (default: GENERATED_eval/)."
    ),
    poses: Path = typer.Option(
        None, "--poses", "-p", help="The condition's poses.json (v2v pose): pose error of GENERATED against it."
    ),
    pose_model: Path = typer.Option(None, "--pose-model", help="PoseLandmarker .task file for --poses."),
    detection_confidence: float = typer.Option(
        DETECTION_CONFIDENCE, "--detection-confidence", min=0.0, max=1.0,
        help="With --poses: score a person on a generated frame must reach to be found (as v2v pose's).",
    ),
    static_threshold: float = typer.Option(
        2.0, "--static-threshold", min=0.0, help="Guide change (levels 0-255) below which a pixel counts as static."
    ),
    json_output: bool = Json,
    quiet: bool = Quiet,
    overwrite: bool = Overwrite,
) -> None:
    """Temporal warping error, flicker, (with --reference) PSNR and SSIM, and (with --poses) the pose error.

    The flow of the reference (else the condition video, else GENERATED itself) warps each frame onto the next.
    With --poses, poses are detected on GENERATED again and compared with the ones it was generated from,
    the whole body and the face and hands alone; with --reference too, PSNR and SSIM in the face region.

    Levels are 8-bit intensity steps (0-255); docs/eval.md defines every metric.
    """
    from v2vcli.evaluate.run import run_evaluation

    result = run_evaluation(
        generated, reference, condition, output, static_threshold=static_threshold, overwrite=overwrite, quiet=quiet,
        poses=poses, pose_model=pose_model, detection_confidence=detection_confidence,
    )
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    show(result, json_output, summary_table(result))


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
