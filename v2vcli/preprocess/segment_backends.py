"""Segmentation backends: mediapipe's pose landmarker masks (offline default) and selfie segmenter,
transformers SegFormer/Mask2Former, detectron2, in a registry built from the classes themselves.

A backend is a SegmentBackend subclass that declares its `name` (and any older `aliases`); defining the
class registers it, as PySceneDetect's VideoStream backends are. Each imports its library when it is
built, so listing or importing the registry costs nothing and a missing optional library is one
MissingBackend line naming how to install it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from v2vcli.errors import BadInput, MissingBackend, MissingModel, first_line
from v2vcli.preprocess.labels import UNLABELED, SegmentClass, class_table
from v2vcli.preprocess.native_logs import native_logs_silenced
from v2vcli.preprocess.timestamps import StrictMilliseconds

DETECTRON2_INSTALL = "pip install 'git+https://github.com/facebookresearch/detectron2.git'"
SEGMENT_BACKENDS: dict[str, type[SegmentBackend]] = {}
# Older names that keep working -> the name they stand for (outputs record that one).
SEGMENT_ALIASES: dict[str, str] = {}


class SegmentBackend:
    """A segmentation model used on the frames of one video, in order.

    `scores(frame, timestamp_ms)` takes RGB uint8 (H, W, 3) and returns float32 (H, W, C) evidence per
    pixel that can be averaged over time: C class probabilities, or C = 1 (the foreground probability)
    for a two-class backend. `labels(scores)` turns it into a uint8 (H, W) map of `classes` ids.
    Use as a context manager, or call `close()`.

    A subclass sets `name` (registering it), `summary` (one phrase for help texts), `aliases` (older
    names), and `person` when its labels are person (1) vs background (0), i.e. foreground masks.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    person: ClassVar[bool] = False
    classes: list[SegmentClass]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            SEGMENT_BACKENDS[cls.name] = cls
            SEGMENT_ALIASES.update(dict.fromkeys(cls.aliases, cls.name))

    def scores(self, frame: np.ndarray, timestamp_ms: int) -> np.ndarray:
        raise NotImplementedError

    def labels(self, scores: np.ndarray) -> np.ndarray:
        return np.argmax(scores, axis=2).astype(np.uint8)

    def close(self) -> None:
        pass

    def __enter__(self) -> SegmentBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PersonBackend(SegmentBackend):
    """Person vs background from a person probability (scores C = 1): person where it exceeds `threshold`."""

    classes = [SegmentClass(0, "background", (0, 0, 0)), SegmentClass(1, "person", (220, 20, 60))]
    person = True

    def __init__(self, threshold: float):
        if not 0.0 < threshold < 1.0:
            raise BadInput(f"threshold must be between 0 and 1, not {threshold}")
        self.threshold = threshold

    def labels(self, scores: np.ndarray) -> np.ndarray:
        if scores.shape[2] == 1:
            return (scores[..., 0] > self.threshold).astype(np.uint8)
        return super().labels(scores)


class PoseMaskBackend(PersonBackend):
    """The person masks of mediapipe's PoseLandmarker (weights/pose_landmarker_full.task), the model
    `v2v pose` uses: every person it finds (up to MAX_PEOPLE) is `person`. Made for whole bodies at any
    distance from the camera; a face filling the frame may go unfound (the selfie backend is for that)."""

    name = "pose"
    summary = "person masks of the pose landmarker: whole bodies at any distance"
    MAX_PEOPLE = 4

    def __init__(self, model: Path | str | None = None, threshold: float = 0.5, **_):
        super().__init__(threshold)
        from v2vcli.preprocess.mediapipe_pose import POSE_MODEL_FILE, MediapipePose
        from v2vcli.preprocess.pose_backend import PoseConfig
        from v2vcli.weights import find_weight_file

        path = find_weight_file(POSE_MODEL_FILE, model, option="--model")
        # No One Euro smoothing: it moves keypoints only, and the masks come from mediapipe's own tracking.
        config = PoseConfig(backend=MediapipePose.name, model=path, num_poses=self.MAX_PEOPLE, smooth=False,
                            segmentation_masks=True)
        # The frame rate only sets timestamps, and scores() passes its own.
        self._estimator = MediapipePose(30, config).__enter__()

    def scores(self, frame: np.ndarray, timestamp_ms: int) -> np.ndarray:
        found = self._estimator(frame, timestamp_ms)
        if found is None or found.segmentation is None:
            return np.zeros((*frame.shape[:2], 1), np.float32)
        return found.segmentation[..., None]

    def close(self) -> None:
        if getattr(self, "_estimator", None) is not None:
            self._estimator.close()
            self._estimator = None


