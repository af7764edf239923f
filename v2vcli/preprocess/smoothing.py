"""One Euro filter (Casiez, Roussel, Vogel, CHI 2012) for keypoint tracks.

A low-pass filter whose cutoff rises with speed: strong smoothing when a joint is still (jitter is
what remains), little lag when it moves. Speeds are measured in object sizes per second (as
mediapipe's own landmark smoother does), so the same settings suit a person filling the frame and one
far away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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
