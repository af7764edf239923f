"""The segment condition: class ids per pixel (uint8 (H, W)) from a segmentation backend, one-hot encoded.

dataset.json records the classes and how the labels were made ("segmentation": backend, model,
weights, threshold), so `generate --from segment` labels new video the same way by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction

import numpy as np

from v2vcli.conditions.base import Condition, MapMaker, VideoMaps
from v2vcli.errors import BadInput


class SegmentMaps(MapMaker):
    """Labels each frame as it comes; the person masks are its labels (person 1 vs background 0) when
    the mask backend is the segmentation backend itself."""

    def __init__(self, config, size: tuple[int, int], fps):
        from v2vcli.data.prepare import segment_config
        from v2vcli.preprocess.segment import make_backend

        super().__init__()
        self.fps = float(fps)
        self.segmenter = make_backend(segment_config(config))
        self.classes = [segment_class.to_dict() for segment_class in self.segmenter.classes]
        self.gives_masks = config.masks and config.segment_backend == config.mask_backend

    def add(self, index: int, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        from v2vcli.preprocess.timestamps import frame_milliseconds

        labels = self.segmenter.labels(self.segmenter.scores(frame, frame_milliseconds(index, self.fps)))
        return labels.astype(np.uint8), (labels > 0 if self.gives_masks else None)

    def close(self) -> None:
        self.segmenter.close()


class SegmentCondition(Condition):
    name = "segment"
    summary = "segmentation class ids"
    stored_channels = 1
    class_ids = True

    def channels(self, num_classes: int) -> int:
        return num_classes

    def encode(self, maps: np.ndarray, num_classes: int):
        """Class ids (T, H, W) uint8 -> (T, num_classes, H, W) one-hot {0, 1}."""
        import torch

        if maps.ndim != 3:
            raise BadInput(f"segment condition maps must be class ids (T, H, W), got shape {maps.shape}")
        if maps.size and int(maps.max()) >= num_classes:
            raise BadInput(f"class id {int(maps.max())} is not below the model's {num_classes} classes")
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(np.ascontiguousarray(maps)).long(), num_classes)
        return one_hot.permute(0, 3, 1, 2).float()

    def preview(self, labels, num_classes: int) -> np.ndarray:
        """A fixed colour per class (0 black)."""
        ids = labels[:, :num_classes].argmax(dim=1).cpu().numpy()
        palette = (np.arange(max(num_classes, 1))[:, None] * np.array([67, 151, 233]) % 256).astype(np.uint8)
        palette[0] = 0
        return palette[ids]

    def map_maker(self, config, size: tuple[int, int], fps) -> MapMaker:
        return SegmentMaps(config, size, fps)

    def dataset_record(self, config, classes, poses) -> dict:
        from v2vcli.data.prepare import located

        return {"num_classes": len(classes), "classes": classes,
                "segmentation": {"backend": config.segment_backend, "model": located(config.segment_model),
                                 "weights": located(config.segment_weights), "threshold": config.segment_threshold}}

    def video_maps(self, video, info, model, config) -> VideoMaps:
        from v2vcli.io.video import VideoReader

        settings = segmentation_settings(config, model)
        return VideoMaps(segmented(VideoReader(video, info=info), info.fps, settings, model), settings)


def segmentation_settings(config, model):
    """The SegmentConfig for --from segment: the options given (a GenerateConfig's segment_*), the rest
    from the model's record of how its labels were made, else the defaults. BadInput for an unknown
    backend name."""
    from v2vcli.preprocess.segment import DEFAULT_BACKEND, SegmentConfig, backend_name

    recorded = model.config.data.segmentation or {}
    backend = backend_name(config.segment_backend or recorded.get("backend") or DEFAULT_BACKEND)
    # The recorded model and weights belong to the recorded backend only.
    same = recorded if recorded.get("backend") == backend else {}
    threshold = config.segment_threshold
    if threshold is None:
        threshold = same.get("threshold", SegmentConfig.threshold)
    return SegmentConfig(backend=backend, model=config.segment_model or same.get("model"),
                         weights=config.segment_weights or same.get("weights"), threshold=threshold,
                         smooth=config.segment_smooth, device=config.device)


def segmented(frames: Iterable[np.ndarray], fps: Fraction, settings, model) -> Iterator[np.ndarray]:
    """Class-id maps of `frames` by the segmentation `settings` (a SegmentConfig), at the model's size."""
    from v2vcli.preprocess.segment import make_backend, segment_frames

    with make_backend(settings) as backend:
        classes = model.config.data.num_classes
        if classes is not None and len(backend.classes) != classes:
            raise BadInput(f"the {settings.backend} backend labels {len(backend.classes)} classes, the model "
                           f"takes {classes}: pass the --backend and --segment-model its dataset was made with")
        for labels in segment_frames(frames, backend, fps=float(fps), smooth=settings.smooth):
            yield model.fit(labels)
