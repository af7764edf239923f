"""Pose normalization for motion transfer: map a source person's keypoints onto the target's body.

As in Everybody Dance Now: people nearer the camera stand lower in the frame and look taller. For each
video we record, at its nearest and farthest positions, the height in the frame of a ground point and
the body height (head to ground point). The ground point comes from the lowest ground group of the
layout that both videos show: for the feet (the layout's first group, mediapipe's ankles) it is the
lowest visible one, the planted foot, so lifting the other moves nothing; for the fallbacks when the
legs are out of view (hips, shoulders: pairs that move together, as in upper-body footage) it is their
mean. A source pose whose ground point is at y is then scaled by the ratio of target to source body
height, interpolated between the near and far ends, and moved so its ground point lands where the
target's would be at the same relative depth; horizontally it is centred on the target's median
position plus the source's offset from its own median, scaled.

Keypoints are arrays (K, C) in a KeypointLayout's order (v2vcli.preprocess.keypoints; the default
backend's by default): x, y in pixels, z, visibility, presence. Every point, hands and face included,
goes through the same scale and shift, so they move with the body.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from v2vcli.preprocess.keypoints import KeypointLayout

VISIBLE = 0.5
NEAR_PERCENTILE, FAR_PERCENTILE = 95, 5


@dataclass(frozen=True)
class GroundStats:
    """Where a person's ground point sits (pixels from the top) and how tall they look there."""

    near_y: float
    far_y: float
    near_height: float
    far_height: float
    center_x: float


def _layout(layout: KeypointLayout | None) -> KeypointLayout:
    if layout is not None:
        return layout
    from v2vcli.preprocess.pose_backend import pose_layout

    return pose_layout()


def ground_point(keypoints: np.ndarray, joints: tuple[int, ...], lowest: bool = True) -> tuple[float, float] | None:
    """Where a group of joints meets the ground, or None when none of them is visible: with `lowest` (feet)
    the mean x and the largest y of its visible joints (y grows downwards: the planted foot), else the
    mean of its visible joints (hips, shoulders)."""
    visible = keypoints[[j for j in joints if keypoints[j, 3] >= VISIBLE], :2]
    if not len(visible):
        return None
    return float(visible[:, 0].mean()), float(visible[:, 1].max() if lowest else visible[:, 1].mean())


def is_feet(layout: KeypointLayout, group: str) -> bool:
    """Whether `group` is the layout's lowest ground group (the feet), whose lowest point is the ground."""
    return group == layout.ground_joints[0][0]


def pose_statistics(poses: Iterable[np.ndarray | None], layout: KeypointLayout | None = None) -> dict[str, dict]:
    """Statistics of a video's poses (K, C), for each ground group visible in at least half the frames.

    Returns {"ankles": GroundStats as dict, "hips": ..., ...} (only the groups seen often enough).
    """
    layout = _layout(layout)
    head = layout.head
    poses = [p for p in poses if p is not None and p[head, 3] >= VISIBLE]
    result: dict[str, dict] = {}
    for name, joints in layout.ground_joints:
        samples = []
        for keypoints in poses:
            point = ground_point(keypoints, joints, is_feet(layout, name))
            if point is not None and point[1] > keypoints[head, 1]:
                samples.append((point[0], point[1], point[1] - keypoints[head, 1]))
        if not poses or len(samples) < 0.5 * len(poses):
            continue
        xs, ys, heights = np.array(samples).T
        near_y, far_y = np.percentile(ys, NEAR_PERCENTILE), np.percentile(ys, FAR_PERCENTILE)
        result[name] = asdict(GroundStats(
            near_y=float(near_y),
            far_y=float(far_y),
            near_height=float(np.median(heights[ys >= near_y])),
            far_height=float(np.median(heights[ys <= far_y])),
            center_x=float(np.median(xs)),
        ))
    return result


def shared_ground(source: dict[str, dict], target: dict[str, dict], layout: KeypointLayout | None = None) -> str:
    """The lowest ground group both videos have statistics for."""
    names = [name for name, _ in _layout(layout).ground_joints]
    for name in names:
        if name in source and name in target:
            return name
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    raise ValueError(f"the source and target poses share no visible ground joints ({listed})")


class PoseNormalizer:
    """Maps source keypoints to the target's scale and place (see the module docstring)."""

    def __init__(self, source_stats: dict[str, dict], target_stats: dict[str, dict],
                 layout: KeypointLayout | None = None):
        self.layout = _layout(layout)
        self.ground = shared_ground(source_stats, target_stats, self.layout)
        self.source = GroundStats(**source_stats[self.ground])
        self.target = GroundStats(**target_stats[self.ground])

    def depth(self, ground_y: float) -> float:
        """0 at the source's farthest position, 1 at its nearest (clipped)."""
        span = self.source.near_y - self.source.far_y
        return 0.5 if span < 1e-6 else float(np.clip((ground_y - self.source.far_y) / span, 0, 1))

    def __call__(self, keypoints: np.ndarray) -> np.ndarray:
        """Normalized copy of one pose (K, C); the ground point of a pose that lacks one is the source's mean."""
        point = ground_point(keypoints, self.layout.ground[self.ground], is_feet(self.layout, self.ground))
        ground_x, ground_y = point if point is not None else (
            self.source.center_x, (self.source.near_y + self.source.far_y) / 2)
        alpha = self.depth(ground_y)
        source_height = self.source.far_height + alpha * (self.source.near_height - self.source.far_height)
        target_height = self.target.far_height + alpha * (self.target.near_height - self.target.far_height)
        scale = target_height / max(source_height, 1e-6)
        target_ground_y = self.target.far_y + alpha * (self.target.near_y - self.target.far_y)
        target_ground_x = self.target.center_x + (ground_x - self.source.center_x) * scale
        result = keypoints.copy()
        result[:, 0] = (keypoints[:, 0] - ground_x) * scale + target_ground_x
        result[:, 1] = (keypoints[:, 1] - ground_y) * scale + target_ground_y
        return result