class SelfieBackend(PersonBackend):
    """mediapipe Tasks ImageSegmenter in VIDEO mode. With the selfie model (one output, made for a face
    near the camera): person vs background, person where its probability exceeds `threshold`; a
    multi-class model (several outputs, e.g. selfie_multiclass) gives one class per output."""

    name = "selfie"
    summary = "a face close to the camera"
    aliases = ("mediapipe",)
    MODEL_FILE = "selfie_segmentation.tflite"

    def __init__(self, model: Path | str | None = None, threshold: float = 0.5, **_):
        super().__init__(threshold)
        from v2vcli.weights import find_weight_file

        path = find_weight_file(self.MODEL_FILE, model, option="--model")
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.ImageSegmenterOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            output_confidence_masks=True,
            output_category_mask=False,
        )
        try:
            with native_logs_silenced():
                self._segmenter = vision.ImageSegmenter.create_from_options(options)
        except (RuntimeError, ValueError) as error:
            raise MissingModel(f"{path}: not a segmentation model mediapipe can load ({first_line(error)})") from None
        self._mp = mp
        self._first = True
        self._clock = StrictMilliseconds()
        names = list(self._segmenter.labels or [])
        if len(names) > 1:
            self.classes = class_table(dict(enumerate(names)))

    def scores(self, frame: np.ndarray, timestamp_ms: int) -> np.ndarray:
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        timestamp = self._clock(timestamp_ms)
        if self._first:  # the first inference logs a warning from C++
            self._first = False
            with native_logs_silenced():
                masks = self._segmenter.segment_for_video(image, timestamp).confidence_masks
        else:
            masks = self._segmenter.segment_for_video(image, timestamp).confidence_masks
        height, width = frame.shape[:2]
        # numpy_view() points into mediapipe's buffer, reused by the next call: copy it out.
        return np.stack([mask.numpy_view().reshape(height, width) for mask in masks], axis=2).astype(np.float32)

    def close(self) -> None:
        if getattr(self, "_segmenter", None) is not None:
            with native_logs_silenced():
                self._segmenter.close()
            self._segmenter = None


class Detectron2Backend(SegmentBackend):
    """A detectron2 semantic or panoptic predictor from a config file (--model) and weights (--weights,
    or the config's MODEL.WEIGHTS). Panoptic ids: thing classes first, then stuff classes."""

    name = "detectron2"
    summary = "a detectron2 config and weights"

    def __init__(self, model: Path | str | None = None, weights: Path | str | None = None, device: str = "auto",
                 **_):
        try:
            from detectron2.config import get_cfg
            from detectron2.data import MetadataCatalog
            from detectron2.engine import DefaultPredictor
        except ImportError:
            raise MissingBackend(f"the detectron2 backend needs detectron2, which is built from source: "
                                 f"{DETECTRON2_INSTALL}") from None
        if model is None or not Path(model).is_file():
            raise MissingModel(f"{model}: detectron2 config file not found (pass --model CONFIG.yaml)")
        config = get_cfg()
        try:
            config.merge_from_file(str(model))
        except Exception as error:  # yacs raises KeyError/AssertionError/YAMLError alike
            raise BadInput(f"{model}: not a detectron2 config ({first_line(error)})") from None
        if weights is not None:
            if not Path(weights).is_file():
                raise MissingModel(f"{weights}: detectron2 weights file not found")
            config.MODEL.WEIGHTS = str(weights)
        from v2vcli.devices import resolve_device

        config.MODEL.DEVICE = str(resolve_device(device))
        self._bgr_input = config.INPUT.FORMAT == "BGR"
        self._predictor = DefaultPredictor(config)
        metadata = MetadataCatalog.get(config.DATASETS.TEST[0]) if config.DATASETS.TEST else None
        things = list(getattr(metadata, "thing_classes", []) or [])
        stuff = list(getattr(metadata, "stuff_classes", []) or [])
        self._panoptic = config.MODEL.META_ARCHITECTURE == "PanopticFPN"
        self._things = len(things)
        names = things + stuff if self._panoptic else stuff or things
        self.classes = class_table(dict(enumerate(names)))

    def scores(self, frame: np.ndarray, timestamp_ms: int) -> np.ndarray:
        outputs = self._predictor(np.ascontiguousarray(frame[..., ::-1] if self._bgr_input else frame))
        if not self._panoptic and "sem_seg" in outputs:
            return outputs["sem_seg"].softmax(dim=0).permute(1, 2, 0).float().cpu().numpy()
        segments, info = outputs["panoptic_seg"]
        segments = segments.cpu().numpy()
        labels = np.full(segments.shape, UNLABELED, np.uint8)
        for segment in info:
            offset = 0 if segment["isthing"] else self._things
            labels[segments == segment["id"]] = segment["category_id"] + offset
        # One-hot scores, so that temporal smoothing votes between classes.
        return (labels[..., None] == np.arange(len(self.classes), dtype=np.uint8)).astype(np.float32)

    def labels(self, scores: np.ndarray) -> np.ndarray:
        labels = super().labels(scores)
        labels[scores.max(axis=2) <= 0] = UNLABELED
        return labels
