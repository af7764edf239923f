"""Several input files in one command: expand the arguments, run one job per file in worker processes,
show their progress, collect their failures.

`v2v pose`, `segment`, `flow` and `prepare` take files, folders and glob patterns. A file named as it is
is taken as it is (a missing one fails as that file's job would); a folder gives the video files in it
(by suffix, hidden files skipped, not its subfolders); a pattern (`clips/*.mp4`, `**/*.mov`) gives the
video files it matches. The same file named twice runs once.

The jobs run in `workers` processes started with the "spawn" method: mediapipe and torch hold threads and
native state that a forked copy inherits half-made. Each worker takes the next file when it is done with
one, so long and short files share the cores; each runs torch on one thread, as the cores are already
shared between the workers (OpenCV's too). One worker runs the jobs one after another in this process. A job that
fails (bad input, a decoder error, a crashed worker process) becomes a Failure of one line naming its
file; the other files go on. Ctrl-C stops every worker, each removing its unfinished output, before
the command exits (v2vcli/interrupts.py).

Progress: one bar per file being worked on (the `track` bars the job would draw, forwarded, see
v2vcli/progress.py) under one bar counting the files done.
"""

from __future__ import annotations

import glob
import os
import queue
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from v2vcli import interrupts
from v2vcli.errors import V2VError, first_line
from v2vcli.results import Result

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts",
                            ".m2ts", ".wmv", ".flv", ".3gp", ".ogv"})
GLOB_CHARACTERS = frozenset("*?[")
# How long the command waits for interrupted workers to remove their outputs and stop their children
# before it kills them: their cleanup takes a fraction of a second; a worker stuck in native code does not
# hold the command up for longer than this.
STOP_SECONDS = 5.0
POLL_SECONDS = 0.2  # how often the command looks for a worker process that died without a word
# One thread each for torch and OpenCV's loops in a worker: the workers already share the cores, and
# threads spinning against each other's processes cost more than they bring.
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENCV_FOR_THREADS_NUM": "1"}


@dataclass(frozen=True)
class Inputs:
    """The files a command's arguments name, in order. `several`: the arguments named more than one file or
    any folder or pattern (then -o names a parent folder, whatever the number of files found)."""

    files: list[Path]
    several: bool


def is_pattern(argument: Path | str) -> bool:
    return any(character in str(argument) for character in GLOB_CHARACTERS)


def video_files(paths: Sequence[Path]) -> list[Path]:
    """The visible files among `paths` whose suffix is a video's, sorted by name."""
    return sorted(path for path in paths
                  if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in VIDEO_SUFFIXES)


def expand_inputs(arguments: Sequence[Path | str]) -> Inputs:
    """The files that `arguments` (files, folders, glob patterns) name; BadInput for a folder or pattern
    without any video and for no argument at all."""
    from v2vcli.errors import BadInput

    if not arguments:
        raise BadInput("name at least one video")
    files: list[Path] = []
    several = len(arguments) > 1
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found, several = video_files(list(path.iterdir())), True
            if not found:
                raise BadInput(f"{path}: no video files in this folder ({', '.join(sorted(VIDEO_SUFFIXES))})")
        elif not path.exists() and is_pattern(argument):
            found, several = video_files([Path(match) for match in glob.glob(str(argument), recursive=True)]), True
            if not found:
                raise BadInput(f"{argument}: no video file matches this pattern")
        else:
            found = [path]
        files.extend(found)
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    return Inputs(list(unique.values()), several)


def unique_paths(paths: Sequence[Path]) -> list[Path]:
    """`paths` with the repeats of a path renamed NAME_2, NAME_3, ... (two inputs' outputs never collide)."""
    taken: set[Path] = set()
    result = []
    for path in paths:
        candidate, number = path, 2
        while candidate in taken:
            candidate, number = path.with_name(f"{path.name}_{number}"), number + 1
        taken.add(candidate)
        result.append(candidate)
    return result


def output_paths(inputs: Inputs, output: Path | None, default: Callable[[Path], Path]) -> list[Path]:
    """Each input's output. One file named as it is: `output` (None: `default(file)`). Several files:
    `output` is their parent folder (made if missing) and each file's output is named by its stem there;
    without `output`, each goes where `default` puts it (beside its input). Repeated names get _2, _3."""
    from v2vcli.errors import BadInput

    if not inputs.several:
        return [output if output is not None else default(inputs.files[0])]
    if output is None:
        return unique_paths([default(file) for file in inputs.files])
    if output.exists() and not output.is_dir():
        raise BadInput(f"{output}: is a file; with several inputs, -o names the folder their outputs go in")
    if not output.parent.is_dir():
        raise BadInput(f"{output}: folder {output.parent} does not exist")
    output.mkdir(exist_ok=True)
    return unique_paths([output / file.stem for file in inputs.files])


