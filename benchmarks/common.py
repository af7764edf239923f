"""What the benchmarks share: timing, peak memory, clips scaled from the examples, the machine they ran on."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (the ffmpeg decoder/encoder)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(run: Callable[[], object], items: int) -> tuple[float, float]:
    """(items per wall-clock second, CPU milliseconds per item) of `run()`."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    run()
    return items / (time.perf_counter() - wall), (cpu_seconds() - cpu) * 1000 / items


def timed(run: Callable[[], object]) -> float:
    """Wall-clock seconds of `run()`."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (VmHWM), MiB."""
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
        import threading

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


def parse_size(text: str) -> tuple[int, int]:
    """'512x256' -> (512, 256)."""
    width, height = (int(side) for side in text.lower().split("x"))
    return width, height


def scaled_clip(source: Path, output: Path, size: tuple[int, int], frames: int | None = None) -> Path:
    """`source` resized (stretched) to `size` (W, H), same fps, with its audio, `frames` frames long: cut short,
    or played forth and back (so the motion stays continuous) when the clip is shorter."""
    import cv2

    from v2vcli.io.video import VideoWriter, probe_video, read_frames

    info = probe_video(source)
    clip = [frame if (frame.shape[1], frame.shape[0]) == tuple(size)
            else cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA) for frame in read_frames(source)]
    frames = frames or len(clip)
    with VideoWriter(output, info.fps, audio_from=source) as writer:
        for index in range(frames):
            turn, offset = divmod(index, len(clip))
            writer.write(clip[offset] if turn % 2 == 0 else clip[len(clip) - 1 - offset])
    return output


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The machine a benchmark ran on: CPU model, cores, torch version and device, load average now."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "gpu": gpu, "python": platform.python_version(),
            "load": [round(value, 2) for value in os.getloadavg()]}
