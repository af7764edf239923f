"""Frame metrics for judging a generated video: warping error, flicker, PSNR and SSIM.

Pure functions on numpy arrays. Frames are RGB uint8 (H, W, 3) (float arrays in 0-255 also work);
every error is in 8-bit intensity levels (0-255), averaged over the three channels. Flow fields are
float32 (H, W, 2) in pixels, x then y, with the v2v convention: `flow` from frame a to frame b means
a[y, x] ~ b[y + flow[y, x, 1], x + flow[y, x, 0]], so `warp(b, flow)` rebuilds a.
docs/eval.md defines each metric precisely.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from v2vcli.flow.occlusion import occlusion_mask
from v2vcli.flow.warp import warp

PSNR_CAP = 100.0  # dB reported for identical frames (the true value is infinite)
SSIM_SIGMA = 1.5  # Wang et al. 2004: 11x11 Gaussian window, sigma 1.5
SSIM_RADIUS = 5  # int(3.5 * sigma + 0.5), the window scikit-image uses for these settings


def _float(frame: np.ndarray, dtype=np.float32) -> np.ndarray:
    return np.asarray(frame).astype(dtype, copy=False)


def visible_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Pixels of frame t that are seen in frame t-1: bool (H, W), True = usable (not occluded).

    `backward`: flow t -> t-1, `forward`: flow t-1 -> t. A pixel is visible when the round trip nearly
    returns to where it started, |b + f(p + b)|^2 <= 0.01 (|b|^2 + |f(p + b)|^2) + 0.5 (Sundaram et al.
    2010), and p + b lies inside the frame (v2vcli.flow.occlusion).
    """
    return ~occlusion_mask(backward, forward)


def warp_residual(current: np.ndarray, previous: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """current - warp(previous, backward): what motion does not explain. float32 (H, W, C), levels.

    Outside the frame the warp repeats the edge; `visible_mask` leaves those pixels out.
    """
    return _float(current) - warp(_float(previous), backward)


def masked_mean_abs(values: np.ndarray, mask: np.ndarray) -> float:
    """Mean of |values| over the pixels where `mask` (H, W) is True and all channels; NaN if none are."""
    count = int(np.count_nonzero(mask))
    if count == 0:
        return math.nan
    selected = np.abs(values[mask])
    return float(selected.sum(dtype=np.float64) / selected.size)


def warping_error(current: np.ndarray, previous: np.ndarray, backward: np.ndarray, visible: np.ndarray,
                  reference_residual: np.ndarray | None = None) -> float:
    """Mean |current - warp(previous, backward) - reference_residual| over visible pixels, in levels.

    Without `reference_residual` this is the absolute warping error of the frame pair; with the real
    video's own residual (`warp_residual` of the reference frames) it counts only the part of the
    generated video's change that the real video does not share: 0 for a copy of the reference.
    """
    residual = warp_residual(current, previous, backward)
    if reference_residual is not None:
        residual = residual - reference_residual
    return masked_mean_abs(residual, visible)


def blur(frame: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian blur (float32, same shape), so that encoder noise does not count as change."""
    return cv2.GaussianBlur(_float(frame), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def frame_change(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """|current - previous| averaged over channels: float32 (H, W), levels."""
    difference = np.abs(_float(current) - _float(previous))
    return difference.mean(axis=-1) if difference.ndim == 3 else difference


def static_mask(current_guide: np.ndarray, previous_guide: np.ndarray, threshold: float,
                sigma: float = 1.0) -> np.ndarray:
    """Where the guide video does not change: bool (H, W), blurred frame change below `threshold` levels."""
    return frame_change(blur(current_guide, sigma), blur(previous_guide, sigma)) < threshold


def still_mask(backward: np.ndarray, visible: np.ndarray, max_motion: float) -> np.ndarray:
    """Where the flow says nothing moves: bool (H, W), |backward| below `max_motion` px and visible."""
    return (np.hypot(backward[..., 0], backward[..., 1]) < max_motion) & visible


def flicker(current: np.ndarray, previous: np.ndarray, static: np.ndarray) -> float:
    """Mean |current - previous| over the static pixels and all channels, levels; NaN if none are static."""
    return masked_mean_abs(_float(current) - _float(previous), static)


def psnr(image: np.ndarray, reference: np.ndarray, cap: float = PSNR_CAP, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels, at most `cap` (identical frames)."""
    error = np.mean((_float(image, np.float64) - _float(reference, np.float64)) ** 2)
    if error == 0:
        return cap
    return float(min(cap, 10.0 * math.log10(data_range**2 / error)))


def ssim(image: np.ndarray, reference: np.ndarray, data_range: float = 255.0) -> float:
    """Structural similarity (Wang et al. 2004) in [-1, 1]; 1 for identical frames.

    Gaussian-weighted local statistics (sigma 1.5, 11x11 window, population covariances), K1 = 0.01,
    K2 = 0.03, computed per channel on (H, W) or (H, W, C) frames; the mean of the SSIM map over the
    pixels whose whole window lies inside the frame, averaged over channels. Equals scikit-image's
    structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False).
    """
    x = _float(image, np.float64)
    y = _float(reference, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"ssim needs frames of one shape, got {x.shape} and {y.shape}")
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    size = 2 * SSIM_RADIUS + 1

    def local_mean(values: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(values, (size, size), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    mean_x, mean_y = local_mean(x), local_mean(y)
    variance_x = local_mean(x * x) - mean_x**2
    variance_y = local_mean(y * y) - mean_y**2
    covariance = local_mean(x * y) - mean_x * mean_y
    similarity = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (variance_x + variance_y + c2)
    )
    inner = similarity[SSIM_RADIUS:-SSIM_RADIUS, SSIM_RADIUS:-SSIM_RADIUS]
    if inner.size == 0:  # smaller than one window: use every pixel rather than none
        inner = similarity
    return float(inner.mean())
