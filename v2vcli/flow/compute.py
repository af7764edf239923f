"""Dense optical flow between frames: OpenCV DIS (fast/medium presets) and Farneback, in a registry built
from the method classes themselves (each FlowMethod subclass declares its `name`).

Convention everywhere in v2v: `flow_between(a, b)` is a float32 (H, W, 2) field in pixels, x then y,
such that a[y, x] ~ b[y + flow[y, x, 1], x + flow[y, x, 0]]. Sampling `b` at the positions `p + flow(p)`
therefore rebuilds `a` (see `warp`), which is how vid2vid puts the previous frame onto the current one:
`warp(previous, flow_between(current, previous))`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from v2vcli.errors import BadInput, V2VError
from v2vcli.flow.occlusion import occlusion_mask

DEFAULT_METHOD = "dis-medium"
STILL_MOTION = 0.5  # pixels: less motion than this between two frames counts as "nothing moved"
FLOW_METHODS: dict[str, type[FlowMethod]] = {}


class FlowMethod:
    """A dense flow estimator for the frames of one video: `method(first, second)` -> float32 (H, W, 2),
    the flow from `first` to `second` (the module's convention), for RGB uint8 (H, W, 3) or gray uint8
    (H, W) frames of one size. Keep one instance per video: DIS reuses its image pyramids between calls.

    A subclass sets `name` (registering it) and `summary` (for help texts), and implements `gray_flow`.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            FLOW_METHODS[cls.name] = cls

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return self.gray_flow(to_gray(first), to_gray(second))

    def both_ways(self, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the flow from `first` to `second`, the flow from `second` to `first`), each frame made gray once."""
        first, second = to_gray(first), to_gray(second)
        return self.gray_flow(first, second), self.gray_flow(second, first)

    def gray_flow(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The flow between two contiguous gray uint8 (H, W) frames."""
        raise NotImplementedError


class _DIS(FlowMethod):
    """A reusable cv2.DISOpticalFlow at one of OpenCV's presets."""

    preset: ClassVar[str]

    def __init__(self):
        import cv2

        self._estimator = cv2.DISOpticalFlow_create(getattr(cv2, self.preset))

    def gray_flow(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return self._estimator.calc(first, second, None)


class DisFast(_DIS):
    name = "dis-fast"
    summary = "DIS, OpenCV's FAST preset"
    preset = "DISOPTICAL_FLOW_PRESET_FAST"


class DisMedium(_DIS):
    name = "dis-medium"
    summary = "DIS, MEDIUM preset"
    preset = "DISOPTICAL_FLOW_PRESET_MEDIUM"


class Farneback(FlowMethod):
    """cv2.calcOpticalFlowFarneback with parameters that suit 256-1024 px video (slower than DIS, smoother)."""

    name = "farneback"
    summary = "Farneback: slower, smoother"

    def gray_flow(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.calcOpticalFlowFarneback(
            first, second, None, pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0
        )


# name -> FlowMethod class, as the classes declare them.
METHODS = FLOW_METHODS


def flow_method_class(method: str) -> type[FlowMethod]:
    """The flow method registered as `method`; BadInput listing the valid names for an unknown one."""
    if method not in FLOW_METHODS:
        raise BadInput(f"unknown flow method {method!r}; choose one of: {', '.join(FLOW_METHODS)}")
    return FLOW_METHODS[method]


def make_estimator(method: str = DEFAULT_METHOD) -> FlowMethod:
    """A new estimator of the flow method `method`; BadInput listing the valid names for an unknown one."""
    return flow_method_class(method)()


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
    return make_estimator(method)(first, second)


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
            if backward:
                forward, reverse = estimator.both_ways(previous, gray)
                yield FlowPair(index - 1, forward, reverse, occlusion_mask(forward, reverse),
                               occlusion_mask(reverse, forward))
            else:
                yield FlowPair(index - 1, estimator.gray_flow(previous, gray))
        previous = gray


class FlowToPrevious:
    """For the frames of one video fed in order, the flow from each frame to the one before it (None for
    the first): what warps the previous frame, or anything on its grid, onto the current one
    (`warp(previous, flow)`). Frames are RGB uint8 (H, W, 3) or gray (H, W)."""

    def __init__(self, method: str = DEFAULT_METHOD):
        self._estimator = make_estimator(method)
        self._previous: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        gray = to_gray(frame)
        flow = None if self._previous is None else self._estimator.gray_flow(gray, self._previous)
        self._previous = gray
        return flow
