"""Dense optical flow between frames: OpenCV DIS (fast/medium presets) and Farneback, in one registry.

Convention everywhere in v2v: `flow_between(a, b)` is a float32 (H, W, 2) field in pixels, x then y,
such that a[y, x] ~ b[y + flow[y, x, 1], x + flow[y, x, 0]]. Sampling `b` at the positions `p + flow(p)`
therefore rebuilds `a` (see `warp`), which is how vid2vid puts the previous frame onto the current one:
`warp(previous, flow_between(current, previous))`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from v2vcli.errors import BadInput, V2VError
from v2vcli.flow.occlusion import occlusion_mask


class _DIS:
    """A reusable cv2.DISOpticalFlow: it keeps its image pyramids between calls, which is what makes it fast."""

    def __init__(self, preset_name: str):
        import cv2

        self._estimator = cv2.DISOpticalFlow_create(getattr(cv2, preset_name))

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return self._estimator.calc(first, second, None)


class _Farneback:
    """cv2.calcOpticalFlowFarneback with parameters that suit 256-1024 px video (slower than DIS, smoother)."""

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.calcOpticalFlowFarneback(
            first, second, None, pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0
        )


# name -> factory of an estimator: callable (gray uint8 (H, W), gray uint8 (H, W)) -> float32 (H, W, 2).
METHODS: dict[str, Callable[[], Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "dis-fast": lambda: _DIS("DISOPTICAL_FLOW_PRESET_FAST"),
    "dis-medium": lambda: _DIS("DISOPTICAL_FLOW_PRESET_MEDIUM"),
    "farneback": _Farneback,
}
DEFAULT_METHOD = "dis-medium"


def make_estimator(method: str = DEFAULT_METHOD) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The flow estimator registered as `method`; BadInput listing the valid names for an unknown one."""
    try:
        factory = METHODS[method]
    except KeyError:
        raise BadInput(f"unknown flow method {method!r}; choose one of: {', '.join(METHODS)}") from None
    return factory()


def to_gray(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) or gray (H, W) -> contiguous gray uint8 (H, W), what the estimators take."""
    import cv2

    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise V2VError(f"flow needs uint8 frames, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    raise V2VError(f"flow needs (H, W, 3) RGB or (H, W) gray frames, got shape {frame.shape}")


def flow_between(first: np.ndarray, second: np.ndarray, method: str = DEFAULT_METHOD) -> np.ndarray:
    """Flow from `first` to `second` (RGB uint8 (H, W, 3) or gray (H, W), same size).

    Returns float32 (H, W, 2), pixels, x then y: first[y, x] ~ second[y + f[..., 1], x + f[..., 0]].
    A pure function (a fresh estimator per call); for a whole video use `compute_flow`, which reuses one.
    """
    if np.shape(first)[:2] != np.shape(second)[:2]:
        raise V2VError(f"flow needs two frames of one size, got {np.shape(first)} and {np.shape(second)}")
    return make_estimator(method)(to_gray(first), to_gray(second))


@dataclass
class FlowPair:
    """The flow between frames `index` and `index + 1`.

    forward:  float32 (H, W, 2), frame index -> index + 1 (see the module docstring for the convention).
    backward: float32 (H, W, 2), frame index + 1 -> index; None unless asked for.
    occlusion_forward: bool (H, W) in frame `index`: True where that pixel has no reliable match in
        frame index + 1 (occluded, left the frame, or the two flows disagree); None without backward.
    occlusion_backward: bool (H, W) in frame `index + 1`: True where it has no reliable match in frame
        `index` (e.g. a region that appeared); None without backward.
    """

    index: int
    forward: np.ndarray
    backward: np.ndarray | None = None
    occlusion_forward: np.ndarray | None = None
    occlusion_backward: np.ndarray | None = None


def compute_flow(
    frames: Iterable[np.ndarray], method: str = DEFAULT_METHOD, backward: bool = False
) -> Iterator[FlowPair]:
    """Flow between each pair of consecutive frames: N frames give N-1 FlowPairs, streamed.

    `frames`: RGB uint8 (H, W, 3) (or gray (H, W)), all one size. With `backward`, each pair also holds
    the backward flow and both occlusion masks from the forward-backward consistency check.
    """
    estimator = make_estimator(method)
    previous = None
    for index, frame in enumerate(frames):
        gray = to_gray(frame)
        if previous is not None:
            if gray.shape != previous.shape:
                raise V2VError(f"frame {index} is {gray.shape[1]}x{gray.shape[0]}, "
                               f"frame 0 was {previous.shape[1]}x{previous.shape[0]}")
            forward = estimator(previous, gray)
            pair = FlowPair(index - 1, forward)
            if backward:
                pair.backward = estimator(gray, previous)
                pair.occlusion_forward = occlusion_mask(forward, pair.backward)
                pair.occlusion_backward = occlusion_mask(pair.backward, forward)
            yield pair
        previous = gray
