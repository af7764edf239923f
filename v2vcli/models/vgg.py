"""A VGG19 feature extractor for the perceptual loss, with torchvision's published ImageNet weights.

The layer indices match torchvision's `vgg19().features`, so its ImageNet state dict loads as it is:
from a `.pth` (read with torch.load(weights_only=True), which runs no code) or a `.safetensors` file,
with keys `features.N.weight`/`features.N.bias` (or without the `features.` prefix). Classifier keys
are ignored. Only the layers up to relu5_1 are built.

`VGG19_IMAGENET` pins torchvision's file (`vgg19-dcbb9e9d.pth`, whose name carries the first 8 hex digits
of its SHA-256) by its full SHA-256 and size, so that v2vcli.downloads can fetch it once into the user
cache and check every byte.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from v2vcli.downloads import RemoteFile
from v2vcli.errors import BadInput

VGG19_IMAGENET = RemoteFile(
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    sha256="dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
    size=574_673_361,
    description="torchvision's VGG19 ImageNet weights",
)

# torchvision's vgg19 "E" configuration; "M" is a 2x2 max-pool.
_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
# Exclusive ends of the slices that stop at relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
_SLICE_ENDS = (2, 7, 12, 21, 30)
LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


class VGG19Features(nn.Module):
    """Frozen VGG19 up to relu5_1. forward(x (B, 3, H, W) in [-1, 1]) -> 5 feature maps."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in _LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=False)]
                channels = item
        self.features = nn.Sequential(*layers[: _SLICE_ENDS[-1]])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        outputs = []
        start = 0
        for end in _SLICE_ENDS:
            for index in range(start, end):
                x = self.features[index](x)
            outputs.append(x)
            start = end
        return outputs


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as error:
            raise BadInput(f"{path}: not a readable safetensors file ({error})") from None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad or unsafe pickle
        raise BadInput(f"{path}: not a readable VGG19 state dict ({type(error).__name__})") from None
    if not isinstance(state, dict):
        raise BadInput(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def load_vgg19(path: Path | str) -> VGG19Features:
    """A frozen VGG19Features with weights from `path`; BadInput naming the first missing/mismatched key."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: VGG19 weights file not found")
    state = read_state_dict(path)
    model = VGG19Features()
    wanted = model.features.state_dict()
    loaded = {}
    for key, tensor in wanted.items():
        source = state.get(f"features.{key}", state.get(key))
        if source is None:
            raise BadInput(f"{path}: no tensor features.{key}; expected torchvision's vgg19 layout")
        if tuple(source.shape) != tuple(tensor.shape):
            raise BadInput(f"{path}: features.{key} has shape {tuple(source.shape)}, VGG19 needs {tuple(tensor.shape)}")
        loaded[key] = source.float()
    model.features.load_state_dict(loaded)
    return model
