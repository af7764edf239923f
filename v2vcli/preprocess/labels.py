"""Semantic label maps: class tables and colours, colour previews, temporal smoothing and flicker.

A label map is uint8 (H, W) of class ids; 255 means "unlabeled" (no class) and is drawn black.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from v2vcli.flow.compute import STILL_MOTION

UNLABELED = 255

# The Cityscapes benchmark colours (19 train classes, in train-id order), so street scenes look as people
# expect them to.
CITYSCAPES_COLORS: dict[str, tuple[int, int, int]] = {
    "road": (128, 64, 128), "sidewalk": (244, 35, 232), "building": (70, 70, 70), "wall": (102, 102, 156),
    "fence": (190, 153, 153), "pole": (153, 153, 153), "traffic light": (250, 170, 30),
    "traffic sign": (220, 220, 0), "vegetation": (107, 142, 35), "terrain": (152, 251, 152),
    "sky": (70, 130, 180), "person": (220, 20, 60), "rider": (255, 0, 0), "car": (0, 0, 142),
    "truck": (0, 0, 70), "bus": (0, 60, 100), "train": (0, 80, 100), "motorcycle": (0, 0, 230),
    "bicycle": (119, 11, 32),
}
_FIXED_COLORS = {**CITYSCAPES_COLORS, "background": (0, 0, 0)}


@dataclass(frozen=True)
class SegmentClass:
    """One class of a label map: its id (the pixel value), name, and preview colour (RGB)."""

    id: int
    name: str
    color: tuple[int, int, int]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["color"] = list(self.color)
        return data


# Cityscapes' classes by train id (0..18, the order above), as Cityscapes-trained models number them.
CITYSCAPES_CLASSES = [SegmentClass(train_id, name, color)
                      for train_id, (name, color) in enumerate(CITYSCAPES_COLORS.items())]


def indexed_palette(count: int = 256) -> np.ndarray:
    """(count, 3) uint8 RGB: the PASCAL VOC bit-interleaved palette, distinct colours for ids 1, 2, ..."""
    palette = np.zeros((count, 3), np.uint8)
    for index in range(count):
        code, red, green, blue = index, 0, 0, 0
        for bit in range(8):
            red |= ((code >> 0) & 1) << (7 - bit)
            green |= ((code >> 1) & 1) << (7 - bit)
            blue |= ((code >> 2) & 1) << (7 - bit)
            code >>= 3
        palette[index] = (red, green, blue)
    return palette


def class_table(id2label: Mapping[int, str]) -> list[SegmentClass]:
    """Classes from a model's id -> name table; known names (Cityscapes, background) keep their usual colour."""
    palette = indexed_palette()
    classes = []
    for class_id, name in sorted((int(key), str(value)) for key, value in id2label.items()):
        if not 0 <= class_id < UNLABELED:
            raise ValueError(f"class id {class_id} ({name}) does not fit a uint8 label map (0..254)")
        color = _FIXED_COLORS.get(name.lower().replace("_", " "), tuple(int(c) for c in palette[class_id + 1]))
        classes.append(SegmentClass(class_id, name, color))
    return classes


def color_table(classes: list[SegmentClass]) -> np.ndarray:
    """(256, 3) uint8 lookup table id -> RGB; ids without a class (and UNLABELED) are black."""
    table = np.zeros((256, 3), np.uint8)
    for segment_class in classes:
        table[segment_class.id] = segment_class.color
    return table


def colorize(labels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """uint8 (H, W) label map -> RGB uint8 (H, W, 3) through a `color_table`."""
    return np.take(table, labels, axis=0)  # 4x faster than table[labels] for the same result


def overlay(frame: np.ndarray, colors: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """Blend a colour preview (H, W, 3) onto the frame (H, W, 3), both RGB uint8."""
    import cv2

    return cv2.addWeighted(colors, opacity, frame, 1.0 - opacity, 0.0)


class TemporalSmoother:
    """Exponential moving average of per-pixel class scores, carried along the optical flow.

    Each frame: state = strength * warp(state, flow to the previous frame) + (1 - strength) * scores.
    Following the flow keeps moving objects sharp (a plain average would smear them); strength 0
    is no smoothing, 0.5 halves the weight of a one-frame glitch, values near 1 lag behind real changes.
    """

    def __init__(self, strength: float):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
        self.strength = strength
        self._state: np.ndarray | None = None

    def __call__(self, scores: np.ndarray, flow_to_previous: np.ndarray | None) -> np.ndarray:
        """scores: float32 (H, W, C); flow_to_previous: float32 (H, W, 2) from this frame to the
        previous one (None for the first frame or to average in place). Returns smoothed (H, W, C)."""
        from v2vcli.flow.warp import warp

        scores = np.asarray(scores, dtype=np.float32)
        if self._state is None or self.strength == 0.0 or self._state.shape != scores.shape:
            self._state = scores
            return scores
        previous = self._state if flow_to_previous is None else warp(self._state, flow_to_previous)
        previous = previous.reshape(scores.shape)  # cv2.remap drops a trailing channel axis of 1
        self._state = self.strength * previous + (1.0 - self.strength) * scores
        return self._state


def still_pixels(flow: np.ndarray, threshold: float = STILL_MOTION) -> np.ndarray:
    """bool (H, W): where the flow (H, W, 2), in pixels, moves less than `threshold`."""
    import cv2

    return cv2.magnitude(flow[..., 0], flow[..., 1]) < threshold


class FlickerMeter:
    """Flicker: the fraction of still pixels (see `still_pixels`) whose class changes from one frame to
    the next. 0 for a label video that holds still where the scene does."""

    def __init__(self):
        self.changed = 0
        self.still_pixels = 0
        self.pixels = 0

    def add(self, previous: np.ndarray, labels: np.ndarray, still: np.ndarray) -> None:
        """previous, labels: uint8 (H, W) of two consecutive frames; still: bool (H, W) from `still_pixels`."""
        self.changed += int(np.count_nonzero((previous != labels) & still))
        self.still_pixels += int(np.count_nonzero(still))
        self.pixels += still.size

    @property
    def rate(self) -> float | None:
        """Changed still pixels / still pixels; None when no pixel was still."""
        return self.changed / self.still_pixels if self.still_pixels else None

    @property
    def still_fraction(self) -> float | None:
        return self.still_pixels / self.pixels if self.pixels else None
