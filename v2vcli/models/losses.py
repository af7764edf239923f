"""Loss functions of vid2vid (paper sec. 3.2-3.3). Pure functions of tensors; the trainer weighs them.

Shapes: images (N, 3, H, W) in [-1, 1]; flows (N, 2, H, W) in pixels; masks and confidences
(N, 1, H, W) in [0, 1]. Discriminator outputs are lists (one per scale) of per-layer feature lists,
the last item of each being the patch prediction.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vcli.models.vgg import LAYER_WEIGHTS, VGG19Features
from v2vcli.models.warp import resample

GAN_MODES = ("lsgan", "hinge")


def gan_loss(outputs: list[list[torch.Tensor]], real: bool, mode: str = "lsgan",
             for_discriminator: bool = True) -> torch.Tensor:
    """Adversarial loss summed over discriminator scales (as pix2pixHD and vid2vid sum them).

    lsgan: (D - 1)^2 for real targets, D^2 for fake ones (the generator uses the real target).
    hinge: relu(1 - D) / relu(1 + D) for the discriminator, -D for the generator.
    """
    if mode not in GAN_MODES:
        raise ValueError(f"unknown GAN loss {mode!r}; choose one of {', '.join(GAN_MODES)}")
    total = 0.0
    for features in outputs:
        prediction = features[-1].float()
        if mode == "lsgan":
            total = total + F.mse_loss(prediction, torch.full_like(prediction, 1.0 if real else 0.0))
        elif for_discriminator:
            total = total + F.relu(1 - prediction if real else 1 + prediction).mean()
        else:
            total = total - prediction.mean()
    return total


def feature_matching(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between the discriminator's intermediate features on generated and real inputs (pix2pixHD).

    Over the F intermediate layers of each scale (the prediction excluded) with weight 4 / F, and over
    scales with weight 1 / (scales), as pix2pixHD weighs them: the sum's size does not depend on depth.
    """
    total = 0.0
    for fake_features, real_features in zip(fake, real, strict=True):
        weight = 4.0 / (len(fake_features) - 1) / len(fake)
        for fake_map, real_map in zip(fake_features[:-1], real_features[:-1], strict=True):
            total = total + weight * F.l1_loss(fake_map.float(), real_map.detach().float())
    return total


class PerceptualLoss(nn.Module):
    """Weighted L1 between VGG19 features (relu1_1 .. relu5_1) of generated and real images."""

    def __init__(self, vgg: VGG19Features):
        super().__init__()
        self.vgg = vgg

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        fake_features = self.vgg(fake)
        with torch.no_grad():
            real_features = self.vgg(real)
        return sum(weight * F.l1_loss(a.float(), b.float())
                   for weight, a, b in zip(LAYER_WEIGHTS, fake_features, real_features, strict=True))


def flow_loss(predicted: torch.Tensor, target: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """L1 to the ground-truth flow where it is trusted (confidence 1), in pixels."""
    return ((predicted.float() - target.float()).abs() * confidence).mean()


def warp_loss(previous_real: torch.Tensor, predicted_flow: torch.Tensor, real: torch.Tensor,
              confidence: torch.Tensor) -> torch.Tensor:
    """L1 between the real previous frame warped by the predicted flow and the real current frame."""
    warped = resample(previous_real.float(), predicted_flow.float())
    return ((warped - real.float()).abs() * confidence).mean()


def mask_loss(mask: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """Push the occlusion mask towards 1 (copy the warped previous frame) where the ground-truth flow is
    trusted and towards 0 (hallucinate) where it is not: L1 between the mask and the confidence."""
    return (mask.float() - confidence.float()).abs().mean()


def output_warp_loss(current: torch.Tensor, previous: torch.Tensor, flow: torch.Tensor,
                     confidence: torch.Tensor) -> torch.Tensor:
    """L1 between generated frames and the generated frames before them warped by the ground-truth flow,
    where that flow is trusted: the output should move as the real video moves. The warped previous
    frames are a fixed target (no gradient), so the loss shapes the current frames only."""
    target = resample(previous.detach().float(), flow.float())
    return ((current.float() - target).abs() * confidence).mean()
