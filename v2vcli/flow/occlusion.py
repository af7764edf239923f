"""Occlusion and confidence from the forward-backward consistency check (Sundaram, Brox & Keutzer, 2010).

A pixel p whose match p + f(p) in the other frame points back at p (f(p) + b(p + f(p)) ~ 0) is seen in
both frames; where the two flows disagree, the pixel is occluded in the other frame or the flow is wrong.
"""

from __future__ import annotations

import numpy as np

from v2vcli.flow.warp import sample_positions, warp


def consistency_error(flow: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """|f(p) + r(p + f(p))| in pixels, float32 (H, W): 0 where the flows agree exactly.

    flow: float32 (H, W, 2) from frame A to frame B; reverse: float32 (H, W, 2) from B to A.
    """
    import cv2

    total = np.asarray(flow, dtype=np.float32) + warp(np.asarray(reverse, dtype=np.float32), flow)
    return cv2.magnitude(total[..., 0], total[..., 1])


def occlusion_mask(flow: np.ndarray, reverse: np.ndarray, relative: float = 0.01, absolute: float = 0.5) -> np.ndarray:
    """bool (H, W) in the grid of `flow`: True where the pixel has no reliable match in the other frame.

    A pixel is flagged when |f + r(p + f)|^2 > relative * (|f|^2 + |r(p + f)|^2) + absolute (the
    tolerance grows with the motion, as flow errors do) or when p + f(p) falls outside the image.
    """
    flow = np.asarray(flow, dtype=np.float32)
    reverse_at_match = warp(np.asarray(reverse, dtype=np.float32), flow)
    total = flow + reverse_at_match
    # x*x + y*y by hand: numpy's sum over a last axis of 2 is several times slower.
    disagreement = total[..., 0] ** 2 + total[..., 1] ** 2
    magnitude = flow[..., 0] ** 2 + flow[..., 1] ** 2 + reverse_at_match[..., 0] ** 2 + reverse_at_match[..., 1] ** 2
    occluded = disagreement > relative * magnitude + absolute
    height, width = flow.shape[:2]
    match_x, match_y = sample_positions(flow)
    occluded |= (match_x < 0) | (match_x > width - 1) | (match_y < 0) | (match_y > height - 1)
    return occluded


def confidence(flow: np.ndarray, reverse: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """float32 (H, W) in [0, 1]: exp(-(consistency error / scale)^2), 1 where the flows agree."""
    error = consistency_error(flow, reverse)
    return np.exp(-np.square(error / scale)).astype(np.float32)
