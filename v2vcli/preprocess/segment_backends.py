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
# The segformer backend's model when none is named: street scenes in Cityscapes' 19 classes. NVIDIA's
# SegFormer weights are for non-commercial use only (research or evaluation): see docs/segment.md.
CITYSCAPES_MODEL = "nvidia/segformer-b0-finetuned-cityscapes-1024-1024"
# Seconds to wait for the model hub to accept a connection before calling it unreachable.
HUB_TIMEOUT = 3.0
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


def hub_cache_dir() -> Path:
    """Where model hub downloads go: v2v's own cache, not the user's global Hugging Face cache."""
    from v2vcli.weights import cache_dir

    return cache_dir() / "hub"


def hub_unreachable() -> str | None:
    """Why the model hub cannot be reached now, in a few words; None when it accepts a connection within
    HUB_TIMEOUT seconds, or when a proxy stands between (the download itself then tells).

    huggingface_hub retries an unreachable hub for about 25 s per file, several files in a row: this
    probe lets a machine without a route fail in seconds instead.
    """
    import socket
    import threading
    import urllib.request
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    endpoint = urlsplit(constants.ENDPOINT)
    host = endpoint.hostname or ""
    if endpoint.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return None
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    failures: list[OSError] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=HUB_TIMEOUT).close()
        except OSError as error:
            failures.append(error)

    # A thread, because name resolution ignores socket timeouts.
    probe = threading.Thread(target=connect, daemon=True)
    probe.start()
    probe.join(HUB_TIMEOUT + 1.0)
    if probe.is_alive():
        return f"{host} did not answer within {HUB_TIMEOUT:g} s"
    return f"{host}: {failures[0].strerror or first_line(failures[0])}" if failures else None


class TransformersBackend(SegmentBackend):
    """A transformers semantic (SegFormer, ...) or universal (Mask2Former, ...) segmentation model, from
    a local folder (save_pretrained layout) or a model hub id; classes from the model's id2label.

    Without a model: CITYSCAPES_MODEL (street scenes, Cityscapes' 19 classes and colours), from a folder of
    that name in the weights folders, else v2v's hub cache (`hub_cache_dir()`), else downloaded there once.
    A hub id is read from that cache without touching the network; it is downloaded only when missing,
    and an unreachable hub is one MissingModel line saying how to fetch the files elsewhere.
    """

    name = "segformer"
    summary = "street scenes, Cityscapes' 19 classes, or any transformers SegFormer/Mask2Former model"

    def __init__(self, model: Path | str | None = None, device: str = "auto", **_):
        try:
            import transformers
        except ImportError:
            raise MissingBackend("the segformer backend needs transformers: pip install 'v2v[segformer]'") from None
        source, hub_id = _model_source(model)
        model = model or source
        # Decided before torch loads, so that a machine without a route to the hub fails in about a second.
        download = hub_id is not None and not _in_hub_cache(hub_id)
        if download:
            _require_hub(hub_id)
        import torch

        from v2vcli.devices import resolve_device

        self._torch = torch
        self.device = resolve_device(device)
        # No torchvision warnings or weight-loading progress bars on the user's terminal.
        verbosity, bars = transformers.logging.get_verbosity(), transformers.logging.is_progress_bar_enabled()
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        try:
            try:  # a folder or a hub id downloaded before: no network
                processor, model_object = _load_pretrained(transformers, source, local_only=not download)
            except OSError:
                if download or hub_id is None:
                    raise
                _require_hub(hub_id)  # a download cut short: complete it
                processor, model_object = _load_pretrained(transformers, source, local_only=False)
            self._model = model_object.to(self.device).eval()
        except (OSError, ValueError, KeyError) as error:
            message = f"{model}: cannot load a transformers segmentation model ({first_line(error)})"
            raise MissingModel(message) from None
        finally:
            transformers.logging.set_verbosity(verbosity)
            if bars:
                transformers.logging.enable_progress_bar()
        self._size = processor.size if getattr(processor, "do_resize", True) else None
        rescale = getattr(processor, "rescale_factor", 1 / 255) if getattr(processor, "do_rescale", True) else 1.0
        mean = np.asarray(getattr(processor, "image_mean", None) or (0.0, 0.0, 0.0), np.float32)
        std = np.asarray(getattr(processor, "image_std", None) or (1.0, 1.0, 1.0), np.float32)
        if not getattr(processor, "do_normalize", True):
            mean, std = np.zeros(3, np.float32), np.ones(3, np.float32)
        # pixel -> (pixel * rescale - mean) / std, folded into one multiply-add
        self._scale = torch.tensor(rescale / std, device=self.device).view(1, 3, 1, 1)
        self._shift = torch.tensor(-mean / std, device=self.device).view(1, 3, 1, 1)
        try:
            self.classes = class_table(self._model.config.id2label)
        except ValueError as error:
            raise BadInput(f"{model}: {error}") from None

    def _input_size(self, height: int, width: int) -> tuple[int, int]:
        size = self._size
        if not size:
            return height, width
        if size.get("height") and size.get("width"):
            return int(size["height"]), int(size["width"])
        shortest, longest = size.get("shortest_edge"), size.get("longest_edge")
        scale = shortest / min(height, width) if shortest else 1.0
        if longest and max(height, width) * scale > longest:
            scale = longest / max(height, width)
        # Multiples of 32 suit every backbone stride and Mask2Former's padding.
        return max(32, round(height * scale / 32) * 32), max(32, round(width * scale / 32) * 32)

    def scores(self, frame: np.ndarray, timestamp_ms: int) -> np.ndarray:
        import cv2

        torch = self._torch
        height, width = frame.shape[:2]
        input_height, input_width = self._input_size(height, width)
        resized = frame if (input_height, input_width) == (height, width) else cv2.resize(
            frame, (input_width, input_height), interpolation=cv2.INTER_LINEAR)
        if not resized.flags.writeable:  # torch.from_numpy warns on read-only memory
            resized = resized.copy()
        pixels = torch.from_numpy(np.ascontiguousarray(resized)).to(self.device).permute(2, 0, 1)[None].float()
        pixels = pixels * self._scale + self._shift
        with torch.inference_mode():
            outputs = self._model(pixel_values=pixels)
            if getattr(outputs, "logits", None) is not None:
                logits = torch.nn.functional.interpolate(outputs.logits.float(), (height, width), mode="bilinear",
                                                         align_corners=False)
                probabilities = logits.softmax(dim=1)[0]
            else:  # mask classification: per-class score = sum over queries of P(class) * mask
                classes = outputs.class_queries_logits.float().softmax(dim=-1)[0, :, :-1]  # drop "no object"
                masks = torch.nn.functional.interpolate(outputs.masks_queries_logits.float(), (height, width),
                                                        mode="bilinear", align_corners=False)[0].sigmoid()
                probabilities = torch.einsum("qc,qhw->chw", classes, masks)
            return probabilities.permute(1, 2, 0).contiguous().cpu().numpy()


