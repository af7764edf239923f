"""Peak resident memory: of this process, and of the ffmpeg processes it starts (decoders, encoders)."""

from __future__ import annotations

import resource
import threading
from pathlib import Path


def reset_peak_rss() -> None:
    """Start this process's peak resident memory (VmHWM) again from what it holds now, so that a
    measurement after several others in the same process reports its own peak (Linux; elsewhere the
    peak stays the largest so far)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started or since reset_peak_rss(), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _child_pids() -> set[int]:
    pids: set[int] = set()
    for children in Path("/proc/self/task").glob("*/children"):
        try:
            pids.update(int(pid) for pid in children.read_text().split())
        except OSError:  # the thread ended while we looked
            continue
    return pids


def _ffmpeg_hwm_mib(pid: int) -> float:
    """VmHWM of process `pid` if it is ffmpeg; 0 otherwise (a child caught between fork and exec is still
    named python and still counts its parent's pages)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    if not fields.get("Name", "").strip().startswith("ffmpeg") or "VmHWM" not in fields:
        return 0.0
    return int(fields["VmHWM"].split()[0]) / 1024


class ChildPeak:
    """Largest peak resident memory (MiB) of the ffmpeg child processes started while the block runs.

    getrusage(RUSAGE_CHILDREN).ru_maxrss cannot tell this: a child forked from a large Python process
    counts the parent's pages it held before exec. So a thread samples each child's own VmHWM (its peak
    after exec) every `interval` seconds; children that live less than that are missed (probes only).
    """

    def __init__(self, interval: float = 0.02):
        self.interval, self.peak_mib = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in _child_pids():
                self.peak_mib = max(self.peak_mib, _ffmpeg_hwm_mib(pid))

    def __enter__(self) -> ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exception) -> None:
        self._stop.set()
        self._thread.join()
