"""Frame-by-frame generation: each output frame comes from the condition window and the model's own
previous outputs (flow-warped), exactly as the generator was trained. Memory holds only the window.

The per-frame step has two shapes: a start frame (fewer than L generated frames before it, so no
history at all: see v2vcli.models.generator) and the steady step, whose inputs always have the same
shapes. Only the steady step is compiled (`compile`) and, on CUDA, replayed as a CUDA graph
(`cuda_graphs`: torch.compile's "reduce-overhead" mode, whose CUDA graph trees take care of the
graph's private memory), so a compiler or a graph never sees more than one shape.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from v2vcli.config import Config
from v2vcli.devices import autocast_dtype
from v2vcli.errors import BadInput


def to_uint8_device(images: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) float in [-1, 1] -> (..., H, W, 3) uint8 on the same device (a channels-last view)."""
    return images.float().clamp(-1, 1).add(1).mul(127.5).round().byte().movedim(-3, -1)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(..., 3, H, W) float in [-1, 1] -> (..., H, W, 3) uint8 on the host: (3, H, W) -> (H, W, 3),
    (T, 3, H, W) -> (T, H, W, 3)."""
    return to_uint8_device(images).cpu().numpy()


class SequentialGenerator:
    """`tensor(labels)` with one condition map (C, H, W) at a time returns the generated frame.

    On CUDA it runs under autocast (bfloat16 where the GPU supports it, else float16) in channels_last.
    `compile`: torch.compile the steady step (a one-off compilation of seconds to minutes, then faster
    frames). `cuda_graphs`: also replay it as a CUDA graph, which removes the per-kernel launch cost of
    the host; CUDA only (BadInput elsewhere).
    """

    def __init__(self, generator: torch.nn.Module, config: Config, device: torch.device, amp: bool = True,
                 compile: bool = False, cuda_graphs: bool = False):
        if cuda_graphs and device.type != "cuda":
            raise BadInput(f"--cuda-graphs needs a CUDA device, not {device}")
        self.generator = generator.to(device).eval()
        self.device = device
        self.history = config.model.n_previous
        self.memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        if device.type == "cuda":
            self.generator = self.generator.to(memory_format=self.memory_format)
        dtype = autocast_dtype(device, amp)
        self.autocast = nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)
        self.cuda_graphs = cuda_graphs
        self.compiled = compile or cuda_graphs
        self._steady = self._frame
        if self.compiled:
            mode = "reduce-overhead" if cuda_graphs else None
            self._steady = torch.compile(self._frame, mode=mode, dynamic=False)
        # The last L condition maps and generated frames, (1, P, C, H, W) and (1, P, 3, H, W), P <= L.
        self.labels: torch.Tensor | None = None
        self.images: torch.Tensor | None = None

    def _frame(self, current: torch.Tensor, labels: torch.Tensor | None, images: torch.Tensor | None) -> torch.Tensor:
        with self.autocast:
            return self.generator(current[:, None], labels, images)["image"][:, 0]

    @torch.inference_mode()
    def tensor(self, labels: torch.Tensor) -> torch.Tensor:
        """One generated frame as a (3, H, W) tensor in [-1, 1] on the device."""
        current = labels.to(self.device, non_blocking=True)[None].contiguous(memory_format=self.memory_format)
        steady = not self.history or (self.images is not None and self.images.shape[1] == self.history)
        if steady:
            if self.cuda_graphs:
                # Each call is a new step of the graph: its previous outputs may be overwritten, which is
                # why the frame is cloned below before it goes into the history.
                torch.compiler.cudagraph_mark_step_begin()
            image = self._steady(current, self.labels, self.images)
            if self.cuda_graphs:
                image = image.clone()
        else:  # a start frame ignores the history (the generator's first-frame rule): none is passed
            image = self._frame(current, None, None)
        if self.history:
            self.labels = self._remember(self.labels, current)
            self.images = self._remember(self.images, image)
        return image[0]

    def _remember(self, window: torch.Tensor | None, frame: torch.Tensor) -> torch.Tensor:
        """The window (1, P, C, H, W) with `frame` (1, C, H, W) appended, the oldest dropped beyond L."""
        frame = frame[:, None]
        if window is None:
            return frame
        return torch.cat((window[:, 1 - self.history:] if self.history > 1 else window[:, :0], frame), dim=1)