@dataclass(frozen=True)
class Call:
    """One job: `function(*arguments)` for the input `name`. Run in a worker process, the function and its
    arguments are pickled: a module-level function (or a functools.partial of one) with plain data."""

    name: str
    function: Callable[..., Any]
    arguments: tuple = ()


@dataclass(frozen=True)
class Failure:
    """A job that failed. input: its file. error: one line saying why. traceback: the worker's traceback
    for an error that is not a bad input (a defect), shown with --debug; None for bad input."""

    input: str
    error: str
    traceback: str | None = None

    @property
    def line(self) -> str:
        """The line the command prints (after "error: "): the error, naming the file."""
        return self.error if self.error.startswith(self.input) else f"{self.input}: {self.error}"


@dataclass
class BatchResult(Result):
    """What a command made from several files (its --json). results: the result of each file that
    succeeded, in input order (each as the command gives it for one file). failures: the files that
    failed, with the reason."""

    results: list = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


class BatchFailed(V2VError):
    """Some of a command's files failed, and its one output (a dataset) was not written. failures: each
    failed file; total: the files there were; consequence: what that means, e.g. "OUT was not written"."""

    def __init__(self, failures: list[Failure], total: int, consequence: str):
        self.failures, self.total, self.consequence = failures, total, consequence
        more = f" and {len(failures) - 1} more" if len(failures) > 1 else ""
        super().__init__(f"{failures[0].line}{more}; {summary(len(failures), total, consequence)}")


def summary(failed: int, total: int, consequence: str = "") -> str:
    """The last line of a command where files failed: "N of M failed", with what that means."""
    return f"{failed} of {total} failed" + (f"; {consequence}" if consequence else "")


