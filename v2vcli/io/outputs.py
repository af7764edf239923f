"""Safe output paths: never overwrite an input, refuse existing outputs, write under a temporary name."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from v2vcli.errors import BadInput, OutputExists


def check_output(output: Path, inputs: Iterable[Path] = (), overwrite: bool = False) -> Path:
    """Validate that `output` may be written; return it as a Path.

    Refuses an output that is one of the inputs (whatever --overwrite says), an existing output
    without `overwrite`, and a parent folder that is missing or not writable.
    """
    output = Path(output)
    resolved = output.resolve()
    for source in inputs:
        if Path(source).resolve() == resolved:
            raise OutputExists(f"{output}: is an input of this command; choose another output")
    if output.exists() and not overwrite:
        raise OutputExists(f"{output}: already exists (pass --overwrite to replace it)")
    parent = resolved.parent
    if not parent.is_dir():
        raise BadInput(f"{output}: folder {parent} does not exist")
    try:  # os.access says yes to root even on read-only file systems; creating a file tells the truth
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError:
        raise BadInput(f"{output}: folder {parent} is not writable") from None
    return output


def temporary_sibling(path: Path) -> Path:
    """A unique name beside `path` (same folder, so the final rename is atomic), keeping the suffix."""
    path = Path(path)
    return path.with_name(f".{path.stem}.partial-{uuid.uuid4().hex[:8]}{path.suffix}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it to `path`, on any error remove it.

    Works for files and folders alike; an existing `path` is replaced only once the new one is complete.
    """
    path = Path(path)
    temporary = temporary_sibling(path)
    try:
        yield temporary
        commit(temporary, path)
    except BaseException:
        remove(temporary)
        raise


def commit(temporary: Path, path: Path) -> None:
    """Move a complete temporary file or folder onto `path`, replacing what is there."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    os.replace(temporary, path)


def remove(path: Path) -> None:
    """Remove a file or folder if it exists."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class CloseOrAbort:
    """A context manager for writers: `close()` when the block ends normally, `abort()` when it raises."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
