"""The face condition: face sketches (v2vcli.conditions.face_sketch), RGB uint8 (H, W, 3).

The face mesh (mediapipe's face landmarker, 478 points, weights/face_landmarker.task) is found on each
frame at the dataset's size and its contours drawn as `v2v pose` draws them. Canny edges outside the
face (v2vcli.preprocess.edges: the video's thresholds, steady over time) are drawn too unless
`face_edges` is off: they are on by default, as in vid2vid's face model, because the contours alone say
nothing of the hair, ears, neck, clothes and background, which a model then has to invent (a blur that
changes from frame to frame); off suits driving a face with another person's video, whose hair and
clothes the edges would carry over. dataset.json records the choice ("face": {"edges": ...}) and
`generate --from face` follows it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from v2vcli.conditions.base import Condition, MapMaker, VideoMaps, video_frames
from v2vcli.conditions.edges import edge_rule, video_thresholds
from v2vcli.conditions.face_sketch import FaceFinder, face_sketch


class FaceMaps(MapMaker):
    """Finds the face of each frame as it comes (and counts its gradients for the edge thresholds);
    draws the sketches from the stored frames in `finish`."""

    deferred = True

    def __init__(self, config, size: tuple[int, int], fps):
        from v2vcli.preprocess.edges import ThresholdEstimator

        super().__init__()
        self.size = size
        self.finder = FaceFinder(fps).__enter__()
        self.estimator = ThresholdEstimator() if config.face_edges else None
        self.faces: list[np.ndarray | None] = []

    def add(self, index: int, frame: np.ndarray) -> tuple[None, None]:
        self.faces.append(self.finder(frame))
        if self.estimator is not None:
            self.estimator.add(frame)
        return None, None

    def finish(self, frames) -> Iterator[np.ndarray]:
        yield from sketches(frames(), self.faces, self.size, self.estimator.thresholds if self.estimator else None)

    def close(self) -> None:
        self.finder.close()


def sketches(frames, faces, size: tuple[int, int], thresholds) -> Iterator[np.ndarray]:
    """Face sketches of `frames` (RGB uint8 at `size`, in order) with their `faces` ((478, 2) or None each),
    with the edges outside the face by `thresholds` (EdgeThresholds; None: no edges)."""
    from v2vcli.preprocess.edges import EdgeDetector

    detector = EdgeDetector(thresholds) if thresholds is not None else None
    for frame, landmarks in zip(frames, faces, strict=True):
        yield face_sketch(landmarks, size, detector(frame) if detector is not None else None)


def found_faces(frames, fps) -> Iterator[np.ndarray | None]:
    """The face (478, 2) of each frame (RGB uint8, in order) or None, streamed."""
    with FaceFinder(fps) as finder:
        for frame in frames:
            yield finder(frame)


class FaceCondition(Condition):
    name = "face"
    summary = "face-mesh contours, with edges outside the face"
    stored_channels = 3
    # A mirrored sketch swaps the colours of the left and right eyes and eyebrows.
    flippable = False

    def map_maker(self, config, size: tuple[int, int], fps) -> MapMaker:
        return FaceMaps(config, size, fps)

    def dataset_record(self, config, classes, poses) -> dict:
        record = {"edges": config.face_edges}
        if config.face_edges:
            record["edge_rule"] = edge_rule()
        return {"num_classes": self.stored_channels, "face": record}

    def video_maps(self, video, info, model, config) -> VideoMaps:
        recorded = model.config.data.condition_record or {}
        edges = config.face_edges if config.face_edges is not None else recorded.get("edges", True)
        size = model.render_size
        thresholds = video_thresholds(video, info, size) if edges else None
        # One decoding feeds the landmarker and the sketches, in step (tee holds a frame, not the video).
        drawn, seen = itertools.tee(video_frames(video, info, size))
        maps = sketches(drawn, found_faces(seen, info.fps), size, thresholds)
        return VideoMaps(model.fit(sketch) for sketch in maps)
