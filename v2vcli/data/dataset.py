"""Training clips from a dataset folder: temporal windows, paired augmentation, ground-truth flow.

v2v dataset layout (written by `v2v prepare`, read by `v2v train`; version 1):

    DATASET/dataset.json
        {"version": 1,
         "condition": "pose" | "segment",
         "num_classes": int,      # label channels: segment -> number of classes (one-hot); pose -> 3 (RGB)
         "size": [W, H],          # every image below is W x H
         "fps": float,
         "sequences": [{"name": str, "frames": int}, ...],
         "pose_stats": {...}}     # optional, for dance normalization
    DATASET/<seq>/frames/000000.png          RGB frames
    DATASET/<seq>/labels/000000.png          segment: uint8 class ids (single channel); pose: RGB rendering
    DATASET/<seq>/masks/000000.png           optional: uint8 0/255 foreground (not read by training: the
                                             generator reads the foreground off the condition maps)
    DATASET/<seq>/flow_backward/000000.png   optional: the flow from frame i+1 to frame i, pixels, x then y
                                             (v2vcli.flow convention; the field `v2v flow --backward`
                                             computes), so frame i warped by it gives frame i+1; N-1 files.
                                             16-bit PNG (2H, W), steps of 1/32 px (v2vcli.flow.storage
                                             write_compact_flow); datasets made before hold float16
                                             (H, W, 2) .npy files instead, read as they are. Without
                                             them the flow is computed (DIS) at load time.

NVIDIA vid2vid's layout (train_A/<seq>/ condition maps, train_B/<seq>/ frames, optional train_inst/<seq>/
instance maps, turned into an edge channel) is read as it is; see v2vcli/data/layout.py.

A sample (one clip of T frames, same random crop/scale/flip for every frame and modality) is a dict:
    images (T, 3, H, W) float in [-1, 1]
    labels (T, C, H, W): one-hot {0, 1} for segment, RGB in [-1, 1] for pose (+ instance edges {0, 1})
    flows  (T, 2, H, W) pixels: flows[t] warps frame t-1 onto frame t; flows[0] is zero

Every image is brought to the training size the way generation brings a condition map to the model's
size: `cv2.resize` of the (cropped) frame, INTER_AREA for images and renderings, INTER_NEAREST for class
ids. Without augmentation the crop is the whole frame, so a training map is the very map generation
feeds the model; an augmented crop is a whole-pixel box with the frame's aspect ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

from v2vcli.conditions import condition_named
from v2vcli.config import DataConfig
from v2vcli.data.conditions import encode_conditions
from v2vcli.data.layout import DatasetInfo, SequenceFiles, fitted_size
from v2vcli.errors import BadInput
from v2vcli.flow.compute import make_estimator, to_gray
from v2vcli.flow.storage import read_flow
from v2vcli.io.frames import fit_to_size, read_image


def make_flow_estimator(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(first, second) RGB uint8 -> float32 (H, W, 2) with first[p] ~ second[p + flow(p)]."""
    estimator = make_estimator(method)
    return lambda first, second: estimator(to_gray(first), to_gray(second))


def choose_size(info: DatasetInfo, config: DataConfig, multiple: int) -> tuple[int, int]:
    """Training (W, H): config.size if given (must be a multiple of `multiple`), else the dataset's size
    scaled to fit config.max_side and rounded down to the multiple."""
    if config.size:
        width, height = config.size
        if width % multiple or height % multiple:
            raise BadInput(f"--size {width}x{height}: width and height must be multiples of {multiple} for this model")
        return width, height
    return fitted_size(info.size, config.max_side, multiple)


