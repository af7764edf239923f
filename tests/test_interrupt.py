"""Ctrl-C and `kill -INT` stop every command: one `error:` line, exit code 130, nothing partial left behind.

Each command runs as `python -m v2vcli` in a process group of its own and is interrupted mid-run, once by a
SIGINT to its whole group (what a terminal's Ctrl-C sends: its ffmpeg children get it too) and once by a
SIGINT to the v2v process alone (what a process manager or an IDE sends). Every run starts with SIGINT
ignored, as a script's background job (`v2v ... &`) and some launchers start it: Python keeps ignoring
SIGINT unless v2v takes it back, and its ffmpeg children, which catch SIGINT whatever they inherit,
would stop alone and leave the reader to report the input as undecodable.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from v2vcli.io.ffmpeg import ffmpeg_exe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# From the signal to the error line, printed once the temporary outputs are removed and the children stopped.
CLEANUP_SECONDS = 2.0
# From the signal to the exit: the cleanup plus the interpreter's teardown of torch and mediapipe, which
# alone took 2.5 s on a 2-core machine running other jobs (load 12); on an idle one it is a fraction of that.
EXIT_SECONDS = 10.0
# For a command to reach the point where it is interrupted: imports and model loading on a busy machine.
START_SECONDS = 300.0
TARGETS = {"ctrl-c": os.killpg, "kill-int": os.kill}
# Tiny models gain nothing from threads, and on a busy 2-core machine OpenMP spinning costs 4x.
ENVIRONMENT = {**os.environ, "OMP_NUM_THREADS": "1"}


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Command:
    """`python -m v2vcli ARGS` in `folder`, in a new process group, started with SIGINT ignored."""

    def __init__(self, args: list[str], folder: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "v2vcli", *args], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, start_new_session=True, preexec_fn=ignore_sigint, env=ENVIRONMENT,
        )
        self.lines: list[tuple[float, str]] = []
        self.sent: float | None = None
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    @property
    def stderr(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not condition():
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"the command ended (exit {self.process.returncode}) before {what}:\n{self.stderr}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"no {what} after {START_SECONDS:.0f} s")
            time.sleep(0.02)

    def interrupt(self, target: str) -> None:
        """SIGINT to the group ("ctrl-c") or the process ("kill-int"); wait for the exit (killed if late)."""
        self.sent = time.monotonic()
        TARGETS[target](self.process.pid, signal.SIGINT)
        try:
            self.process.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._reader.join(5)
            pytest.fail(f"still running {EXIT_SECONDS:.0f} s after SIGINT; stderr so far:\n{self.stderr}")
        self._reader.join(5)


def processes_in(folder: Path) -> list[str]:
    """Command lines of the running processes working in `folder` or naming a path in it (children left)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            where = os.readlink(entry / "cwd")
        except OSError:  # not a process, one of another user, or one that ended meanwhile
            continue
        if where.startswith(str(folder)) or any(str(folder) in argument for argument in arguments):
            found.append(" ".join(arguments))
    return found


def running_children(pid: int) -> list[list[str]]:
    """Argument lists of the processes `pid` started that are still running."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            try:
                children.append(Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace").split("\0"))
            except OSError:  # it ended meanwhile
                continue
    return children


def assert_interrupted(command: Command, folder: Path, message: str = "error: interrupted") -> str:
    """Exit 130, one error line (no traceback) soon after the signal, no temporary output, no child left."""
    assert command.process.returncode == 130, command.stderr
    assert len(command.lines) == 1, command.stderr
    stamp, line = command.lines[0]
    assert line.startswith(message), line
    assert stamp - command.sent < CLEANUP_SECONDS, f"the line came {stamp - command.sent:.2f} s after SIGINT"
    leftovers = [path.name for path in folder.rglob("*") if ".partial-" in path.name]
    assert leftovers == []
    assert processes_in(folder) == []
    return line


def looped(source: Path, loops: int, output: Path) -> Path:
    """`source` played `loops` times in a row (streams copied): a clip long enough to interrupt mid-run."""
    subprocess.run([ffmpeg_exe(), "-v", "error", "-stream_loop", str(loops - 1), "-i", str(source), "-c", "copy",
                    str(output)], check=True)
    return output


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {"target": looped(EXAMPLES / "target.mp4", 5, folder / "target_long.mp4"),
            "source": looped(EXAMPLES / "source.mp4", 3, folder / "source_long.mp4")}


def partial_outputs(folder: Path, name: str) -> list[Path]:
    return list(folder.glob(f".{name}.partial-*"))


# Fast checks of the handler itself, in a bare interpreter (no torch, no mediapipe).

def run_python(code: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=ignore_sigint)


def test_sigint_interrupts_even_when_started_ignored():
    result = run_python(
        "import os, signal, time\n"
        "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # as a background job starts\n"
        "from v2vcli import interrupts\n"
        "interrupts.install()\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(10)\n"
        "    print('ignored')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    assert result.stdout.strip() == "interrupted", result.stderr


def test_a_repeated_sigint_spares_the_cleanup_but_a_late_one_interrupts_again():
    result = run_python(
        "import os, signal, time\n"
        "from v2vcli import interrupts\n"
        "interrupts.REPEAT_GRACE_SECONDS = 0.5\n"
        "interrupts.install()\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(10)\n"
        "except KeyboardInterrupt:\n"
        "    os.kill(os.getpid(), signal.SIGINT)  # pressed again while the first one's cleanup runs\n"
        "    time.sleep(0.1)\n"
        "    print('cleanup finished')\n"
        "time.sleep(0.5)\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(10)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted again')\n"
    )
    assert result.stdout.split("\n")[:2] == ["cleanup finished", "interrupted again"], result.stderr


# Every stage, interrupted mid-run.

def decoding(command: Command, video: Path) -> bool:
    """Whether one of the command's children is an ffmpeg decoding `video` to raw frames (a VideoReader)."""
    return any("rawvideo" in arguments and str(video) in arguments
               for arguments in running_children(command.process.pid))


