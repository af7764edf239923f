"""Ctrl-C and `kill -INT`: how a running v2v command is stopped.

Python turns SIGINT into KeyboardInterrupt only when the parent left SIGINT at its default; a parent
that ignores it (a non-interactive shell starting `v2v ... &`, some process managers and IDE runners)
makes the child ignore it too, and Python keeps that. Such a v2v would run to the end whatever signal
its launcher sent to stop it, while its ffmpeg children, which install their own SIGINT handler
whatever they inherit, would still stop at a terminal's Ctrl-C and leave the input looking undecodable.
`install()` makes SIGINT raise KeyboardInterrupt in the main thread whatever v2v inherited; the `with`
blocks and `finally` clauses on the way out stop the workers and children and remove temporary
outputs, and the CLI prints one line and exits 130. A run that should survive the terminal's Ctrl-C is
started in a session of its own (`setsid v2v ...`), where a terminal cannot reach it.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

EXIT_CODE = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
DEFAULT_MESSAGE = "interrupted; no partial output was kept"
# Repeats within this many seconds of the first interrupt are ignored: the first one's cleanup (stopping
# children, removing temporary files) takes well under this, and a second KeyboardInterrupt raised in
# the middle of it would leave the partial files it was removing. A later one interrupts again (a
# cleanup that hangs, or a first interrupt swallowed where Python cannot raise, such as a __del__).
REPEAT_GRACE_SECONDS = 2.0


class Interrupted(KeyboardInterrupt):
    """A KeyboardInterrupt that says what was kept, e.g. training's last complete checkpoint.

    Library code that knows what an interrupted run leaves behind re-raises KeyboardInterrupt as this;
    the CLI prints the message (after "error: ") instead of DEFAULT_MESSAGE.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def message_for(interrupt: KeyboardInterrupt) -> str:
    """The line the CLI prints for `interrupt`."""
    return interrupt.message if isinstance(interrupt, Interrupted) else DEFAULT_MESSAGE


class _Handler:
    """The SIGINT handler: raise KeyboardInterrupt, except for repeats during the first one's cleanup."""

    def __init__(self) -> None:
        self.first: float | None = None

    def __call__(self, signal_number: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.first is not None and now - self.first < REPEAT_GRACE_SECONDS:
            return
        self.first = now
        raise KeyboardInterrupt


def install() -> bool:
    """Make SIGINT raise KeyboardInterrupt in the main thread, even when v2v was started with SIGINT
    ignored. Returns False (and changes nothing) when called outside the main thread, where Python
    cannot install signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, _Handler())
    return True
