"""`v2v prepare`: videos of the target -> a training set folder."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, Quiet, print_json


def prepare(
    videos: list[Path] = typer.Argument(..., help="Videos of the target person or scene (one sequence each)."),
    output: Path = typer.Option(..., "--output", "-o", help="Dataset folder to create."),
    condition: str = typer.Option("pose", "--condition", "-c", help="Condition maps: pose or segment."),
    size: str = typer.Option(None, "--size", help="Frame size WIDTHxHEIGHT [default: the first video's]."),
    backend: str = typer.Option("mediapipe", "--backend", help="Segmentation backend (with --condition segment)."),
    model: str = typer.Option(None, "--model", help="Segmentation model: file, folder or hub id."),
    pose_model: Path = typer.Option(None, "--pose-model", help="PoseLandmarker .task file."),
    masks: bool = typer.Option(True, "--masks/--no-masks", help="Write foreground masks (person segmentation)."),
    flow: bool = typer.Option(True, "--flow/--no-flow", help="Write optical flow (else training computes it)."),
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Make a training set: frames, condition maps, masks, flow and pose statistics, with dataset.json."""
    from v2vcli.config import parse_size
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset

    config = PrepareConfig(
        condition=condition, size=parse_size(size) if size else None, segment_backend=backend,
        segment_model=model, pose_model=str(pose_model) if pose_model else None, masks=masks, flow=flow,
        overwrite=overwrite, quiet=quiet,
    )
    summary = prepare_dataset(videos, output, config)
    if json_output:
        print_json(summary)
    else:
        typer.echo(f"{summary['dataset']}: {summary['frames']} frames in {len(summary['sequences'])} sequence(s), "
                   f"{summary['size'][0]}x{summary['size'][1]}, condition {summary['condition']} "
                   f"({summary['seconds']} s)")


def register(app: typer.Typer) -> None:
    app.command()(prepare)
