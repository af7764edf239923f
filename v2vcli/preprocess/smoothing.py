"""Smoothing keypoint tracks over time: a centred smoother for whole clips, a causal one for live frames.

Files (`v2v pose`, `prepare`, `dance`) are smoothed whole, track by track (`smooth_track`), per point and
coordinate, by locally weighted quadratic fits over centred windows (Savitzky-Golay filters whose weights
are the point's visibility) whose width adapts to the motion: at each frame the widest window is kept
whose fit still agrees with every narrower one within their noise (the intersection of confidence
intervals rule, Katkovnik 1999; the noise level is measured on the track itself). A still joint gets
the widest window (its jitter averages out), a joint that swings or jumps a narrow one (its motion is
kept). Every fit is centred, so there is no lag: a step is crossed at its frame and a swing peaks when it
did. Visibility weighs each sample, so a point the model only guesses at barely pulls on the visible
ones around it, and short gaps in a track are filled by interpolation. Windows and gaps are set in
seconds (`KeypointSmoothing`); docs/pose.md has the measurements behind the defaults.

Frames that arrive one by one (`PoseEstimator` on its own: `estimate_poses`, `v2v generate --from pose`,
`v2v eval --poses`) cannot wait for the future: they get a One Euro filter (Casiez, Roussel, Vogel, CHI
2012), a low-pass filter whose cutoff rises with speed (speeds in object sizes per second, as mediapipe's
own landmark smoother measures them), which lags behind fast motion.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

# Samples weigh their visibility squared, at least this much: a joint the model calls hidden for a whole
# window is still smoothed (among equally unsure samples), but next to visible samples it counts 1/400 of one.
MIN_VISIBILITY_WEIGHT = 0.05
VISIBILITY = 3  # the column of a keypoint array (pose_backend.COLUMNS) after x, y, z
# Points smoothed at once: the fits' working arrays are a few dozen (T, points) float64 arrays, so a long clip
# of a 553-point layout (body, hands, face) stays within a few hundred MB.
POINTS_AT_ONCE = 64


@dataclass(frozen=True)
class KeypointSmoothing:
    """Centred smoothing of whole tracks (`smooth_track`).

    window_seconds: the half-widths of the fitting windows to choose from, narrowest first (2, 3, 4, 5, 6
      and 8 frames each side at 30 fps; round(seconds x fps) frames, at least 1, at other rates).
    confidence: the half-width of each fit's confidence interval, in standard deviations of its noise;
      lower keeps more motion and removes less jitter.
    fill_gap_seconds: a track missing for at most round(fill_gap_seconds x fps) frames in a row is
      interpolated across the gap (0.2 s: 6 frames at 30 fps, 5 at 24 fps); longer gaps stay empty.
    """

    window_seconds: tuple[float, ...] = (2 / 30, 3 / 30, 4 / 30, 5 / 30, 6 / 30, 8 / 30)
    confidence: float = 0.75
    fill_gap_seconds: float = 0.2

    def window_frames(self, fps: float) -> list[int]:
        return sorted({max(1, math.floor(seconds * fps + 0.5)) for seconds in self.window_seconds})

    def fill_frames(self, fps: float) -> int:
        return max(0, math.floor(self.fill_gap_seconds * fps + 0.5))


def local_quadratic(values: np.ndarray, weights: np.ndarray, half_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted local quadratic regression along axis 0, centred on every sample.

    values: float (T, N, D), D values sharing one weight (a point's x, y, z); weights: float (T, N), >= 0,
    0 where a sample is missing, otherwise its precision (a sample of weight w has noise variance 1/w
    times a weight-1 sample's). Each output sample is the value at its own frame of the quadratic that
    best fits the samples within `half_width` frames, each weighed by its weight times a tricube kernel of
    its distance. Returns (estimates float64 (T, N, D); variance factors float64 (T, N), an estimate's
    noise variance over a weight-1 sample's). Where the window holds too few samples for a quadratic the
    estimate is their weighted mean (the value itself where it holds none) and the variance factor inf.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    count = len(values)
    padded_weights = np.pad(weights, ((half_width, half_width), (0, 0)))
    padded_values = np.pad(weights[..., None] * np.nan_to_num(values), ((half_width, half_width), (0, 0), (0, 0)))
    # Moments of each window, u the offset from its centre, k the kernel: s[j] = sum(k w u^j),
    # q[j] = sum(k^2 w u^j) (for the variance), b[j] = sum(k w y u^j); summed one offset at a time so
    # memory stays that of the input.
    s = [np.zeros(weights.shape) for _ in range(5)]
    q = [np.zeros(weights.shape) for _ in range(5)]
    b = [np.zeros(values.shape) for _ in range(3)]
    for offset in range(-half_width, half_width + 1):
        kernel = (1.0 - (abs(offset) / (half_width + 1)) ** 3) ** 3
        window = slice(half_width + offset, half_width + offset + count)
        for power in range(5):
            s[power] += kernel * offset**power * padded_weights[window]
            q[power] += kernel**2 * offset**power * padded_weights[window]
        for power in range(3):
            b[power] += kernel * offset**power * padded_values[window]
    # g: the first row of the inverse of the 3x3 normal matrix, by cofactors; the estimate is g . b.
    cofactors = (s[2] * s[4] - s[3] ** 2, s[2] * s[3] - s[1] * s[4], s[1] * s[3] - s[2] ** 2)
    determinant = s[0] * cofactors[0] + s[1] * cofactors[1] + s[2] * cofactors[2]
    # Fewer than three well-spread samples leave the quadratic undetermined (a determinant near 0 at the
    # scale of the window's moments).
    solvable = determinant > 1e-6 * s[0] * s[2] * s[4]
    with np.errstate(divide="ignore", invalid="ignore"):
        g = [np.where(solvable, cofactor / determinant, 0.0) for cofactor in cofactors]
        mean = b[0] / s[0][..., None]
    fitted = sum(g[power][..., None] * b[power] for power in range(3))
    variance = sum(g[row] * g[column] * q[row + column] for row in range(3) for column in range(3))
    estimates = np.where(solvable[..., None], fitted, np.where(s[0][..., None] > 0, mean, values))
    return estimates, np.where(solvable, variance, np.inf)


def noise_level(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """float (N, D): the noise standard deviation of each series of values (T, N, D), from the median size
    of its third differences over runs of four well-seen samples (weight above 0.25: visibility 0.5); a
    third difference cancels any quadratic motion, so what remains is mostly noise. Series with no such
    run get the median level of the others (0 when none has one)."""
    values = np.asarray(values, dtype=np.float64)
    seen = np.asarray(weights) > 0.25
    third = values[3:] - 3 * values[2:-1] + 3 * values[1:-2] - values[:-3]
    usable = (seen[3:] & seen[2:-1] & seen[1:-2] & seen[:-3])[..., None] & np.isfinite(third)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series without a usable run: NaN, replaced below
        # For white noise of deviation sigma a third difference has deviation sqrt(20) sigma, and the median
        # of its absolute value is 0.6745 times that.
        levels = np.nanmedian(np.where(usable, np.abs(third), np.nan), axis=0) / (0.6745 * math.sqrt(20))
    fallback = np.nanmedian(levels) if np.isfinite(levels).any() else 0.0
    return np.where(np.isfinite(levels), levels, fallback)


def adaptive_quadratic(values: np.ndarray, weights: np.ndarray, half_widths: list[int],
                       confidence: float) -> np.ndarray:
    """`local_quadratic` with the window chosen per sample from `half_widths` (narrowest first) by the
    intersection of confidence intervals: the widest window whose estimate +- confidence x its noise
    deviation overlaps those of all narrower windows. values (T, N, D), weights (T, N) -> float64 (T, N, D).
    """
    deviation = noise_level(values, weights)
    chosen = low = high = agreeing = None
    for half_width in half_widths:
        estimates, variance = local_quadratic(values, weights, half_width)
        # A window too sparse for a quadratic (infinite variance) says nothing: an unbounded interval.
        finite = np.isfinite(variance)[..., None]
        deviations = deviation * np.sqrt(np.where(finite[..., 0], variance, 0.0))[..., None]
        spread = np.where(finite, confidence * deviations, np.inf)
        if chosen is None:
            chosen, low, high = estimates, estimates - spread, estimates + spread
            agreeing = np.ones(estimates.shape, dtype=bool)
            continue
        low, high = np.fmax(low, estimates - spread), np.fmin(high, estimates + spread)
        agreeing &= low <= high
        chosen = np.where(agreeing & finite, estimates, chosen)
    return chosen


def smooth_track(landmarks: np.ndarray, found: np.ndarray, fps: float,
                 settings: KeypointSmoothing | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One person's keypoints over consecutive frames, smoothed and with short gaps filled.

    landmarks: float (T, K, C) (C >= 5: x, y, z, visibility, presence, ...), rows where `found` is False
    ignored. found: bool (T,), the frames where the person was found. Returns (float32 (T, K, C) with NaN
    rows where the person stays absent, bool (T,) the frames that now have keypoints: the found ones and
    those in gaps of at most `settings.fill_frames(fps)` frames, interpolated linearly between the
    smoothed frames each side of the gap). x, y, z are smoothed (`adaptive_quadratic`, each sample
    weighed by its visibility squared); visibility and presence are kept as found.
    """
    settings = settings or KeypointSmoothing()
    landmarks = np.array(landmarks, dtype=np.float64)
    found = np.asarray(found, dtype=bool)
    weights = np.where(found[:, None], np.clip(landmarks[:, :, VISIBILITY], MIN_VISIBILITY_WEIGHT, 1.0) ** 2, 0.0)
    for start in range(0, landmarks.shape[1], POINTS_AT_ONCE):
        points = slice(start, start + POINTS_AT_ONCE)
        landmarks[:, points, :VISIBILITY] = adaptive_quadratic(
            landmarks[:, points, :VISIBILITY], weights[:, points], settings.window_frames(fps), settings.confidence)
    present = found.copy()
    indices = np.flatnonzero(found)
    for before, after in zip(indices[:-1], indices[1:], strict=True):
        if 1 < after - before <= settings.fill_frames(fps) + 1:
            fraction = (np.arange(before + 1, after) - before)[:, None, None] / (after - before)
            landmarks[before + 1:after] = (1 - fraction) * landmarks[before] + fraction * landmarks[after]
            present[before + 1:after] = True
    landmarks[~present] = np.nan
    return landmarks.astype(np.float32), present


