"""The on-disk layout of `v2v flow` outputs, and reading it back.

    OUT/flow/000000.npy               float16 (H, W, 2): forward flow from frame 0 to frame 1, pixels, x then y
    OUT/flow_backward/000000.npy      float16 (H, W, 2): backward flow from frame 1 to frame 0 (with --backward)
    OUT/occlusion/000000.png          uint8 (H, W), 255 where a pixel of frame 0 has no match in frame 1
    OUT/occlusion_backward/000000.png uint8 (H, W), 255 where a pixel of frame 1 has no match in frame 0
    OUT/flow.mp4                      colour preview: N-1 frames, frame i shows the flow from frame i to i+1
                                      (not with --no-preview; --preview-format: flow.mkv, .mov, .webm, or
                                      OUT/preview/000000.png, ...)
    OUT/flow.json                     the summary (method, sizes, counts, pairs_per_second, this layout)

A video of N frames gives N-1 fields, numbered by their first frame. float16 keeps 0.03 px resolution
up to 64 px of motion (0.125 px up to 512), plenty for flow that is itself accurate to ~0.1-0.5 px.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput

FIELD_NAME = "{:06d}.npy"
MASK_NAME = "{:06d}.png"
FORWARD_DIR = "flow"
BACKWARD_DIR = "flow_backward"
OCCLUSION_DIR = "occlusion"
OCCLUSION_BACKWARD_DIR = "occlusion_backward"
PREVIEW_STEM = "flow"
SUMMARY_NAME = "flow.json"


def folders(backward: bool) -> tuple[str, ...]:
    """The subfolders of an output folder: the forward fields, and with `backward` the rest."""
    return (FORWARD_DIR, *((BACKWARD_DIR, OCCLUSION_DIR, OCCLUSION_BACKWARD_DIR) if backward else ()))


def layout(backward: bool, preview: str | None) -> dict[str, str]:
    """What each file of an output folder holds (written into flow.json); i numbers the first frame."""
    entries = {f"{FORWARD_DIR}/{FIELD_NAME.format(0)}": "float16 (H, W, 2) flow from frame i to i+1, pixels, x then y"}
    if backward:
        entries[f"{BACKWARD_DIR}/{FIELD_NAME.format(0)}"] = "float16 (H, W, 2) flow from frame i+1 to i"
        entries[f"{OCCLUSION_DIR}/{MASK_NAME.format(0)}"] = (
            "uint8 (H, W), 255 where a pixel of frame i has no match in frame i+1")
        entries[f"{OCCLUSION_BACKWARD_DIR}/{MASK_NAME.format(0)}"] = (
            "uint8 (H, W), 255 where a pixel of frame i+1 has no match in frame i")
    if preview:  # the preview's name in the folder (a video file, or a folder of PNG frames)
        entries[preview] = "colour preview with N-1 frames: frame i shows the flow from frame i to i+1"
    return entries


def write_flow(path: Path | str, flow: np.ndarray) -> None:
    """Save a flow field (H, W, 2) as a float16 .npy file."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"a flow field is (H, W, 2), got {flow.shape}")
    np.save(path, flow.astype(np.float16), allow_pickle=False)


def read_flow(path: Path | str) -> np.ndarray:
    """Load a flow field written by `write_flow` as float32 (H, W, 2)."""
    try:
        flow = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BadInput(f"{path}: not a readable flow field ({error})") from None
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise BadInput(f"{path}: a flow field is (H, W, 2), this one is {flow.shape}")
    return flow.astype(np.float32)


def flow_paths(output: Path | str, backward: bool = False) -> list[Path]:
    """The field files of a `v2v flow` output folder in frame order; BadInput when there are none."""
    folder = Path(output) / (BACKWARD_DIR if backward else FORWARD_DIR)
    paths = sorted(folder.glob("*.npy")) if folder.is_dir() else []
    if not paths:
        raise BadInput(f"{folder}: holds no flow fields (*.npy)")
    return paths


def read_flow_folder(output: Path | str, backward: bool = False) -> Iterator[np.ndarray]:
    """The fields of a `v2v flow` output folder, one at a time, float32 (H, W, 2)."""
    for path in flow_paths(output, backward):
        yield read_flow(path)
