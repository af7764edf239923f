"""Rich progress bars on stderr for loops over frames or steps; silent when asked or not on a terminal.

Inside `forwarded(report)`, `track` draws no bar of its own and hands its counts to `report` instead: a
command working on several files (v2vcli.batch) shows one bar per file, in one display, from worker
processes that cannot draw on the terminal themselves.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

Item = TypeVar("Item")
Report = Callable[[str, int, int | None], None]
"""report(description, items done, total items or None): where `track` sends its counts when forwarded."""

# Counts are forwarded at most this often (and once at the end of a loop): a few messages a second per
# file keep the display live without flooding the pipe from a worker process.
REPORT_INTERVAL_SECONDS = 0.2
_forward: list[Report] = []


@contextmanager
def forwarded(report: Report) -> Iterator[None]:
    """While inside, every `track` that is not quiet calls `report` instead of drawing its own bar."""
    _forward.append(report)
    try:
        yield
    finally:
        _forward.pop()


def make_progress(quiet: bool = False):
    """A rich Progress on stderr showing count, speed and ETA; disabled when quiet or piped."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not sys.stderr.isatty(),
        transient=False,
    )


def track(items: Iterable[Item], total: int | None, description: str, quiet: bool = False,
          unit: str = "frames") -> Iterator[Item]:
    """Yield `items` while showing a progress bar with `unit`/s (or forwarding the counts, see `forwarded`)."""
    if _forward and not quiet:
        yield from _forwarding(items, total, description, _forward[-1])
        return
    with make_progress(quiet) as progress:
        task = progress.add_task(description, total=total, rate="")
        for item in items:
            yield item
            progress.advance(task)
            speed = progress.tasks[0].speed
            if speed:
                progress.update(task, rate=f"{speed:.1f} {unit}/s")


def _forwarding(items: Iterable[Item], total: int | None, description: str, report: Report) -> Iterator[Item]:
    done, last = 0, time.monotonic()
    report(description, done, total)
    for item in items:
        yield item
        done += 1
        if time.monotonic() - last >= REPORT_INTERVAL_SECONDS:
            report(description, done, total)
            last = time.monotonic()
    report(description, done, total)
