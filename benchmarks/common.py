"""What every benchmark shares: the repository's folders, CPU time, the machine a run is on.

Standard library only (torch is imported when machine() is called), so that a script may also import
it as a plain module, with benchmarks/ on its path (`from common import machine`).
"""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (the ffmpeg decoder/encoder)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages now."""
    return [round(value, 2) for value in os.getloadavg()]


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
            "load": load_average()}