class ClipDataset(torch.utils.data.Dataset):
    """Item i is a deterministic function of (seed, i): the sample that global sample number i gets.

    `frames_at(i)` gives the clip length for sample i (the progressive schedule). Because nothing
    depends on what was drawn before, a resumed or sharded run sees exactly the samples it would
    have seen in one uninterrupted process.
    """

    def __init__(self, info: DatasetInfo, config: DataConfig, size: tuple[int, int], seed: int,
                 frames_at: Callable[[int], int]):
        self.info = info
        self.config = config
        self.size = size
        self.seed = seed
        self.frames_at = frames_at
        self.flip = config.flip if config.flip is not None else condition_named(info.condition).flippable
        self.longest = max(len(sequence) for sequence in info.sequences)
        self._estimator = None

    def __len__(self) -> int:
        return 2**62

    def window_length(self, index: int) -> int:
        return min(self.frames_at(index), self.longest)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        length = self.window_length(index)
        candidates = [sequence for sequence in self.info.sequences if len(sequence) >= length]
        weights = np.array([len(sequence) - length + 1 for sequence in candidates], dtype=np.float64)
        sequence = candidates[rng.choice(len(candidates), p=weights / weights.sum())]
        start = int(rng.integers(0, len(sequence) - length + 1))
        return self.load(sequence, start, length, rng)

    def load(self, sequence: SequenceFiles, start: int, length: int,
             rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        """Frames start .. start+length-1 of `sequence`; random crop/flip when rng is given."""
        crop, flip = self.augmentation(rng)
        indices = range(start, start + length)
        frames = [self.prepare(self.read(sequence.frames[i]), crop, flip, cv2.INTER_AREA) for i in indices]
        sample = {"images": torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1}
        sample["labels"] = self.labels(sequence, start, length, crop, flip)
        sample["flows"] = self.flows(sequence, start, length, frames, crop, flip)
        return sample

    def augmentation(self, rng: np.random.Generator | None) -> tuple[tuple[int, int, int, int], bool]:
        """A crop box (x, y, w, h) in whole source pixels and a flip flag: the whole frame without `rng`
        (what generation sees), else a box up to `scale_jitter` smaller, anywhere in the frame."""
        source_w, source_h = self.info.size
        if rng is None:
            return (0, 0, source_w, source_h), False
        shrink = 1 - rng.uniform(0, self.config.scale_jitter)
        width, height = max(1, round(source_w * shrink)), max(1, round(source_h * shrink))
        x = int(rng.integers(0, source_w - width + 1))
        y = int(rng.integers(0, source_h - height + 1))
        return (x, y, width, height), bool(self.flip and rng.random() < 0.5)

    def read(self, path, channels: int = 3) -> np.ndarray:
        image = read_image(path)
        if image.shape[:2] != (self.info.size[1], self.info.size[0]):
            raise BadInput(f"{path}: is {image.shape[1]}x{image.shape[0]}, the dataset is "
                           f"{self.info.size[0]}x{self.info.size[1]}")
        if channels == 1 and image.ndim == 3:
            image = image[..., 0]
        if channels == 3 and image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        return image

    def prepare(self, image: np.ndarray, crop, flip: bool, interpolation: int) -> np.ndarray:
        """Crop box -> training size with the resize generation uses (`fit_to_size`), then flip."""
        x, y, width, height = crop
        out = fit_to_size(image[y:y + height, x:x + width], self.size, interpolation)
        return np.ascontiguousarray(out[:, ::-1]) if flip else out

    def labels(self, sequence: SequenceFiles, start: int, length: int, crop, flip: bool) -> torch.Tensor:
        indices = range(start, start + length)
        condition = condition_named(self.info.condition)
        interpolation = cv2.INTER_NEAREST if condition.class_ids else cv2.INTER_AREA
        maps = np.stack([self.prepare(self.read(sequence.labels[i], condition.stored_channels), crop, flip,
                                      interpolation) for i in indices])
        if condition.class_ids and maps.max() >= self.info.num_classes:
            raise BadInput(f"{sequence.labels[start]}..: class id {maps.max()} >= num_classes "
                           f"{self.info.num_classes}; pass --num-classes")
        tensor = encode_conditions(maps, self.info.condition, self.info.num_classes)
        if self.info.has_instances:
            edges = [instance_edges(self.prepare(self.read(sequence.instances[i], 1), crop, flip, cv2.INTER_NEAREST))
                     for i in indices]
            tensor = torch.cat((tensor, torch.from_numpy(np.stack(edges)).unsqueeze(1)), dim=1)
        return tensor

    def flows(self, sequence: SequenceFiles, start: int, length: int, frames: list[np.ndarray], crop,
              flip: bool) -> torch.Tensor:
        target_w, target_h = self.size
        out = np.zeros((length, target_h, target_w, 2), dtype=np.float32)
        for offset in range(1, length):
            if sequence.flows:
                # flow_backward[i] is frame i+1 -> frame i: what warps frame t-1 onto frame t = start + offset
                field = read_flow(sequence.flows[start + offset - 1]).astype(np.float32)
                width, height = crop[2:]
                scale = np.float32([target_w / width, target_h / height])
                flow = self.prepare(field, crop, False, cv2.INTER_AREA) * scale
                if flip:
                    flow = flow[:, ::-1] * np.float32([-1, 1])
            else:
                if self._estimator is None:
                    self._estimator = make_flow_estimator(self.config.flow_method)
                flow = self._estimator(frames[offset], frames[offset - 1])
            out[offset] = flow
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def instance_edges(instances: np.ndarray) -> np.ndarray:
    """float32 (H, W) in {0, 1}: 1 on the boundary between two instance ids (pix2pixHD's edge map)."""
    edges = np.zeros(instances.shape, dtype=bool)
    horizontal = instances[:, 1:] != instances[:, :-1]
    vertical = instances[1:] != instances[:-1]
    edges[:, 1:] |= horizontal
    edges[:, :-1] |= horizontal
    edges[1:] |= vertical
    edges[:-1] |= vertical
    return edges.astype(np.float32)
