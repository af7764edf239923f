"""One skeleton for the commands that turn every frame of a video into files: `v2v pose`, `segment`, `flow`.

A command is a FrameExport subclass that fills in what is its own: the models and files it opens, the
item it computes per frame (or frame pair), how it writes an item and draws its preview frame, and the
result it returns. `run()` does the rest, the same for all: the input is probed and the output checked
before any work (an input is never overwritten, an existing output is refused without `overwrite`); the
output folder is written under a temporary name and appears complete or not at all; decoding (a reader
thread), the per-frame work (this thread) and the writing (a worker thread, plus the preview's encoder
process) overlap with flat memory; a progress bar counts the items.

The preview's format is chosen like every other video output (v2vcli/io/writers.py): `mp4` (H.264,
the default), `mkv`, `mov` (ProRes), `webm` (VP9) write OUT/<name>.<format>; `png` writes the folder
OUT/preview/ of numbered PNG frames (exact pixels).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.io.probe import VideoInfo

DEFAULT_PREVIEW_FORMAT = "mp4"
PNG_FORMAT = "png"
PREVIEW_FOLDER = "preview"


def preview_formats() -> tuple[str, ...]:
    """The preview formats, from the video writers' registry: their suffixes without the dot, then png."""
    from v2vcli.io.writers import FOLDER, WRITERS

    return (*(suffix.lstrip(".") for suffix in WRITERS if suffix != FOLDER), PNG_FORMAT)


def preview_name(stem: str, preview_format: str) -> str:
    """The preview's name in the output folder: `stem.format`, or PREVIEW_FOLDER for png frames;
    BadInput listing the formats for an unknown one."""
    if preview_format not in preview_formats():
        raise BadInput(f"unknown preview format {preview_format!r}; choose one of: {', '.join(preview_formats())}")
    return PREVIEW_FOLDER if preview_format == PNG_FORMAT else f"{stem}.{preview_format}"


@dataclass(frozen=True)
class ExportRun:
    """What `FrameExport.run` measured: the input's VideoInfo, the items written, the wall time in seconds
    (models loading included) and the preview's final path (None without a preview)."""

    info: VideoInfo
    items: int
    seconds: float
    preview: Path | None


class FrameExport:
    """The skeleton of a per-frame command (see the module docstring).

    Subclasses set `label` (the progress bar's), `unit` (what an item is) and `preview_stem` (the
    preview's name without suffix), and implement `items`, `write`, `preview_frame` and `finish`;
    `check`, `open` and `total` have defaults. `preview_format` None writes no preview.
    """

    label = ""
    unit = "frames"
    preview_stem = ""

    def __init__(self, video: Path | str, output: Path | str, *, preview_format: str | None = DEFAULT_PREVIEW_FORMAT,
                 overwrite: bool = False, quiet: bool = False):
        self.video, self.output = Path(video), Path(output)
        self.preview_name = preview_name(self.preview_stem, preview_format) if preview_format else None
        self.overwrite, self.quiet = overwrite, quiet

    def check(self, info: VideoInfo) -> None:
        """Refuse an input this command cannot use (BadInput), before any work."""

    def open(self, folder: Path, info: VideoInfo, stack: ExitStack) -> None:
        """Make subfolders of `folder` and open models and files, entering them into `stack`: they close
        after the last item is written, before `finish`."""

    def total(self, info: VideoInfo) -> int:
        """How many items the input gives (for the progress bar)."""
        return info.frame_count

    def items(self, frames: Iterator[np.ndarray]) -> Iterator[Any]:
        """The items to write, computed from the input's frames (RGB uint8 (H, W, 3)), in order."""
        raise NotImplementedError

    def write(self, item: Any) -> None:
        """Write one item's files (on the worker thread, in order)."""
        raise NotImplementedError

    def preview_frame(self, item: Any) -> np.ndarray:
        """One item's preview frame, RGB uint8 (H, W, 3) (on the worker thread)."""
        raise NotImplementedError

    def finish(self, folder: Path, run: ExportRun) -> Any:
        """Write the summary files into `folder` (still the temporary one) and return the command's result."""
        raise NotImplementedError

    def run(self) -> Any:
        """Do the command (see the module docstring); return what `finish` returns."""
        from v2vcli.io.background import BackgroundSink
        from v2vcli.io.outputs import atomic_path, check_output
        from v2vcli.io.video import PREVIEW_PRESET, VideoReader, VideoWriter, probe_video
        from v2vcli.progress import track

        info = probe_video(self.video)
        check_output(self.output, [self.video], self.overwrite)
        self.check(info)
        started = time.perf_counter()
        count = 0
        with atomic_path(self.output) as folder:
            folder.mkdir()
            with ExitStack() as stack:
                self.open(folder, info, stack)
                preview = None
                if self.preview_name is not None:
                    preview = stack.enter_context(VideoWriter(folder / self.preview_name, info.fps,
                                                              preset=PREVIEW_PRESET))
                # Entered last, so closed first: every queued item is written before the files close.
                sink = stack.enter_context(BackgroundSink(partial(self._handle, preview)))
                items = self.items(iter(VideoReader(self.video, info=info)))
                for item in track(items, self.total(info), self.label, self.quiet, unit=self.unit):
                    sink.put(item)
                    count += 1
            preview_path = self.output / self.preview_name if self.preview_name is not None else None
            return self.finish(folder, ExportRun(info, count, time.perf_counter() - started, preview_path))

    def _handle(self, preview, item: Any) -> None:
        self.write(item)
        if preview is not None:
            preview.write(self.preview_frame(item))
