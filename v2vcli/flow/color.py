"""Flow fields as colour images: hue is the direction of motion, saturation its speed (white = still)."""

from __future__ import annotations

import numpy as np


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """float (H, W, 2) flow in pixels -> RGB uint8 (H, W, 3) on the HSV colour wheel.

    Direction sets the hue (right = red, down = yellow-green, left = cyan, up = violet), magnitude the
    saturation, reaching full colour at `max_magnitude` pixels; None uses the field's 99th percentile
    of magnitude (at least 1 px, so the noise of a still scene stays near white).
    """
    import cv2

    flow = np.asarray(flow, dtype=np.float32)
    magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1], angleInDegrees=True)
    if max_magnitude is None:
        # A strided sample estimates the percentile at a sixteenth of the cost.
        max_magnitude = max(float(np.percentile(magnitude[::4, ::4], 99)), 1.0)
    # uint8 HSV (hue in 0..179) converts through a lookup table, several times faster than float HSV.
    hue = cv2.convertScaleAbs(angle, alpha=0.5)
    hue[hue >= 180] = 0
    saturation = cv2.convertScaleAbs(magnitude, alpha=255.0 / max_magnitude)
    value = np.full_like(hue, 255)
    return cv2.cvtColor(cv2.merge([hue, saturation, value]), cv2.COLOR_HSV2RGB)
