"""The run's records: weights/NAME/log.jsonl (every loss, every event), TensorBoard when installed, console.

Each line of log.jsonl is one JSON object: {"step": 12, "phase": 0, "frames": 4, "size": [64, 64],
"seconds": 0.41, "G/gan": ..., "D/real": ...} for a step, or {"event": "...", ...} for schedule changes,
resumes, checkpoints and notes. Only rank 0 writes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class RunLog:
    def __init__(self, run_dir: Path, enabled: bool, quiet: bool):
        self.enabled = enabled
        self.quiet = quiet
        self.path = Path(run_dir) / "log.jsonl"
        self._handle = None
        self._board = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", buffering=1)
        try:  # TensorBoard is optional: scalars go there too when it is installed
            from torch.utils.tensorboard import SummaryWriter

            self._board = SummaryWriter(str(Path(run_dir) / "tensorboard"))
        except ImportError:
            self._board = None

    def event(self, name: str, **fields) -> None:
        if self._handle:
            self._handle.write(json.dumps({"event": name, "time": round(time.time(), 3), **fields}) + "\n")

    def note(self, text: str) -> None:
        """A line for the user (stderr, unless quiet) that is also kept in the log."""
        if not self.enabled:
            return
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)
        self.event("note", text=text)

    def losses(self, step: int, values: dict[str, float], **fields) -> None:
        if not self._handle:
            return
        record = {"step": step, **fields, **{key: round(float(value), 6) for key, value in values.items()}}
        self._handle.write(json.dumps(record) + "\n")
        if self._board is not None:
            for key, value in values.items():
                self._board.add_scalar(key, value, step)

    def close(self) -> None:
        if self._handle:
            self._handle.close()
            self._handle = None
        if self._board is not None:
            self._board.close()
            self._board = None


def read_log(path: Path | str) -> list[dict]:
    """All records of a log.jsonl (a line cut by a kill is skipped)."""
    records = []
    for line in Path(path).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
