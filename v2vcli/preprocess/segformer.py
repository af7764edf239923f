"""The segformer segmentation backend: transformers SegFormer/Mask2Former models from a folder or the model
hub, by default a Cityscapes SegFormer for street scenes, with hub downloads kept in v2v's own cache and an
unreachable hub reported in seconds, not after minutes of retries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput, MissingBackend, MissingModel, first_line
from v2vcli.preprocess.labels import class_table
from v2vcli.preprocess.segment_backends import SegmentBackend

# The segformer backend's model when none is named: street scenes in Cityscapes' 19 classes. NVIDIA's
# SegFormer weights are for non-commercial use only (research or evaluation): see docs/segment.md.
CITYSCAPES_MODEL = "nvidia/segformer-b0-finetuned-cityscapes-1024-1024"
# Seconds to wait for the model hub to accept a connection before calling it unreachable.
HUB_TIMEOUT = 3.0


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
