"""A tiny synthetic training set (moving shapes) for tests, benchmarks and smoke runs; no download needed.

Each sequence shows a disc and a square gliding over a textured background. Labels are the class ids
(0 background, 1 disc, 2 square), or for `condition="pose"` an RGB rendering of them, so a model can
learn the mapping in minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from v2vcli.data.layout import DATASET_FILE, DATASET_VERSION, FLOW_DIR, FRAMES_DIR, LABELS_DIR, MASKS_DIR
from v2vcli.flow.compute import flow_between
from v2vcli.flow.storage import write_flow
from v2vcli.io.frames import FRAME_NAME, write_image

PALETTE = np.array([[0, 0, 0], [255, 80, 40], [40, 200, 255]], dtype=np.uint8)


def shapes_frame(index: int, size: tuple[int, int], phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 (H, W, 3), class ids uint8 (H, W)) of frame `index`."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    background = np.stack([40 + 30 * np.sin(xs / 5.0), 50 + 20 * np.cos(ys / 7.0), 60 + 0 * xs], axis=2)
    image = background.astype(np.uint8)
    ids = np.zeros((height, width), dtype=np.uint8)
    t = index + phase
    cx, cy = int(width * (0.3 + 0.04 * t)), int(height * (0.5 + 0.1 * np.sin(t / 2)))
    cv2.circle(ids, (cx, cy), max(2, width // 7), 1, -1)
    side = max(2, width // 6)
    sx, sy = int(width * (0.7 - 0.03 * t)), int(height * 0.3)
    cv2.rectangle(ids, (sx - side // 2, sy - side // 2), (sx + side // 2, sy + side // 2), 2, -1)
    stripes = (((xs + 2 * index) // 3) % 2 * 60).astype(np.int16)
    for class_id in (1, 2):
        colour = PALETTE[class_id].astype(np.int16) - stripes[..., None] * (class_id == 1)
        image = np.where((ids == class_id)[..., None], np.clip(colour, 0, 255), image).astype(np.uint8)
    return image, ids


def write_shapes_dataset(root: Path | str, sequences: int = 1, frames: int = 6, size: tuple[int, int] = (64, 64),
                         condition: str = "segment", masks: bool = True, flow: bool = False,
                         layout: str = "v2v") -> Path:
    """Write the dataset into `root` (created) in the v2v layout or NVIDIA's ("vid2vid"); return root."""
    root = Path(root)
    meta = {"version": DATASET_VERSION, "condition": condition, "num_classes": 3 if condition == "segment" else 3,
            "size": list(size), "fps": 12.0, "sequences": []}
    for number in range(sequences):
        name = f"clip{number:02d}"
        if layout == "v2v":
            folders = {kind: root / name / kind for kind in (FRAMES_DIR, LABELS_DIR, MASKS_DIR, FLOW_DIR)}
        else:
            folders = {FRAMES_DIR: root / "train_B" / name, LABELS_DIR: root / "train_A" / name}
        for kind, folder in folders.items():
            if kind == MASKS_DIR and not masks or kind == FLOW_DIR and not flow:
                continue
            folder.mkdir(parents=True, exist_ok=True)
        previous = None
        for index in range(frames):
            image, ids = shapes_frame(index, size, phase=1.7 * number)
            label = ids if condition == "segment" else PALETTE[ids]
            write_image(folders[FRAMES_DIR] / FRAME_NAME.format(index), image)
            write_image(folders[LABELS_DIR] / FRAME_NAME.format(index), label)
            if layout == "v2v" and masks:
                write_image(folders[MASKS_DIR] / FRAME_NAME.format(index), (ids > 0).astype(np.uint8) * 255)
            if layout == "v2v" and flow and previous is not None:
                # The flow from frame i to i-1, stored under i-1, as `v2v prepare` stores it.
                write_flow(folders[FLOW_DIR] / f"{index - 1:06d}.npy", flow_between(image, previous))
            previous = image
        meta["sequences"].append({"name": name, "frames": frames})
    if layout == "v2v":
        (root / DATASET_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return root
