"""Options shared by several commands, so each is spelled and explained the same everywhere.

Help texts that list names (pose backends, preview formats) read the registries the library builds from
its backend and writer classes; those modules import no heavy library, so `v2v --help` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
INPUTS_HELP = ("Input videos: files, folders (the videos in them) or glob patterns such as 'clips/*.mp4'. "
               "With several, or a folder or pattern, -o names the folder their outputs go in, one per input "
               "named by its stem (default: each beside its input).")
Workers = typer.Option(
    None, "--workers", "-j", min=1, show_default=False,
    help="Files worked on at once, each in its own process (default: one per CPU core, at most one per file; "
         "1: one after another in this process).")
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


def run_on_inputs(arguments: list[Path], output: Path | None, job: Callable[[Path, Path], Any],
                  default_output: Callable[[Path], Path], workers: int | None, quiet: bool, json_output: bool,
                  line: Callable[[Any], str]) -> None:
    """A per-file command (pose, segment, flow) on its arguments (files, folders, patterns; v2vcli.batch):
    `job(video, output)` makes one file's output and returns its result, shown as `line(result)`. One file
    runs here as it always has; several run in `workers` processes, each failure printed as one `error:`
    line naming its file, then "N of M failed" and exit code 1."""
    from v2vcli.batch import expand_inputs, output_paths, run_calls

    inputs = expand_inputs(arguments)
    outputs = output_paths(inputs, output, default_output)
    if not inputs.several:
        result = job(inputs.files[0], outputs[0])
        show(result, json_output, None if quiet else line(result))
        return
    from v2vcli.batch import BatchResult, Call, Failure

    calls = [Call(str(video), job, (video, path)) for video, path in zip(inputs.files, outputs, strict=True)]
    outcomes = run_calls(calls, workers, quiet)
    batch = BatchResult([outcome for outcome in outcomes if not isinstance(outcome, Failure)],
                        [outcome for outcome in outcomes if isinstance(outcome, Failure)])
    if json_output:
        print_json(batch)
    elif not quiet:
        for result in batch.results:
            typer.echo(line(result))
    report_failures(batch.failures, len(calls))


def report_failures(failures: list, total: int, consequence: str = "") -> None:
    """One `error:` line per failed file (with the traceback of a defect under --debug), then "N of M
    failed" and exit code 1; nothing when none failed."""
    from v2vcli.batch import summary

    if not failures:
        return
    for failure in failures:
        if failure.traceback and os.environ.get("V2V_DEBUG") == "1":
            typer.echo(failure.traceback.rstrip(), err=True)
        typer.echo(f"error: {failure.line}", err=True)
    typer.echo(summary(len(failures), total, consequence), err=True)
    raise typer.Exit(1)
