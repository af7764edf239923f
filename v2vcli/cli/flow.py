"""`v2v flow`: optical flow between consecutive frames of a video."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, Quiet, print_json


def flow(
    video: Path = typer.Argument(..., help="Input video."),
    output: Path = typer.Option(None, "--output", "-o", help="Output folder (default: VIDEO_STEM.flow next to VIDEO)."),
    method: str = typer.Option("dis-medium", "--method", "-m", help="dis-fast, dis-medium or farneback."),
    backward: bool = typer.Option(
        False, "--backward", help="Also write the backward flow and the forward-backward occlusion masks."
    ),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="Write the OUT/flow.mp4 colour preview."),
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Optical flow between consecutive frames: OUT/flow/000000.npy (float16 H x W x 2, frame i to i+1),
    OUT/flow.mp4 colour preview (one frame fewer than the input), with --backward also
    OUT/flow_backward/ and OUT/occlusion/ masks."""
    from v2vcli.flow.export import export_flow

    output = output or video.with_name(f"{video.stem}.flow")
    summary = export_flow(video, output, method=method, backward=backward, overwrite=overwrite, quiet=quiet,
                          preview=preview)
    if json_output:
        print_json(summary)
    elif not quiet:
        typer.echo(f"{summary['flow_fields']} flow fields ({summary['fps']} pairs/s) -> {output}")


def register(app: typer.Typer) -> None:
    app.command()(flow)
