"""The vid2vid discriminators (paper sec. 3.2): a conditional image discriminator and temporal ones.

Both are multi-scale PatchGANs: each scale sees the input average-pooled by 2 more than the last and
returns its intermediate features (for the feature-matching loss) and a patch prediction map.

- Image D judges single frames: input = condition map (C channels) + image (3 channels).
- Face D (pose models with the face refiner, models/face.py) judges the face box of single frames:
  input = the condition map's box (C channels) + the image's box (3 channels).
- Temporal D number k (k = 0 .. n_scales_temporal-1) judges K = n_frames_D frames taken every K^k
  frames (1, K, K^2 ... frames apart, so coarser temporal scales see longer motions), concatenated
  with the K-1 ground-truth flows between them, divided by FLOW_SCALE so that they span about the
  images' [-1, 1]: input = K*3 + (K-1)*2 channels. Real and generated sequences are both paired with
  the real video's flow, as in the paper.

Networks only: the trainer builds the inputs (see `image_input`/`temporal_input`) and the losses.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vcli.config import ModelConfig
from v2vcli.models.face import uses_face
from v2vcli.models.warp import compose_flow

Features = list[list[torch.Tensor]]
# Pixels of flow that make 1 in a temporal discriminator's input (vid2vid's scale): motions of a few to
# a few tens of pixels come in at the range of the image channels instead of dwarfing them.
FLOW_SCALE = 20.0


class PatchDiscriminator(nn.Module):
    """70x70-style PatchGAN with n_layers stride-2 convolutions; returns every layer's output."""

    def __init__(self, in_channels: int, ndf: int, n_layers: int):
        super().__init__()
        padding = 2
        layers = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, padding), nn.LeakyReLU(0.2, inplace=True))]
        channels = ndf
        for index in range(1, n_layers + 1):
            out = min(ndf * 2**index, 512)
            stride = 2 if index < n_layers else 1
            layers.append(nn.Sequential(
                nn.Conv2d(channels, out, 4, stride, padding), nn.InstanceNorm2d(out), nn.LeakyReLU(0.2, inplace=True)
            ))
            channels = out
        layers.append(nn.Sequential(nn.Conv2d(channels, 1, 4, 1, padding)))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class MultiScaleDiscriminator(nn.Module):
    """num_D PatchDiscriminators on the input at 1, 1/2, 1/4 ... of its size."""

    def __init__(self, in_channels: int, ndf: int, n_layers: int, num_D: int):
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(in_channels, ndf, n_layers) for _ in range(num_D))

    def forward(self, x: torch.Tensor) -> Features:
        outputs = []
        for index, scale in enumerate(self.scales):
            if index:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(scale(x))
        return outputs


class Discriminators(nn.Module):
    """The image, temporal and face discriminators, as one module (one DDP wrapper)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        image_in = config.label_channels + config.output_channels
        self.image = MultiScaleDiscriminator(image_in, config.ndf, config.n_layers_D, config.num_D)
        frames = config.n_frames_D
        temporal_in = frames * config.output_channels + (frames - 1) * 2
        self.temporal = nn.ModuleList(
            MultiScaleDiscriminator(temporal_in, config.ndf, config.n_layers_D, config.num_D)
            for _ in range(config.n_scales_temporal)
        )
        # One scale: a face box is a few tens of pixels.
        self.face = MultiScaleDiscriminator(image_in, config.ndf, config.n_layers_D, 1) if uses_face(config) else None

    def forward(self, image_input: torch.Tensor | None,
                temporal_inputs: list[torch.Tensor | None] | None = None,
                face_input: torch.Tensor | None = None) -> dict[str, object]:
        """image_input (N, C+3, H, W); temporal_inputs[k] (N, K*3 + (K-1)*2, H, W) or None to skip;
        face_input (M, C+3, s, s) face boxes or None. Returns {"image": Features or None, "temporal":
        [Features or None per temporal scale], "face": Features or None}."""
        temporal_inputs = temporal_inputs or [None] * len(self.temporal)
        return {
            "image": self.image(image_input) if image_input is not None else None,
            "temporal": [net(x) if x is not None else None
                         for net, x in zip(self.temporal, temporal_inputs, strict=True)],
            "face": self.face(face_input) if face_input is not None and self.face is not None else None,
        }


def temporal_stride(config: ModelConfig, scale: int) -> int:
    """Frames between consecutive frames seen by temporal discriminator `scale`."""
    return config.n_frames_D**scale


def temporal_span(config: ModelConfig, scale: int) -> int:
    """Frames of video a temporal discriminator at `scale` needs: (K - 1) * stride + 1."""
    return (config.n_frames_D - 1) * temporal_stride(config, scale) + 1


def image_input(labels: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """(B, T, C, H, W) labels + (B, T, 3, H, W) images -> (B*T, C+3, H, W)."""
    joined = torch.cat((labels, images), dim=2)
    return joined.flatten(0, 1)


def temporal_input(images: torch.Tensor, flows: torch.Tensor, config: ModelConfig, scale: int,
                   windows: int = 1) -> torch.Tensor | None:
    """The `windows` newest windows of temporal scale `scale` in a sequence (fewer when it is too short
    for them), stacked on the batch axis, or None when it is too short for one.

    images (B, T, 3, H, W); flows (B, T, 2, H, W) in pixels, where flows[:, t] warps frame t-1 onto
    frame t (flows[:, 0] unused). The flow between two window frames `stride` apart is the chain of the
    per-frame flows. Window w ends at frame T-1-w. Returns (W*B, K*3 + (K-1)*2, H, W), newest window
    first.
    """
    stride = temporal_stride(config, scale)
    span = temporal_span(config, scale)
    length = images.shape[1]
    count = min(windows, length - span + 1)
    if count < 1:
        return None
    stacked = []
    for last in range(length - 1, length - 1 - count, -1):
        indices = list(range(last - span + 1, last + 1, stride))
        pieces = [images[:, index] for index in indices]
        for index in indices[1:]:
            chained = flows[:, index]
            for step in range(1, stride):
                chained = compose_flow(chained, flows[:, index - step])
            pieces.append(chained / FLOW_SCALE)
        stacked.append(torch.cat(pieces, dim=1))
    return torch.cat(stacked)
