"""`v2v flow`: optical flow between consecutive frames of a video."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import INPUTS_HELP, Json, Overwrite, PreviewFormat, Quiet, Workers, run_on_inputs
from v2vcli.flow.compute import DEFAULT_METHOD, FLOW_METHODS

METHODS_HELP = ", ".join(f"{name} ({method.summary})" for name, method in FLOW_METHODS.items())


def flow(
    videos: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    output: Path = typer.Option(None, "--output", "-o", help="Output folder (default: VIDEO_STEM.flow next to VIDEO)."),
    method: str = typer.Option(DEFAULT_METHOD, "--method", "-m", help=f"Flow method: {METHODS_HELP}."),
    backward: bool = typer.Option(
        False, "--backward", help="Also write the backward flow and the forward-backward occlusion masks."
    ),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="Write the OUT/flow.mp4 colour preview."),
    preview_format: str = PreviewFormat,
    workers: int = Workers,
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Optical flow between consecutive frames: OUT/flow/000000.npy (float16 H x W x 2, frame i to i+1),
    OUT/flow.mp4 colour preview (one frame fewer than the input), with --backward also
    OUT/flow_backward/ and OUT/occlusion/ masks."""
    from functools import partial

    from v2vcli.flow.export import export_flow

    job = partial(export_flow, method=method, backward=backward, overwrite=overwrite, quiet=quiet, preview=preview,
                  preview_format=preview_format)
    run_on_inputs(videos, output, job, default_output, workers, quiet, json_output,
                  lambda result: f"{result.flow_fields} flow fields ({result.pairs_per_second} pairs/s) -> "
                                 f"{result.output}")


def default_output(video: Path) -> Path:
    """VIDEO_STEM.flow, beside VIDEO."""
    return video.with_name(f"{video.stem}.flow")


def register(app: typer.Typer) -> None:
    app.command()(flow)
