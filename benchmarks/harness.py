"""The stage protocol, and the one way every benchmark measures a pipeline against its bare limit.

A Stage declares, in one place: its name, what its pipeline and its limit are (for the table), its
workload per size (full and quick), the sizes it runs at, how to make its inputs and how to build a
Trial at one size. measure() runs a Trial the same way for every stage: one warm-up run of the
pipeline, whose peak memory is the figure reported; then the limit is built (decoding a clip into
memory, loading a model: not counted in that peak) and warmed up; then `rounds` rounds of limit,
pipeline and any extra variants in turn, so that a busy machine slows every side alike. Rates are
items over the median seconds of a side.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import cpu_seconds
from benchmarks.memory import ChildPeak, peak_rss_mib, reset_peak_rss

Size = tuple[int, int]  # (width, height) in pixels


class Seconds(float):
    """What a Run returns when it times itself: the seconds of the part of its call that counts, where the
    call includes set-up that does not (training: the median step of a run)."""


Run = Callable[[], object]
"""Processes a trial's items once. The harness times the call, unless it returns Seconds."""


@dataclass(frozen=True)
class Workload:
    """How much a stage does at each size."""

    frames: int  # length of the stage's input clip (training: of each training clip)
    rounds: int  # alternations of limit and pipeline after the warm-ups
    steps: int = 0  # training only: steps a round, the first of them a warm-up

    def describe(self) -> str:
        rounds = f"{self.rounds} round{'s' if self.rounds > 1 else ''}"
        if self.steps:
            return f"clips of {self.frames} frames, {self.steps} steps a round (the first a warm-up), {rounds}"
        return f"{self.frames} frames, {rounds}"


@dataclass(frozen=True)
class Setting:
    """One stage at one size: `folder` holds the inputs every stage at this size shares, made once."""

    folder: Path
    size: Size
    workload: Workload
    device: str = "auto"

    def output(self, name: str) -> Path:
        """Where the stage writes its output `name` (every run overwrites it)."""
        path = self.folder / "outputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class Trial:
    """A stage ready to run: `pipeline` and the Run that `make_limit()` returns each process `items` items
    (frames, frame pairs, training steps)."""

    items: int
    pipeline: Run
    make_limit: Callable[[], Run]


def every_size(sizes: tuple[Size, ...], quick: bool) -> tuple[Size, ...]:
    return sizes


@dataclass(frozen=True)
class Stage:
    """One row group of the benchmark table. `inputs(setting)` makes (once, in the driver's process) the
    files `trial(setting)` reads; `sizes(run sizes, quick)` picks the sizes the stage runs at."""

    name: str
    pipeline: str  # what the pipeline runs
    limit: str  # what the bare limit runs
    full: Workload
    quick: Workload
    inputs: Callable[[Setting], object]
    trial: Callable[[Setting], Trial]
    unit: str = "frames/s"
    target: float | None = None  # the ratio pipeline / limit to reach, where there is one
    sizes: Callable[[tuple[Size, ...], bool], tuple[Size, ...]] = every_size

    def workload(self, quick: bool) -> Workload:
        return self.quick if quick else self.full


@dataclass(frozen=True)
class Measurement:
    """What measure() found. `seconds` and `cpu_seconds` hold one value a round for each side ("limit",
    "pipeline", then the extras); CPU time is this process's (all threads) and its finished children's
    (the ffmpeg encoders and decoders), for the whole call."""

    items: int
    seconds: dict[str, list[float]]
    cpu_seconds: dict[str, list[float]]
    peak_mib: float  # this process's peak resident memory during the pipeline's warm-up
    ffmpeg_peak_mib: float  # the largest ffmpeg process the warm-up started
    gpu_peak_mib: float | None  # CUDA tensor memory peak during the warm-up, where CUDA was used

    @property
    def rounds(self) -> int:
        return len(self.seconds["pipeline"])

    def rate(self, side: str = "pipeline") -> float:
        """Items a second, from the median round."""
        return self.items / statistics.median(self.seconds[side])

    def best_rate(self, side: str = "pipeline") -> float:
        return self.items / min(self.seconds[side])

    def cpu_ms(self, side: str = "pipeline") -> float:
        """CPU milliseconds an item, from the median round."""
        return statistics.median(self.cpu_seconds[side]) * 1000 / self.items

    @property
    def ratio(self) -> float:
        return self.rate("pipeline") / self.rate("limit")


def _cuda_in_use() -> bool:
    """Whether this process has started CUDA (never imports torch itself: the I/O stages do not need it)."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.cuda.is_initialized()


def synchronize() -> None:
    """Wait for the GPU's queued work, where CUDA is in use, so that a clock read after it counts that work."""
    if _cuda_in_use():
        sys.modules["torch"].cuda.synchronize()


def timed(run: Run) -> tuple[float, float]:
    """(seconds, CPU seconds) of one call of `run`; the seconds it reports itself where it does."""
    synchronize()
    wall, cpu = time.perf_counter(), cpu_seconds()
    reported = run()
    synchronize()
    seconds = time.perf_counter() - wall
    return (float(reported) if isinstance(reported, Seconds) else seconds), cpu_seconds() - cpu


def alternate(runs: dict[str, Run], rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each of `runs` once a round, in order, for `rounds` rounds: (seconds, CPU seconds) of each, per round."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            wall, used = timed(run)
            seconds[name].append(wall)
            cpu[name].append(used)
    return seconds, cpu


def measure(trial: Trial, rounds: int, extras: dict[str, Run] | None = None) -> Measurement:
    """Warm-up run of the pipeline (its peak memory is reported), then the limit built and warmed up, then
    `rounds` rounds of limit, pipeline and `extras` (other variants of the pipeline, named as printed)."""
    reset_peak_rss()
    if _cuda_in_use():
        sys.modules["torch"].cuda.reset_peak_memory_stats()
    with ChildPeak() as children:
        timed(trial.pipeline)
    peak, ffmpeg_peak = peak_rss_mib(), children.peak_mib
    gpu_peak = sys.modules["torch"].cuda.max_memory_allocated() / 2**20 if _cuda_in_use() else None
    limit = trial.make_limit()
    timed(limit)
    seconds, cpu = alternate({"limit": limit, "pipeline": trial.pipeline, **(extras or {})}, rounds)
    return Measurement(trial.items, seconds, cpu, peak, ffmpeg_peak, gpu_peak)