@dataclass(frozen=True)
class OneEuroSettings:
    """min_cutoff: cutoff (Hz) at rest; lower = smoother when still.
    beta: how fast the cutoff rises with speed (per object size per second); higher = less lag.
    derivative_cutoff: cutoff (Hz) of the speed estimate itself."""

    min_cutoff: float = 1.0
    beta: float = 10.0
    derivative_cutoff: float = 1.0


def _alpha(cutoff: np.ndarray | float, period: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / period)


class OneEuroFilter:
    """Filter a stream of same-shaped float arrays (e.g. (33, 3) keypoints), element by element.

    Call with (time in seconds, values, scale); `scale` is the object's size in the values' units
    (e.g. the pose's bounding-box size in pixels) and makes the filter invariant to it.
    """

    def __init__(self, settings: OneEuroSettings | None = None):
        self.settings = settings or OneEuroSettings()
        self.reset()

    def reset(self) -> None:
        """Forget the past (a new track starts at the next call)."""
        self._time: float | None = None
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def __call__(self, time: float, value: np.ndarray, scale: float = 1.0) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self._time is None or self._value is None or self._value.shape != value.shape or time <= self._time:
            self._time, self._value, self._speed = time, value.copy(), np.zeros_like(value)
            return value.copy()
        period = time - self._time
        settings = self.settings
        speed = (value - self._value) / period
        speed = self._speed + _alpha(settings.derivative_cutoff, period) * (speed - self._speed)
        cutoff = settings.min_cutoff + settings.beta * np.abs(speed) / max(scale, 1e-6)
        smoothed = self._value + _alpha(cutoff, period) * (value - self._value)
        self._time, self._value, self._speed = time, smoothed, speed
        return smoothed.copy()
