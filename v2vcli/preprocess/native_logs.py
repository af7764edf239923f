"""Silencing the log lines native libraries print straight to file descriptor 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_logs_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null: mediapipe's C++ layers print INFO/WARNING lines when a model
    loads, first runs and closes, which Python cannot catch. V2V_DEBUG=1 keeps them."""
    if os.environ.get("V2V_DEBUG") == "1":
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