CLIP = "{clip}"  # stands for the looped example clip in a Stage's arguments
DANCE = ("dance", "--source", CLIP, "--target", "demo", "-o", "dance.mp4")


@dataclass(frozen=True)
class Stage:
    """A command to interrupt: its arguments, the example it loops, its output, and the sign that it is
    mid-run: `mid_run(command, folder, clip)`, described by `what`."""

    arguments: tuple[str, ...]
    clip: str
    output: str
    mid_run: Callable[[Command, Path, Path], bool]
    what: str


STAGES = {
    "pose": Stage(("pose", CLIP, "-o", "poses"), "target", "poses",
                  lambda command, folder, clip: bool(partial_outputs(folder, "poses")), "partial output folder"),
    "prepare": Stage(("prepare", CLIP, "-o", "dataset"), "target", "dataset",
                     lambda command, folder, clip: any(folder.glob(".dataset.partial-*/*/frames/*.png")),
                     "first frame written"),
    "dance-finding-poses": Stage(DANCE, "source", "dance.mp4", lambda command, folder, clip: decoding(command, clip),
                                 "source decoded for its poses"),
    "dance-generating": Stage(DANCE, "source", "dance.mp4",
                              lambda command, folder, clip: bool(partial_outputs(folder, "dance")),
                              "partial output video"),
}


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("stage", STAGES.values(), ids=STAGES.keys())
def test_interrupted_mid_run_leaves_nothing(clips, tmp_path, stage, target):
    clip = clips[stage.clip]
    command = Command([str(clip) if argument == CLIP else argument for argument in stage.arguments], tmp_path)
    command.wait_until(lambda: stage.mid_run(command, tmp_path, clip), stage.what)
    command.interrupt(target)
    assert_interrupted(command, tmp_path, "error: interrupted; no partial output was kept")
    assert not (tmp_path / stage.output).exists()


@pytest.fixture(scope="module")
def shapes_dataset(tmp_path_factory) -> Path:
    from v2vcli.data.synthetic import write_shapes_dataset

    return write_shapes_dataset(tmp_path_factory.mktemp("train") / "data", sequences=1, frames=6, size=(32, 32))


def checkpoint_steps(run: Path) -> list[int]:
    """Steps of the run's complete checkpoints (folders with a state.json), oldest first."""
    return sorted(int(path.parent.name.split("-")[1]) for path in run.glob("checkpoint-*/state.json"))


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_train_interrupted_keeps_its_checkpoints_and_resumes(shapes_dataset, tmp_path, target):
    train = ["train", str(shapes_dataset), "--name", "clip", "--output-dir", "weights", "--save-every", "1",
             "--sample-every", "0", "--quiet"]
    run = tmp_path / "weights" / "clip"
    command = Command([*train, "--steps", "100000"], tmp_path)
    command.wait_until(lambda: checkpoint_steps(run), "complete checkpoint")
    command.interrupt(target)
    line = assert_interrupted(command, tmp_path)
    steps = checkpoint_steps(run)
    assert steps, "the complete checkpoints were removed"
    latest = f"checkpoint-{steps[-1]:07d}"
    assert re.search(rf"\b{latest}\b", line) and "--resume" in line, line
    if target == "ctrl-c":  # one quick check that the run continues from there
        resumed = subprocess.run([sys.executable, "-m", "v2vcli", *train, "--resume", "--steps", str(steps[-1] + 1)],
                                 cwd=tmp_path, capture_output=True, text=True, env=ENVIRONMENT)
        assert resumed.returncode == 0, resumed.stderr
        assert checkpoint_steps(run)[-1] == steps[-1] + 1
