"""`v2v demo`: prepare, train and dance on the bundled example clips."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Quiet, show


def demo(
    output: Path = typer.Option(Path("out/demo"), "--output", "-o", help="Folder for the dataset, model and video."),
    steps: int = typer.Option(300, "--steps", help="Training steps of the tiny preset (about 0.5 s each, 2 cores)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Run the whole path on the example clips: prepare, train (tiny preset), dance. Replaces OUTPUT's contents."""
    from v2vcli.demo import run_demo

    summary = run_demo(output, steps=steps, device=device, quiet=quiet or json_output)
    dataset, dance = summary["dataset"], summary["dance"]
    show(summary, json_output, f"dataset  {dataset.dataset}\nmodel    {summary['model']}\nvideo    {dance.output}  "
                               f"({dance.frames} frames, source | pose | result, with the source's audio)")


def register(app: typer.Typer) -> None:
    app.command()(demo)
