"""The root Typer app: global options, error reporting, and the command modules it is built from."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import typer
from typer.core import TyperGroup

from v2vcli import __version__, interrupts
from v2vcli.errors import V2VError

# Each module defines `register(app)`; keep the order of `v2v --help`.
COMMAND_MODULES = ("media", "pose", "segment", "flow", "prepare", "train", "generate", "evaluate", "demo")

_state = {"debug": os.environ.get("V2V_DEBUG") == "1"}


def report(message: str, code: int) -> None:
    """Print one error line on stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class V2VGroup(TyperGroup):
    """Turns the errors a user can act on into one line and exit code 1 (a traceback with --debug)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except V2VError as error:
            if _state["debug"]:
                raise
            report(str(error), error.exit_code)
        except OSError as error:
            if _state["debug"]:
                raise
            report(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "), 1)
        except KeyboardInterrupt as interrupt:
            if _state["debug"]:
                traceback.print_exc()
            # The frames the interrupt came through still hold suspended generators (a frame reader, a
            # progress bar); closing them now stops their children and the bar before the line below.
            traceback.clear_frames(interrupt.__traceback__)
            report(interrupts.message_for(interrupt), interrupts.EXIT_CODE)


app = typer.Typer(
    cls=V2VGroup,
    name="v2v",
    help="Video-to-video synthesis (vid2vid): from raw video files to finished videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"v2v {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show a full traceback on errors."),
) -> None:
    """Video-to-video synthesis (vid2vid): from raw video files to finished videos."""
    _state["debug"] = _state["debug"] or debug
    if _state["debug"]:
        os.environ["V2V_DEBUG"] = "1"  # also keeps the native libraries' logs (see preprocess/pose.py)


for _name in COMMAND_MODULES:
    importlib.import_module(f"v2vcli.cli.{_name}").register(app)


def main() -> None:
    interrupts.install()
    app(prog_name="v2v")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
