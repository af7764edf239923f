"""The edges condition: Canny edges of each frame (uint8 (H, W), 255 on edges) by v2vcli.preprocess.edges.

The thresholds come from the whole video (its 90th gradient percentile, docs/edges.md), so a sequence's
maps are made after its last frame has been seen: `prepare` counts the gradients as the frames come and
makes the maps from the stored frames; `generate --from edges` reads the video twice. Both measure the
frames at the size the maps are made at (the dataset's), and carry edges along the optical flow
between frames (flow-guided hysteresis). dataset.json records the rule ("edges": blur, percentile, low
ratio, temporal); each video gets its own thresholds by it, so new footage of other contrast gets as
many edges as the training footage had.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from v2vcli.conditions.base import Condition, MapMaker, VideoMaps, video_frames


def edge_rule() -> dict:
    """How the maps are made, as dataset.json records it."""
    from v2vcli.preprocess.edges import BLUR_SIGMA, EDGE_FLOW, HIGH_PERCENTILE, LOW_RATIO

    return {"blur": BLUR_SIGMA, "percentile": HIGH_PERCENTILE, "low_ratio": LOW_RATIO, "temporal": True,
            "flow": EDGE_FLOW}


def video_thresholds(video, info, size: tuple[int, int]):
    """EdgeThresholds of a whole video (a first pass over its frames at `size` (W, H))."""
    from v2vcli.preprocess.edges import estimate_thresholds

    return estimate_thresholds(video_frames(video, info, size))


class EdgeMaps(MapMaker):
    """Counts gradients as the frames come; makes the edge maps from the stored frames in `finish`."""

    deferred = True

    def __init__(self, config, size: tuple[int, int], fps):
        from v2vcli.preprocess.edges import ThresholdEstimator

        super().__init__()
        self.estimator = ThresholdEstimator()

    def add(self, index: int, frame: np.ndarray) -> tuple[None, None]:
        self.estimator.add(frame)
        return None, None

    def finish(self, frames) -> Iterator[np.ndarray]:
        from v2vcli.preprocess.edges import edge_frames

        yield from edge_frames(frames(), self.estimator.thresholds)


class EdgesCondition(Condition):
    name = "edges"
    summary = "Canny edge maps, steady over time; no model needed"
    stored_channels = 1

    def map_maker(self, config, size: tuple[int, int], fps) -> MapMaker:
        return EdgeMaps(config, size, fps)

    def dataset_record(self, config, classes, poses) -> dict:
        return {"num_classes": self.stored_channels, "edges": edge_rule()}

    def video_maps(self, video, info, model, config) -> VideoMaps:
        from v2vcli.preprocess.edges import edge_frames

        size = model.render_size
        thresholds = video_thresholds(video, info, size)
        maps = edge_frames(video_frames(video, info, size), thresholds)
        return VideoMaps(model.fit(edge_map) for edge_map in maps)
