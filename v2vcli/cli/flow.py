"""`v2v flow`: optical flow between consecutive frames of a video."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, PreviewFormat, Quiet, show
from v2vcli.flow.compute import DEFAULT_METHOD, FLOW_METHODS

METHODS_HELP = ", ".join(f"{name} ({method.summary})" for name, method in FLOW_METHODS.items())


def flow(
    video: Path = typer.Argument(..., help="Input video."),
    output: Path = typer.Option(None, "--output", "-o", help="Output folder (default: VIDEO_STEM.flow next to VIDEO)."),
    method: str = typer.Option(DEFAULT_METHOD, "--method", "-m", help=f"Flow method: {METHODS_HELP}."),
    backward: bool = typer.Option(
        False, "--backward", help="Also write the backward flow and the forward-backward occlusion masks."
    ),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="Write the OUT/flow.mp4 colour preview."),
    preview_format: str = PreviewFormat,
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Optical flow between consecutive frames: OUT/flow/000000.npy (float16 H x W x 2, frame i to i+1),
    OUT/flow.mp4 colour preview (one frame fewer than the input), with --backward also
    OUT/flow_backward/ and OUT/occlusion/ masks."""
    from v2vcli.flow.export import export_flow

    output = output or video.with_name(f"{video.stem}.flow")
    result = export_flow(video, output, method=method, backward=backward, overwrite=overwrite, quiet=quiet,
                         preview=preview, preview_format=preview_format)
    show(result, json_output, None if quiet else
         f"{result.flow_fields} flow fields ({result.pairs_per_second} pairs/s) -> {output}")


def register(app: typer.Typer) -> None:
    app.command()(flow)
