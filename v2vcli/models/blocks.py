"""Convolution blocks the generators share: the vid2vid generator (generator.py) and the face refiner (face.py)."""

from __future__ import annotations

import torch
import torch.nn as nn


def conv_norm_relu(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, padding_mode="reflect"),
        nn.InstanceNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            conv_norm_relu(channels, channels, 3),
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def encoder(in_channels: int, width: int, n_down: int) -> nn.Sequential:
    layers = [conv_norm_relu(in_channels, width, 7)]
    for index in range(n_down):
        layers.append(conv_norm_relu(width * 2**index, width * 2 ** (index + 1), 3, stride=2))
    return nn.Sequential(*layers)


def decoder(width: int, n_up: int) -> nn.Sequential:
    """Nearest upsampling + 3x3 convolution (no transposed-convolution checkerboard)."""
    layers = []
    for index in range(n_up, 0, -1):
        layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                   conv_norm_relu(width * 2**index, width * 2 ** (index - 1), 3)]
    return nn.Sequential(*layers)


def head(width: int, channels: int) -> nn.Conv2d:
    return nn.Conv2d(width, channels, 7, padding=3, padding_mode="reflect")
