"""The pose condition: the followed person's keypoints rendered as colour-coded limbs (RGB uint8 (H, W, 3)).

A sequence's maps are drawn after its last frame: the person to follow (`--person`, the most prominent
by default) is chosen from the whole clip's tracks. dataset.json records the pose backend and the
target's pose statistics (dance transfer normalizes a source's poses to them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from v2vcli.conditions.base import Condition, MapMaker, VideoMaps
from v2vcli.errors import BadInput

# A person probability above which a mask pixel is foreground, as the segment backends' threshold.
MASK_THRESHOLD = 0.5


class PoseMaps(MapMaker):
    """Finds the people of one sequence on its frames as decoded; draws the followed one's maps in
    `finish`, their keypoints scaled to the dataset's size. The person masks come from the same
    landmarker run when the mask backend is "pose" and the pose backend gives masks."""

    deferred = True
    reads_source = True

    def __init__(self, config, size: tuple[int, int], fps):
        from v2vcli.preprocess.pose_backend import PoseConfig, pose_backend_class

        super().__init__()
        self.config, self.size = config, size
        self.gives_masks = (config.masks and config.mask_backend == "pose"
                            and pose_backend_class(config.pose_backend).gives_masks)
        model = Path(config.pose_model) if config.pose_model else None
        pose_config = PoseConfig(backend=config.pose_backend, model=model, segmentation_masks=self.gives_masks)
        self.finder_settings = (fps, pose_config)
        self.finder = None  # made at the first frame, whose size the tracks are measured in
        self.source_size: tuple[int, int] | None = None

    def add(self, index: int, frame: np.ndarray) -> tuple[None, np.ndarray | None]:
        import cv2

        if self.finder is None:
            from v2vcli.preprocess.pose import PeopleFinder

            self.source_size = (frame.shape[1], frame.shape[0])
            self.finder = PeopleFinder(self.finder_settings[0], self.source_size, self.finder_settings[1])
            self.finder.__enter__()
        found = self.finder(frame)
        if not self.gives_masks:
            return None, None
        if found is None:
            return None, np.zeros(self.size[::-1], bool)
        return None, cv2.resize(found.segmentation, self.size, interpolation=cv2.INTER_AREA) > MASK_THRESHOLD

    def finish(self, frames) -> Iterator[np.ndarray]:
        from v2vcli.preprocess.render import render_pose

        people = self.finder.people()
        self.person = people.choose(self.config.person)
        scale = np.array([self.size[0] / self.source_size[0], self.size[1] / self.source_size[1]])
        self.poses = [None if keypoints is None else scale_keypoints(keypoints, scale)
                      for keypoints in people.person_poses(self.person)]
        for keypoints in self.poses:
            yield render_pose(keypoints, self.size, layout=people.layout)

    def close(self) -> None:
        if self.finder is not None:
            self.finder.close()


def scale_keypoints(keypoints: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Keypoints (..., K, C) with x, y in pixels, scaled by `scale` (x factor, y factor); a new array."""
    scaled = np.array(keypoints, dtype=np.float64)
    scaled[..., :2] *= scale
    return scaled


class PoseCondition(Condition):
    name = "pose"
    summary = "rendered body poses"
    stored_channels = 3
    # A mirrored rendering swaps the left and right limbs' colours.
    flippable = False

    def map_maker(self, config, size: tuple[int, int], fps) -> MapMaker:
        return PoseMaps(config, size, fps)

    def dataset_record(self, config, classes, poses) -> dict:
        from v2vcli.preprocess.normalize import pose_statistics
        from v2vcli.preprocess.pose_backend import pose_backend_class

        statistics = pose_statistics(poses, pose_backend_class(config.pose_backend).layout)
        if not statistics:
            raise BadInput("no person was found in enough frames to train on poses "
                           f"(frames with a person: {sum(p is not None for p in poses)} of {len(poses)})")
        return {"num_classes": self.stored_channels, "pose": {"backend": config.pose_backend},
                "pose_stats": statistics}

    def video_maps(self, video, info, model, config) -> VideoMaps:
        from v2vcli.inference.generate import pose_maps
        from v2vcli.io.video import VideoReader
        from v2vcli.preprocess.pose import find_people
        from v2vcli.preprocess.pose_backend import pose_backend_class

        estimation = config.pose_config()
        layout = pose_backend_class(estimation.backend).layout
        people = find_people(VideoReader(video, info=info), info.fps, estimation)
        followed = people.person_poses(people.choose(config.person))
        return VideoMaps(pose_maps((None if pose is None else pose[None] for pose in followed),
                                   (info.width, info.height), model, layout))
