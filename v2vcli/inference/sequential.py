"""Frame-by-frame generation: each output frame comes from the condition window and the model's own
previous outputs (flow-warped), exactly as the generator was trained. Memory holds only the window."""

from __future__ import annotations

from collections import deque
from contextlib import nullcontext

import numpy as np
import torch

from v2vcli.config import Config
from v2vcli.devices import autocast_dtype


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [-1, 1] -> (H, W, 3) uint8."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


class SequentialGenerator:
    """`tensor(labels)` with one condition map (C, H, W) at a time returns the generated frame.

    On CUDA it runs under autocast (bfloat16 where the GPU supports it, else float16) in channels_last.
    """

    def __init__(self, generator: torch.nn.Module, config: Config, device: torch.device, amp: bool = True):
        self.generator = generator.to(device).eval()
        self.device = device
        self.history = config.model.n_previous
        self.labels: deque = deque(maxlen=max(self.history, 1))
        self.images: deque = deque(maxlen=max(self.history, 1))
        self.memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        if device.type == "cuda":
            self.generator = self.generator.to(memory_format=self.memory_format)
        dtype = autocast_dtype(device, amp)
        self.autocast = nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)

    @torch.inference_mode()
    def tensor(self, labels: torch.Tensor) -> torch.Tensor:
        """One generated frame as a (3, H, W) tensor in [-1, 1] on the device."""
        current = labels.to(self.device, non_blocking=True)[None].contiguous(memory_format=self.memory_format)
        previous_labels = torch.stack(tuple(self.labels), dim=1) if self.labels and self.history else None
        previous_images = torch.stack(tuple(self.images), dim=1) if self.images and self.history else None
        with self.autocast:
            image = self.generator(current[:, None], previous_labels, previous_images)["image"][:, 0]
        if self.history:
            self.labels.append(current)
            self.images.append(image)
        return image[0]
