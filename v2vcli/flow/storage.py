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

Training sets (`v2v prepare`, v2vcli/data/dataset.py) store their fields compactly, as 16-bit PNG
(`write_compact_flow`): one grey channel, the x component in the top H rows and the y component in the
H rows below, each value `round(flow / COMPACT_STEP) + COMPACT_ZERO`. The step is 1/32 px, so a stored
field is within 1/64 px of the computed one at any motion (float16 is as close at 32-64 px of motion and
coarser beyond), over +-1024 px (fields are clipped there: more than a frame at a training size moves).
PNG's lossless compression makes a field 3-15x smaller than float16 .npy on real footage
(docs/training.md).
`read_flow` reads both kinds by their suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput

FIELD_NAME = "{:06d}.npy"
COMPACT_FIELD_NAME = "{:06d}.png"
COMPACT_STEP = 1 / 32  # pixels per stored unit
COMPACT_ZERO = 32768  # the stored value of zero motion (uint16)
FIELD_SUFFIXES = (".png", ".npy")  # compact first: a folder holding both kinds is read as compact
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


def write_compact_flow(path: Path | str, flow: np.ndarray) -> None:
    """Save a flow field (H, W, 2), pixels, as a 16-bit PNG (2H, W): x above y, in steps of COMPACT_STEP."""
    import cv2

    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"a flow field is (H, W, 2), got {flow.shape}")
    units = np.rint(np.concatenate((flow[..., 0], flow[..., 1])) / COMPACT_STEP) + COMPACT_ZERO
    if not cv2.imwrite(str(path), np.clip(units, 0, 65535).astype(np.uint16)):
        raise BadInput(f"{path}: cannot write flow field")


def read_flow(path: Path | str) -> np.ndarray:
    """Load a flow field written by `write_flow` (.npy) or `write_compact_flow` (.png) as float32 (H, W, 2)."""
    if Path(path).suffix.lower() == ".png":
        return _read_compact_flow(path)
    try:
        flow = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BadInput(f"{path}: not a readable flow field ({error})") from None
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise BadInput(f"{path}: a flow field is (H, W, 2), this one is {flow.shape}")
    return flow.astype(np.float32)


def _read_compact_flow(path: Path | str) -> np.ndarray:
    import cv2

    units = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if units is None or units.dtype != np.uint16 or units.ndim != 2 or units.shape[0] % 2:
        raise BadInput(f"{path}: not a flow field (a 16-bit single-channel PNG of even height)")
    height = units.shape[0] // 2
    flow = np.empty((height, units.shape[1], 2), np.float32)
    # one pass per component straight into the output: no (2H, W) float temporary
    np.multiply(units[:height], COMPACT_STEP, out=flow[..., 0], dtype=np.float32)
    np.multiply(units[height:], COMPACT_STEP, out=flow[..., 1], dtype=np.float32)
    flow -= COMPACT_ZERO * COMPACT_STEP
    return flow


def flow_field_shape(path: Path | str) -> tuple[int, int, int]:
    """(H, W, 2) of a stored field, read from its header; BadInput when it is not a flow field."""
    path = Path(path)
    if path.suffix.lower() == ".png":
        with open(path, "rb") as handle:
            head = handle.read(26)
        # PNG signature, IHDR, bit depth 16, colour type 0 (grey), even height: what write_compact_flow makes
        if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR" or head[24:26] != b"\x10\x00":
            raise BadInput(f"{path}: not a flow field (a 16-bit single-channel PNG)")
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        if height % 2:
            raise BadInput(f"{path}: not a flow field (odd height {height})")
        return height // 2, width, 2
    try:
        shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
    except (OSError, ValueError) as error:
        raise BadInput(f"{path}: not a readable flow field ({error})") from None
    return tuple(shape)


def field_files(folder: Path) -> list[Path]:
    """The stored fields of a folder in frame order: its compact (.png) ones, else its .npy ones."""
    for suffix in FIELD_SUFFIXES:
        paths = sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []
        if paths:
            return paths
    return []


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
