"""`v2v flow` as a library call: a video file in, a folder of flow fields, masks and a preview out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.export import DEFAULT_PREVIEW_FORMAT, ExportRun, FrameExport
from v2vcli.flow import storage
from v2vcli.flow.color import flow_to_color
from v2vcli.flow.compute import DEFAULT_METHOD, FlowPair, compute_flow, flow_method_class
from v2vcli.io.probe import VideoInfo
from v2vcli.results import Result, rate, write_json


@dataclass
class FlowResult(Result):
    """What `v2v flow` made (its --json, also OUT/flow.json).

    video, output: the input and the output folder. method: the flow method. backward: backward flow and
    occlusion masks were written too. width, height: the fields' size. frames: frames read; flow_fields:
    fields written (one fewer). preview: the colour preview's path (None without one); preview_frames:
    its frames (one fewer than the input). note: that count, said in words. seconds: wall time.
    pairs_per_second: frame pairs processed a second (throughput). layout: file pattern -> what it holds.
    """

    video: str
    output: str
    method: str
    backward: bool
    width: int
    height: int
    frames: int
    flow_fields: int
    preview: str | None
    preview_frames: int
    note: str
    seconds: float
    pairs_per_second: float | None
    layout: dict[str, str]


class FlowExport(FrameExport):
    """`v2v flow` on the export skeleton: float16 fields, occlusion masks, the colour preview, flow.json."""

    label = "flow"
    unit = "pairs"
    preview_stem = storage.PREVIEW_STEM

    def __init__(self, video: Path | str, output: Path | str, method: str = DEFAULT_METHOD, backward: bool = False,
                 **options):
        flow_method_class(method)  # an unknown method fails before any work
        super().__init__(video, output, **options)
        self.method, self.backward = method, backward

    def check(self, info: VideoInfo) -> None:
        if info.frame_count < 2:
            raise BadInput(f"{self.video}: has {info.frame_count} frame; flow needs at least 2")

    def total(self, info: VideoInfo) -> int:
        return info.frame_count - 1

    def open(self, folder: Path, info: VideoInfo, stack: ExitStack) -> None:
        self.folder = folder
        for name in storage.folders(self.backward):
            (folder / name).mkdir()

    def items(self, frames: Iterator[np.ndarray]) -> Iterator[FlowPair]:
        return compute_flow(frames, self.method, self.backward)

    def write(self, pair: FlowPair) -> None:
        from v2vcli.io.frames import write_image

        folder = self.folder
        storage.write_flow(folder / storage.FORWARD_DIR / storage.FIELD_NAME.format(pair.index), pair.forward)
        if pair.backward is not None:
            storage.write_flow(folder / storage.BACKWARD_DIR / storage.FIELD_NAME.format(pair.index), pair.backward)
            mask_name = storage.MASK_NAME.format(pair.index)
            write_image(folder / storage.OCCLUSION_DIR / mask_name, pair.occlusion_forward.astype(np.uint8) * 255)
            write_image(folder / storage.OCCLUSION_BACKWARD_DIR / mask_name,
                        pair.occlusion_backward.astype(np.uint8) * 255)

    def preview_frame(self, pair: FlowPair) -> np.ndarray:
        return flow_to_color(pair.forward)

    def finish(self, folder: Path, run: ExportRun) -> FlowResult:
        pairs = run.items
        result = FlowResult(
            video=str(self.video), output=str(self.output), method=self.method, backward=self.backward,
            width=run.info.width, height=run.info.height, frames=pairs + 1, flow_fields=pairs,
            preview=str(run.preview) if run.preview else None, preview_frames=pairs if run.preview else 0,
            note=f"N frames give N-1 flow fields; {self.preview_name or 'the preview'} has one frame fewer than "
                 "the input",
            seconds=round(run.seconds, 3), pairs_per_second=rate(pairs, run.seconds),
            layout=storage.layout(self.backward, self.preview_name),
        )
        write_json(folder / storage.SUMMARY_NAME, result)
        return result


def export_flow(
    video: Path | str,
    output: Path | str,
    method: str = DEFAULT_METHOD,
    backward: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    preview: bool = True,
    preview_format: str = DEFAULT_PREVIEW_FORMAT,
) -> FlowResult:
    """Compute the flow of every consecutive frame pair of `video` into the folder `output`.

    Layout: see v2vcli.flow.storage. Decoding (a reader thread), flow (this thread) and writing (a
    writer thread plus the encoder process) overlap; memory stays flat. The folder appears only when
    complete. `preview=False` skips the colour preview, whose H.264 encoding costs about as much CPU as
    dis-medium itself; `preview_format` chooses its format (v2vcli.export). Returns the result also
    written to OUT/flow.json.
    """
    return FlowExport(video, output, method, backward, preview_format=preview_format if preview else None,
                      overwrite=overwrite, quiet=quiet).run()
