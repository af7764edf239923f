"""Options shared by several commands, so each is spelled and explained the same everywhere."""

from __future__ import annotations

import json
import sys

import typer

Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")
Json = typer.Option(False, "--json", help="Print a machine-readable JSON summary on stdout.")
Overwrite = typer.Option(False, "--overwrite", help="Replace an existing output.")


def print_json(data: object) -> None:
    """Write `data` as indented JSON on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
