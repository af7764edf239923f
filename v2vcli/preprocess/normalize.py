"""Pose normalization for motion transfer: map a source person's keypoints onto the target's body.

As in Everybody Dance Now: people nearer the camera stand lower in the frame and look taller. For each
video we record, at its nearest and farthest positions, the height in the frame of a ground point (the
ankles; the hips or shoulders when the legs are out of view, as in upper-body footage) and the body
height (nose to ground point). A source pose whose ground point is at y is then scaled by the ratio of
target to source body height, interpolated between the near and far ends, and moved so its ground point
lands where the target's would be at the same relative depth; horizontally it is centred on the
target's median position plus the source's offset from its own median, scaled.

Keypoints are mediapipe's 33 landmarks, arrays (33, 5): x, y in pixels, z, visibility, presence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

NOSE = 0
GROUND_JOINTS = {"ankles": (27, 28), "hips": (23, 24), "shoulders": (11, 12)}  # lowest first
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


def ground_point(keypoints: np.ndarray, joints: tuple[int, int]) -> tuple[float, float] | None:
    """Mean (x, y) of the visible joints of a pair, or None when neither is visible."""
    visible = [keypoints[j, :2] for j in joints if keypoints[j, 3] >= VISIBLE]
    return tuple(np.mean(visible, axis=0)) if visible else None


def pose_statistics(poses: Iterable[np.ndarray | None]) -> dict[str, dict]:
    """Statistics of a video's poses, for each ground joint pair visible in at least half the frames.

    Returns {"ankles": GroundStats as dict, "hips": ..., ...} (only the pairs seen often enough).
    """
    poses = [p for p in poses if p is not None and p[NOSE, 3] >= VISIBLE]
    result: dict[str, dict] = {}
    for name, joints in GROUND_JOINTS.items():
        samples = []
        for keypoints in poses:
            point = ground_point(keypoints, joints)
            if point is not None and point[1] > keypoints[NOSE, 1]:
                samples.append((point[0], point[1], point[1] - keypoints[NOSE, 1]))
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


def shared_ground(source: dict[str, dict], target: dict[str, dict]) -> str:
    """The lowest ground joint pair both videos have statistics for."""
    for name in GROUND_JOINTS:
        if name in source and name in target:
            return name
    raise ValueError("the source and target poses share no visible ground joints (ankles, hips or shoulders)")


class PoseNormalizer:
    """Maps source keypoints to the target's scale and place (see the module docstring)."""

    def __init__(self, source_stats: dict[str, dict], target_stats: dict[str, dict]):
        self.ground = shared_ground(source_stats, target_stats)
        self.source = GroundStats(**source_stats[self.ground])
        self.target = GroundStats(**target_stats[self.ground])

    def depth(self, ground_y: float) -> float:
        """0 at the source's farthest position, 1 at its nearest (clipped)."""
        span = self.source.near_y - self.source.far_y
        return 0.5 if span < 1e-6 else float(np.clip((ground_y - self.source.far_y) / span, 0, 1))

    def __call__(self, keypoints: np.ndarray) -> np.ndarray:
        """Normalized copy of one pose (33, 5); the ground point of a pose that lacks one is the source's mean."""
        point = ground_point(keypoints, GROUND_JOINTS[self.ground])
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
