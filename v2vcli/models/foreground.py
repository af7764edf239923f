"""The foreground of a frame, read off its condition map: where the generator's foreground head paints.

vid2vid separates a foreground (people, cars), hallucinated afresh in every frame, from a background
that the flow path carries from frame to frame. The foreground must be known at generation time, when
there is no real frame to segment, so it comes from the condition map itself:

- pose: the rendered skeleton (any pixel that is not black), widened by `fg_dilation` of the frame
  height so that it covers the body around the bones, with a soft edge;
- segment: the one-hot channels of the classes in `fg_classes`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from v2vcli.config import ModelConfig

# A rendering pixel counts as skeleton above this level (condition maps are in [-1, 1], black is -1):
# about 12 of 255, above the ringing an area resize leaves around a line.
SKELETON_LEVEL = -1 + 2 * 12 / 255


def foreground_mask(labels: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """labels (B, C, H, W) of one frame (C = config.label_channels) -> (B, 1, H, W) in [0, 1]."""
    if config.fg_classes:
        return labels[:, list(config.fg_classes)].sum(dim=1, keepdim=True).clamp(0, 1)
    skeleton = (labels[:, :3].amax(dim=1, keepdim=True) > SKELETON_LEVEL).to(labels.dtype)
    radius = max(1, round(config.fg_dilation * labels.shape[-2]))
    widened = F.max_pool2d(skeleton, 2 * radius + 1, stride=1, padding=radius)
    soft = max(1, radius // 2)
    return F.avg_pool2d(widened, 2 * soft + 1, stride=1, padding=soft, count_include_pad=False)