def failure_of(name: str, error: BaseException) -> Failure:
    """`error`, raised by the job of `name`, as a Failure: bad input and file errors as the CLI words them
    for one file; anything else with its type and its traceback."""
    if isinstance(error, V2VError):
        return Failure(name, str(error))
    if isinstance(error, OSError):
        return Failure(name, f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    text = "".join(traceback.format_exception(error))
    return Failure(name, f"{type(error).__name__}: {first_line(error)}", text)


def default_workers(files: int) -> int:
    """One worker per usable CPU core, at most one per file."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(files, cores))


def run_calls(calls: Sequence[Call], workers: int | None = None, quiet: bool = False) -> list[Any]:
    """Run every call, in `workers` processes (None: `default_workers`; 1: in this process), and return
    each call's value or Failure, in the calls' order. KeyboardInterrupt stops them all and is raised."""
    from v2vcli.progress import forwarded

    workers = min(workers or default_workers(len(calls)), len(calls))
    with BatchDisplay(calls, quiet) as display:
        if workers <= 1:
            outcomes = []
            for index, call in enumerate(calls):
                display.started(index)
                with forwarded(lambda description, done, total, index=index: display.advanced(
                        index, description, done, total)):
                    try:
                        outcome = call.function(*call.arguments)
                    except Exception as error:
                        outcome = failure_of(call.name, error)
                display.finished(index)
                outcomes.append(outcome)
            return outcomes
        return WorkerPool(workers).run(calls, display)


class BatchDisplay:
    """The bars of a batch: one counting the files done, one for each file being worked on."""

    def __init__(self, calls: Sequence[Call], quiet: bool):
        from v2vcli.progress import make_progress

        self.names = [Path(call.name).name for call in calls]
        self.progress = make_progress(quiet)
        self.overall = self.progress.add_task(f"{len(calls)} files", total=len(calls), rate="")
        self.tasks: dict[int, Any] = {}

    def __enter__(self) -> BatchDisplay:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self.progress.__exit__(*exc_info)

    def started(self, index: int) -> None:
        self.tasks[index] = self.progress.add_task(self.names[index], total=None, rate="")

    def advanced(self, index: int, description: str, done: int, total: int | None) -> None:
        if index not in self.tasks:
            self.started(index)
        task = self.tasks[index]
        self.progress.update(task, description=f"{self.names[index]}: {description}", completed=done, total=total)
        speed = next(each.speed for each in self.progress.tasks if each.id == task)
        self.progress.update(task, rate=f"{speed:.1f}/s" if speed else "")

    def finished(self, index: int) -> None:
        if index in self.tasks:
            self.progress.remove_task(self.tasks.pop(index))
        self.progress.advance(self.overall)


def _report(messages, index: int, description: str, done: int, total: int | None) -> None:
    messages.put(("progress", index, (description, done, total)))


def _worker(jobs, messages, current, slot: int) -> None:
    """A worker process: run jobs until the None that ends them, sending (kind, job index, payload) messages:
    ("start", index, None), ("progress", index, (description, done, total)), ("done", index, the job's
    value), ("failed", index, Failure). `current[slot]` holds the job it is on: written at once, unlike a
    message, so it is known even when the worker dies the moment it starts."""
    from functools import partial

    # Set before the jobs' modules import torch and OpenCV, which read them once.
    os.environ.update(WORKER_ENVIRONMENT)
    from v2vcli.progress import forwarded

    interrupts.install()  # whatever SIGINT disposition the worker was started with
    code = 0
    try:
        while (job := jobs.get()) is not None:
            index, call = job
            current[slot] = index
            messages.put(("start", index, None))
            with forwarded(partial(_report, messages, index)):
                try:
                    messages.put(("done", index, call.function(*call.arguments)))
                except Exception as error:
                    messages.put(("failed", index, failure_of(call.name, error)))
        messages.close()
        messages.join_thread()
    except KeyboardInterrupt:  # the job's own `with` blocks have removed its output and stopped its children
        messages.cancel_join_thread()
        code = interrupts.EXIT_CODE
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Skip the interpreter's teardown of torch and mediapipe (seconds on a busy machine): every file and
        # child the jobs opened is closed by now, and an interrupted command waits for its workers.
        os._exit(code)


class WorkerPool:
    """`workers` spawned processes taking jobs from one queue (see the module docstring)."""

    def __init__(self, workers: int):
        import multiprocessing

        self.context = multiprocessing.get_context("spawn")
        self.count = workers
        self.processes: list = []  # in slot order
        self.current = self.context.Array("i", [-1] * workers, lock=False)  # the job each slot's worker is on

    def start_worker(self, slot: int) -> None:
        process = self.context.Process(target=_worker, args=(self.jobs, self.messages, self.current, slot),
                                       daemon=True)
        process.start()
        if slot < len(self.processes):
            self.processes[slot] = process
        else:
            self.processes.append(process)

    def run(self, calls: Sequence[Call], display: BatchDisplay) -> list[Any]:
        self.jobs, self.messages = self.context.Queue(), self.context.Queue()
        for index, call in enumerate(calls):
            self.jobs.put((index, call))
        for _ in range(self.count):
            self.jobs.put(None)
        outcomes: dict[int, Any] = {}
        try:
            for slot in range(self.count):
                self.start_worker(slot)
            while len(outcomes) < len(calls):
                try:
                    self.handle(self.messages.get(timeout=POLL_SECONDS), calls, outcomes, display)
                except queue.Empty:
                    self.replace_dead_workers(calls, outcomes, display)
        except KeyboardInterrupt:
            self.stop(calls, outcomes, display)
            raise
        for process in self.processes:
            process.join()
        return [outcomes[index] for index in range(len(calls))]

    def handle(self, message: tuple, calls: Sequence[Call], outcomes: dict[int, Any], display: BatchDisplay) -> None:
        kind, index, payload = message
        if kind == "start":
            display.started(index)
        elif kind == "progress":
            display.advanced(index, *payload)
        else:
            outcomes[index] = payload
            display.finished(index)

    def replace_dead_workers(self, calls: Sequence[Call], outcomes: dict[int, Any], display: BatchDisplay) -> None:
        """A worker that died (killed, out of memory, a crash in native code) fails the job it was on; a new
        worker takes its place while jobs remain."""
        dead = [slot for slot, process in enumerate(self.processes)
                if not process.is_alive() and process.exitcode != 0 and self.current[slot] >= 0]
        everyone_gone = not any(process.is_alive() for process in self.processes)
        if not dead and not everyone_gone:
            return
        self.drain(calls, outcomes, display)  # what it sent before it died
        for slot in dead:
            index, self.current[slot] = self.current[slot], -1
            if index not in outcomes:
                outcomes[index] = Failure(calls[index].name, f"the worker process stopped (exit code "
                                                             f"{self.processes[slot].exitcode})")
                display.finished(index)
            if len(outcomes) < len(calls):
                self.start_worker(slot)
        if everyone_gone and not dead:  # jobs taken by a worker that died before it could say so
            for index in sorted(set(range(len(calls))) - set(outcomes)):
                outcomes[index] = Failure(calls[index].name, "the worker process stopped")
                display.finished(index)

    def drain(self, calls: Sequence[Call], outcomes: dict[int, Any], display: BatchDisplay) -> None:
        while True:
            try:
                self.handle(self.messages.get_nowait(), calls, outcomes, display)
            except queue.Empty:
                return

    def stop(self, calls: Sequence[Call], outcomes: dict[int, Any], display: BatchDisplay) -> None:
        """Interrupt every worker (a Ctrl-C reached them already: the repeat is ignored, interrupts.py) and
        wait for them to clean up; kill those that do not stop in STOP_SECONDS."""
        for process in self.processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_SECONDS
        while any(process.is_alive() for process in self.processes) and time.monotonic() < deadline:
            try:  # keep reading, so that no worker blocks writing to a full pipe
                self.messages.get(timeout=0.05)
            except queue.Empty:
                pass
        for process in self.processes:
            if process.is_alive():
                process.kill()
            process.join()
