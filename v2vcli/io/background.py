"""A worker thread behind a bounded queue, so writing results overlaps with computing the next ones.

cv2, numpy and pipe writes release the GIL, so a thread is enough; the bound keeps memory flat however
long the video is. Shared by the commands that write many files per frame (flow, segment, prepare).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from v2vcli.io.outputs import CloseOrAbort

_DONE = object()


class BackgroundSink(CloseOrAbort):
    """Call `handle(item)` for each `put(item)` on one worker thread, in order.

    An error in `handle` is raised in the caller at the next `put` or at `close`. Use as a context
    manager: leaving the block normally waits for the queue to drain; leaving it by an exception stops
    the worker without handling the items still queued.
    """

    def __init__(self, handle: Callable[[Any], None], maxsize: int = 8):
        self._handle = handle
        self._items: queue.Queue = queue.Queue(maxsize=maxsize)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._items.get()) is not _DONE:
            if self._stop.is_set() or self._error is not None:
                continue
            try:
                self._handle(item)
            except BaseException as error:  # handed to the caller, which raises it
                self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._stop.set()
            raise error

    def put(self, item: Any) -> None:
        self._raise_error()
        self._items.put(item)

    def close(self) -> None:
        """Wait until every queued item is handled; raise the worker's error if there was one."""
        if self._thread.is_alive():
            self._items.put(_DONE)
            try:
                self._thread.join()
            except BaseException:  # interrupted while waiting: the worker must stop before the caller cleans up
                self.abort()
                raise
        self._raise_error()

    def abort(self) -> None:
        """Stop the worker, dropping the queued items."""
        self._stop.set()
        if self._thread.is_alive():
            self._items.put(_DONE)
            self._thread.join()

