"""`v2v flow` as a library call: a video file in, a folder of flow fields, masks and a preview out."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.flow import storage
from v2vcli.flow.color import flow_to_color
from v2vcli.flow.compute import DEFAULT_METHOD, FlowPair, compute_flow, make_estimator


def export_flow(
    video: Path | str,
    output: Path | str,
    method: str = DEFAULT_METHOD,
    backward: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    preview: bool = True,
) -> dict:
    """Compute the flow of every consecutive frame pair of `video` into the folder `output`.

    Layout: see v2vcli.flow.storage. Decoding (a reader thread), flow (this thread) and writing (a
    writer thread plus the encoder process) overlap; memory stays flat. The folder appears only when
    complete. `preview=False` skips OUT/flow.mp4, whose H.264 encoding costs about as much CPU as
    dis-medium itself. Returns the summary also written to OUT/flow.json.
    """
    from contextlib import nullcontext

    from v2vcli.io.background import BackgroundSink
    from v2vcli.io.outputs import atomic_path, check_output
    from v2vcli.io.video import PREVIEW_PRESET, VideoReader, VideoWriter, probe_video
    from v2vcli.progress import track

    video, output = Path(video), Path(output)
    make_estimator(method)  # an unknown method fails before any work
    info = probe_video(video)
    check_output(output, [video], overwrite)
    if info.frame_count < 2:
        raise BadInput(f"{video}: has {info.frame_count} frame; flow needs at least 2")
    started = time.perf_counter()
    pairs = 0
    with atomic_path(output) as folder:
        folder.mkdir()
        for name in (storage.FORWARD_DIR, *((storage.BACKWARD_DIR, storage.OCCLUSION_DIR,
                                             storage.OCCLUSION_BACKWARD_DIR) if backward else ())):
            (folder / name).mkdir()
        preview_path = folder / storage.PREVIEW_NAME
        preview_writer = VideoWriter(preview_path, info.fps, preset=PREVIEW_PRESET) if preview else None
        with preview_writer or nullcontext() as writer:

            def write(pair: FlowPair) -> None:
                _write_pair(folder, pair)
                if writer is not None:
                    writer.write(flow_to_color(pair.forward))

            with BackgroundSink(write) as sink:
                flows = compute_flow(VideoReader(video, info=info), method, backward)
                for pair in track(flows, info.frame_count - 1, "flow", quiet, unit="pairs"):
                    sink.put(pair)
                    pairs += 1
        seconds = time.perf_counter() - started
        summary = {
            "video": str(video),
            "output": str(output),
            "method": method,
            "backward": backward,
            "width": info.width,
            "height": info.height,
            "frames": pairs + 1,
            "flow_fields": pairs,
            "preview": str(output / storage.PREVIEW_NAME) if preview else None,
            "preview_frames": pairs if preview else 0,
            "note": "N frames give N-1 flow fields; flow.mp4 has one frame fewer than the input",
            "seconds": round(seconds, 3),
            "fps": round(pairs / seconds, 2) if seconds > 0 else None,
            "layout": storage.layout(backward, preview),
        }
        (folder / storage.SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _write_pair(folder: Path, pair: FlowPair) -> None:
    from v2vcli.io.frames import write_image

    storage.write_flow(folder / storage.FORWARD_DIR / storage.FIELD_NAME.format(pair.index), pair.forward)
    if pair.backward is not None:
        storage.write_flow(folder / storage.BACKWARD_DIR / storage.FIELD_NAME.format(pair.index), pair.backward)
        mask_name = storage.MASK_NAME.format(pair.index)
        write_image(folder / storage.OCCLUSION_DIR / mask_name, pair.occlusion_forward.astype(np.uint8) * 255)
        write_image(folder / storage.OCCLUSION_BACKWARD_DIR / mask_name,
                    pair.occlusion_backward.astype(np.uint8) * 255)
