"""The `v2v` command line: a Typer app whose commands each call one library function."""

from v2vcli.cli.app import app, main

__all__ = ["app", "main"]
