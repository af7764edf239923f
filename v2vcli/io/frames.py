"""PNG frame folders: 000000.png, 000001.png, ... (RGB, or single-channel for label maps)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput

FRAME_NAME = "{:06d}.png"


def frame_paths(folder: Path | str) -> list[Path]:
    """The image files of a frame folder in order (PNG or JPEG); BadInput when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    if not paths:
        raise BadInput(f"{folder}: holds no PNG or JPEG frames")
    return paths


def read_image(path: Path | str) -> np.ndarray:
    """An image file as uint8: (H, W, 3) RGB for colour images, (H, W) for single-channel ones."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BadInput(f"{path}: not a readable image")
    if image.dtype != np.uint8:
        raise BadInput(f"{path}: expected an 8-bit image, got {image.dtype}")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return image


def write_image(path: Path | str, image: np.ndarray) -> None:
    """Write a uint8 RGB (H, W, 3) or single-channel (H, W) image as PNG."""
    import cv2

    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise BadInput(f"{path}: cannot write image")


def read_frame_folder(folder: Path | str) -> Iterator[np.ndarray]:
    """The frames of a folder, in name order, one at a time."""
    for path in frame_paths(folder):
        yield read_image(path)


def write_frame_folder(folder: Path | str, frames: Iterable[np.ndarray]) -> int:
    """Write frames as 000000.png, 000001.png, ... into an existing folder; return the count."""
    folder = Path(folder)
    count = 0
    for count, frame in enumerate(frames, start=1):
        write_image(folder / FRAME_NAME.format(count - 1), frame)
    return count


def fit_to_size(image: np.ndarray, size: tuple[int, int], interpolation: int | None = None) -> np.ndarray:
    """`image` (H, W[, C]) resized to `size` (W, H) as frames and condition maps are resized everywhere
    (prepare, training, generation): cv2.resize, area-averaged unless `interpolation` says otherwise,
    unchanged when it already has the size."""
    import cv2

    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA if interpolation is None else interpolation)
