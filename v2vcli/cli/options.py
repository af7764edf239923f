"""Options shared by several commands, so each is spelled and explained the same everywhere.

Help texts that list names (pose backends, preview formats) read the registries the library builds from
its backend and writer classes; those modules import no heavy library, so `v2v --help` stays instant.
"""

from __future__ import annotations

import json
import sys

import typer

from v2vcli.export import DEFAULT_PREVIEW_FORMAT, preview_formats
from v2vcli.preprocess.pose_backend import DEFAULT_POSE_BACKEND, pose_backends
from v2vcli.results import json_ready

Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")
Json = typer.Option(False, "--json", help="Print a machine-readable JSON summary on stdout.")
Overwrite = typer.Option(False, "--overwrite", help="Replace an existing output.")


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


PoseBackend = typer.Option(
    DEFAULT_POSE_BACKEND, "--pose-backend",
    help="Pose backend: " + _listed([f"{name} ({backend.summary})" for name, backend in pose_backends().items()])
         + ".")
PoseModel = typer.Option(None, "--pose-model", help="The pose backend's model file (mediapipe: a PoseLandmarker "
                                                    ".task; default: from the weights folders).")
PreviewFormat = typer.Option(
    DEFAULT_PREVIEW_FORMAT, "--preview-format",
    help=f"Preview format: {_listed(list(preview_formats()))} (png: a folder OUT/preview/ of PNG frames).")


def print_json(data: object) -> None:
    """Write a command's result (any dataclass, list or dict; see v2vcli.results.json_ready) as indented JSON
    on stdout."""
    json.dump(json_ready(data), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def show(result: object, json_output: bool, line: str | None) -> None:
    """A command's last words: its result as JSON with --json, else `line` (None: nothing, as with --quiet)."""
    if json_output:
        print_json(result)
    elif line is not None:
        typer.echo(line)
