"""`v2v eval`: how temporally consistent (and, with a reference, how faithful) a generated video is."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, Quiet, print_json


def _line(name: str, value: float | None, digits: int, unit: str = "", note: str = "") -> str:
    shown = "n/a" if value is None else f"{value:.{digits}f}"
    return f"  {name:<24} {shown:>8}  {unit}{f'  ({note})' if note else ''}".rstrip()


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def summary_table(result: dict) -> str:
    """The result as aligned lines for a terminal."""
    summary = result["summary"]
    has_reference = result["reference"] is not None
    lines = [f"generated   {result['generated']}  ({result['frames']} frames, {result['width']}x{result['height']})"]
    if has_reference:
        lines.append(f"reference   {result['reference']}")
    if result["condition"]:
        lines.append(f"condition   {result['condition']}")
    lines.append(f"flow from   the {result['flow_source']} video ({result['flow_method']})")
    visible = f"{result['warp_error_kind']}; {_percent(summary['visible_fraction'])} of pixels visible"
    lines.append(_line("warping error", summary["warp_error"], 3, "levels", visible))
    if has_reference:
        lines.append(_line("warping error, absolute", summary["warp_error_absolute"], 3, "levels"))
        lines.append(_line("reference's own", summary["warp_error_reference"], 3, "levels"))
    static = f"over the {_percent(summary['static_fraction'])} of pixels that are static"
    lines.append(_line("flicker", summary["flicker"], 3, "levels", static))
    if has_reference:
        lines.append(_line("reference's own", summary["flicker_reference"], 3, "levels"))
        lines.append(_line("PSNR", summary["psnr"], 2, "dB", f"capped at {result['psnr_cap']:g}"))
        lines.append(_line("SSIM", summary["ssim"], 4))
    outputs = result.get("outputs")
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
    static_threshold: float = typer.Option(
        2.0, "--static-threshold", min=0.0, help="Guide change (levels 0-255) below which a pixel counts as static."
    ),
    json_output: bool = Json,
    quiet: bool = Quiet,
    overwrite: bool = Overwrite,
) -> None:
    """Temporal warping error, flicker, and (with --reference) PSNR and SSIM, per frame and overall.

    The flow of the reference (else the condition video, else GENERATED itself) warps each frame onto the next.

    Levels are 8-bit intensity steps (0-255); docs/eval.md defines every metric.
    """
    from v2vcli.evaluate.run import run_evaluation

    result = run_evaluation(
        generated, reference, condition, output, static_threshold=static_threshold, overwrite=overwrite, quiet=quiet
    )
    for warning in result["warnings"]:
        typer.echo(f"warning: {warning}", err=True)
    if json_output:
        print_json({key: value for key, value in result.items() if key != "rows"})
    else:
        typer.echo(summary_table(result))


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
