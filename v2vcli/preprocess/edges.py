"""Edge maps as a condition: Canny edges of every frame, made to hold still where the video does.

vid2vid conditions its face model on edge maps; an edge map needs no model, so any footage (street,
face, body) can become a training set offline. Plain Canny on video flickers: thresholds chosen per
frame move with the frame's content, and edges whose gradient sits near a threshold blink on and off
from one frame to the next. The rule here (docs/edges.md has the measurements behind each choice):

1. gray frame (BT.601), Gaussian blur of sigma BLUR_SIGMA = 1 px (camera and compression noise);
2. thresholds from the video, not per frame: `high` is the HIGH_PERCENTILE (90th) percentile of the
   Sobel (3x3) L2 gradient magnitude of the blurred frames, over a first pass or a sample of them
   (`estimate_thresholds`), at least MIN_HIGH; `low` is LOW_RATIO (0.4) x high;
3. Canny (L2 gradient) with those thresholds, every frame;
4. flow-guided hysteresis across frames (`temporal=True`): the previous edge map, carried onto the
   current frame along the optical flow (DIS fast) and widened by 1 px, lets a ridge pixel (a local
   maximum of the gradient above `low`) stay an edge even where no pixel of its chain exceeds `high`.
   An edge that weakens for a frame stays; an edge whose gradient is gone leaves.

Thresholds are in units of the Sobel magnitude of 0..255 gray levels (a sharp step of h levels,
blurred with sigma 1, peaks at 2.56 h); blur and gradients are in pixels, so thresholds belong to
one frame size: estimate them on frames of the size the edges are made at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from v2vcli.errors import BadInput, V2VError

BLUR_SIGMA = 1.0
HIGH_PERCENTILE = 90.0
LOW_RATIO = 0.4
# The least `high`: a sharp step of 8 gray levels (2.56 x 8). A nearly flat video (its 90th percentile
# below this) keeps its clearest edges and not its grain.
MIN_HIGH = 20.0
# The flow that carries the previous edges: DIS medium was no steadier at twice the cost (docs/edges.md).
EDGE_FLOW = "dis-fast"
# The largest Sobel 3x3 L2 magnitude of a uint8 image is 4 * 255 * sqrt(2) = 1442.5: one bin per unit.
_BINS = 1444


@dataclass(frozen=True)
class EdgeThresholds:
    """Canny's hysteresis thresholds, on the Sobel 3x3 L2 gradient magnitude of the blurred gray frame.

    high: a chain of ridge pixels is an edge when one of its pixels exceeds it. low: ridge pixels below
    it are never edges. blur: the Gaussian sigma (pixels) the frames are blurred with first.
    """

    low: float
    high: float
    blur: float = BLUR_SIGMA

    def __post_init__(self):
        if not 0.0 < self.low <= self.high:
            raise BadInput(f"edge thresholds need 0 < low <= high, not low {self.low}, high {self.high}")
        if self.blur < 0:
            raise BadInput(f"edge blur must be 0 or more pixels, not {self.blur}")

    def to_dict(self) -> dict:
        return asdict(self)


def blurred_gray(frame: np.ndarray, blur: float = BLUR_SIGMA) -> np.ndarray:
    """RGB uint8 (H, W, 3) or gray (H, W) -> gray uint8 (H, W), Gaussian-blurred with sigma `blur` px."""
    import cv2

    from v2vcli.flow.compute import to_gray

    gray = to_gray(frame)
    return cv2.GaussianBlur(gray, (0, 0), blur) if blur > 0 else gray


def gradient_magnitude(gray: np.ndarray) -> np.ndarray:
    """float32 (H, W): the Sobel 3x3 L2 gradient magnitude of gray uint8 (H, W), as cv2.Canny measures it."""
    import cv2

    return cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))


class ThresholdEstimator:
    """Video-wide thresholds from frames fed one at a time (a first pass, or a sample of the frames).

    Keeps a histogram of gradient magnitudes (one bin per unit), so memory does not grow with the video.
    """

    def __init__(self, blur: float = BLUR_SIGMA, percentile: float = HIGH_PERCENTILE, low_ratio: float = LOW_RATIO):
        if not 0.0 < percentile < 100.0 or not 0.0 < low_ratio <= 1.0:
            raise BadInput(f"edge threshold rule needs 0 < percentile < 100 and 0 < low ratio <= 1, "
                           f"not {percentile} and {low_ratio}")
        self.blur, self.percentile, self.low_ratio = blur, percentile, low_ratio
        self.counts = np.zeros(_BINS, np.int64)
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        """Count the gradient magnitudes of one RGB uint8 (H, W, 3) (or gray (H, W)) frame."""
        magnitude = gradient_magnitude(blurred_gray(frame, self.blur))
        self.counts += np.bincount(magnitude.astype(np.int32).ravel(), minlength=_BINS)[:_BINS]
        self.frames += 1

    @property
    def thresholds(self) -> EdgeThresholds:
        """The thresholds for the frames added so far; BadInput before any frame."""
        if not self.frames:
            raise BadInput("no frames to choose edge thresholds from")
        cumulative = np.cumsum(self.counts)
        # The first bin where the cumulative share reaches the percentile; magnitudes in bin k are [k, k+1).
        high = float(np.searchsorted(cumulative, cumulative[-1] * self.percentile / 100.0) + 1)
        high = max(high, MIN_HIGH)
        return EdgeThresholds(low=self.low_ratio * high, high=high, blur=self.blur)


def estimate_thresholds(frames: Iterable[np.ndarray], blur: float = BLUR_SIGMA) -> EdgeThresholds:
    """Video-wide EdgeThresholds from RGB uint8 (H, W, 3) frames: all of a first pass, or a sample
    (e.g. `itertools.islice(frames, 0, None, 10)`); at the size the edges will be made at."""
    estimator = ThresholdEstimator(blur)
    for frame in frames:
        estimator.add(frame)
    return estimator.thresholds


class EdgeDetector:
    """Edge maps for the frames of one video, fed in order: `detector(frame)` -> uint8 (H, W), 255 on
    edges, 0 elsewhere, for RGB uint8 (H, W, 3) frames. With `temporal`, edges of the previous frame
    carried along the optical flow survive where the gradient still has a ridge above `low` (see the
    module docstring); without it each frame is plain Canny with the video's thresholds.
    """

    def __init__(self, thresholds: EdgeThresholds, temporal: bool = True):
        from v2vcli.flow.compute import make_estimator

        self.thresholds = thresholds
        self.temporal = temporal
        self._flow = make_estimator(EDGE_FLOW) if temporal else None
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (blurred gray, edges) of the last frame

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        low, high = self.thresholds.low, self.thresholds.high
        gray = blurred_gray(frame, self.thresholds.blur)
        edges = cv2.Canny(gray, low, high, L2gradient=True)
        if self._flow is not None:
            previous = self._previous
            if previous is not None and previous[0].shape == gray.shape:
                edges |= self._carried_ridges(gray, *previous)
            self._previous = gray, edges
        return edges

    def _carried_ridges(self, gray: np.ndarray, previous_gray: np.ndarray, previous_edges: np.ndarray) -> np.ndarray:
        """uint8 (H, W): ridge pixels above `low` within 1 px of where the previous edges moved to."""
        import cv2

        from v2vcli.flow.warp import warp

        ridges = cv2.Canny(gray, self.thresholds.low, self.thresholds.low, L2gradient=True)  # every ridge > low
        # Bilinear, then above half: the edge lands on the nearest pixel, one pixel wide.
        carried = (warp(previous_edges, self._flow.gray_flow(gray, previous_gray)) > 127).astype(np.uint8)
        return ridges & cv2.dilate(carried, np.ones((3, 3), np.uint8)) * 255


def edge_frames(frames: Iterable[np.ndarray], thresholds: EdgeThresholds,
                temporal: bool = True) -> Iterator[np.ndarray]:
    """Edge maps uint8 (H, W) in {0, 255} for RGB uint8 (H, W, 3) frames, one per frame, streamed."""
    detector = EdgeDetector(thresholds, temporal)
    for frame in frames:
        yield detector(frame)


class EdgeFlickerMeter:
    """How much an edge video blinks where the scene holds still.

    For each pair of consecutive edge maps, over the still pixels (the flow moves them less than
    STILL_MOTION, 0.5 px): `rate` = pixels that are an edge in one map and not the other / pixels that
    are an edge in either; `appear_rate` counts only edge pixels with no edge of the other map within
    1 px (edges that come and go, not those that shift by a pixel), over the same pixels. `density`:
    the mean fraction of edge pixels in the maps after the first.
    """

    def __init__(self):
        self.flipped = 0
        self.appeared = 0
        self.edge_pixels = 0
        self.density_sum = 0.0
        self.pairs = 0

    def add(self, previous: np.ndarray, edges: np.ndarray, still: np.ndarray) -> None:
        """previous, edges: the edge maps (H, W) of two consecutive frames (nonzero = edge); still: bool (H, W)."""
        import cv2

        before, after = previous > 0, edges > 0
        near_before = cv2.dilate(before.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        near_after = cv2.dilate(after.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        self.flipped += int(np.count_nonzero((before != after) & still))
        self.appeared += int(np.count_nonzero(((after & ~near_before) | (before & ~near_after)) & still))
        self.edge_pixels += int(np.count_nonzero((before | after) & still))
        self.density_sum += float(after.mean())
        self.pairs += 1

    @property
    def rate(self) -> float | None:
        return self.flipped / self.edge_pixels if self.edge_pixels else None

    @property
    def appear_rate(self) -> float | None:
        return self.appeared / self.edge_pixels if self.edge_pixels else None

    @property
    def density(self) -> float | None:
        return self.density_sum / self.pairs if self.pairs else None


def measure_flicker(frames: Iterable[np.ndarray], edges: Iterable[np.ndarray]) -> EdgeFlickerMeter:
    """An EdgeFlickerMeter over an edge video: RGB uint8 (H, W, 3) frames and their edge maps, in step.
    Stillness comes from DIS medium flow on the frames, a different estimator from the one EdgeDetector
    uses, so the measure does not grade the detector with its own flow."""
    from v2vcli.flow.compute import FlowToPrevious
    from v2vcli.preprocess.labels import still_pixels

    meter = EdgeFlickerMeter()
    flow_to_previous = FlowToPrevious("dis-medium")
    previous = None
    for frame, edge_map in zip(frames, edges, strict=True):
        flow = flow_to_previous(frame)
        if previous is not None:
            if edge_map.shape != previous.shape:
                raise V2VError(f"edge maps change size from {previous.shape} to {edge_map.shape}")
            meter.add(previous, edge_map, still_pixels(flow))
        previous = edge_map
    return meter
