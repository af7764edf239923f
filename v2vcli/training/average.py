"""The generator's weights averaged over training (an exponential moving average): the weights users get.

GAN training leaves the generator's weights jittering from step to step around what it has learned; the
average of the recent steps draws steadier frames with less flicker (Karras et al., "Progressive Growing
of GANs", and imaginaire's model averaging). The decay is warmed up, min(decay, (1 + step) / (10 + step)),
so the first steps' random weights are forgotten quickly and a short run averages over its recent tenth
or so rather than over its untrained start.

The averaged generator is what checkpoints write to generator.safetensors and what generation loads; the
trained (live) weights go to training.safetensors, prefixed "generator.", for an exact resume.
"""

from __future__ import annotations

import copy

import torch

from v2vcli.training.distributed import unwrap

LIVE_PREFIX = "generator."


def average_decay(decay: float, step: int) -> float:
    """The decay applied at update number `step` (1 for the first): warmed up, capped at `decay`."""
    return min(decay, (1 + step) / (10 + step))


class WeightAverage:
    """A copy of `module` (unwrapped from DDP) whose floating-point weights follow its moving average."""

    def __init__(self, module: torch.nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(unwrap(module)).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: torch.nn.Module, step: int) -> None:
        """Move the average towards `module`'s current weights; `step` counts updates, 1 for the first."""
        weight = 1 - average_decay(self.decay, step)
        live = unwrap(module).state_dict()
        for name, average in self.module.state_dict().items():
            if average.dtype.is_floating_point:
                average.lerp_(live[name], weight)
            else:
                average.copy_(live[name])