def _model_source(model: Path | str | None) -> tuple[str, str | None]:
    """(what from_pretrained loads, the hub id when it is one) for the segformer backend's --model.

    No model: a CITYSCAPES_MODEL folder in the weights folders (`hf download ... --local-dir` put there),
    else that hub id. A path that does not exist is a MissingModel error rather than a hub lookup.
    """
    from v2vcli.weights import weight_dirs

    if model is None:
        folder_name = CITYSCAPES_MODEL.rsplit("/", 1)[-1]
        for folder in weight_dirs():
            if (folder / folder_name / "config.json").is_file():
                return str(folder / folder_name), None
        return CITYSCAPES_MODEL, CITYSCAPES_MODEL
    local = Path(model).expanduser()
    if local.exists():
        return str(local), None
    if str(model).startswith((".", "/", "~")) or str(model).count("/") > 1:
        raise MissingModel(f"{model}: model folder not found")
    return str(model), str(model)


def _in_hub_cache(hub_id: str) -> bool:
    """Whether v2v's hub cache holds a download of `hub_id` (its config.json), checked without the network."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(hub_id, "config.json", cache_dir=hub_cache_dir()), str)


def _require_hub(hub_id: str) -> None:
    """MissingModel, saying how to get the files elsewhere, when `hub_id` must be downloaded and cannot be."""
    if reason := hub_unreachable():
        folder = hub_id.rsplit("/", 1)[-1]
        raise MissingModel(f"{hub_id}: not in v2v's model cache and the model hub cannot be reached ({reason}); "
                           f"where a network exists, run `hf download {hub_id} --local-dir {folder}` and pass "
                           f"--model PATH (that folder)")


def _load_pretrained(transformers, source: str, local_only: bool) -> tuple:
    """(image processor, segmentation model) from a folder or hub id; hub files live in `hub_cache_dir()`."""
    options = {"local_files_only": local_only, "cache_dir": str(hub_cache_dir())}
    processor = transformers.AutoImageProcessor.from_pretrained(source, **options)
    try:
        model = transformers.AutoModelForSemanticSegmentation.from_pretrained(source, **options)
    except ValueError:  # not a per-pixel classifier: a mask-classification model (Mask2Former, ...)
        model = transformers.AutoModelForUniversalSegmentation.from_pretrained(source, **options)
    return processor, model


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
