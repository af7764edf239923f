"""Warping an image with a flow field (bilinear sampling), the operation flow exists for in vid2vid."""

from __future__ import annotations

import numpy as np


def sample_positions(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions p + flow(p) as two float32 (H, W) maps (x, y), what cv2.remap takes."""
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return grid_x + flow[..., 0], grid_y + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray, border: str = "replicate") -> np.ndarray:
    """Sample `image` at p + flow(p) for every pixel p of the flow's grid (bilinear).

    image: (H, W) or (H, W, C), any dtype cv2.remap takes (uint8, float32, ...); flow: (H, W, 2) float,
    pixels, x then y. With flow = flow_between(a, b), warp(b, flow) ~ a. `border`: "replicate" repeats
    the edge, "constant" fills zeros where p + flow(p) falls outside the image.
    """
    import cv2

    map_x, map_y = sample_positions(np.asarray(flow, dtype=np.float32))
    mode = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}[border]
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] > 4:
        # cv2.remap handles at most 4 channels at once.
        return np.concatenate(
            [cv2.remap(image[..., start:start + 4], map_x, map_y, cv2.INTER_LINEAR, borderMode=mode).reshape(
                *image.shape[:2], -1) for start in range(0, image.shape[2], 4)],
            axis=2,
        )
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=mode)
