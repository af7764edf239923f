"""Which VGG19 weights the perceptual loss of a run uses, or why it runs without one.

In order: the file `--vgg` names (any file in torchvision's vgg19 layout, used as it is); else, unless
`--no-vgg`, torchvision's published ImageNet file, found in the model folders or downloaded once into the
user cache and checked against its pinned SHA-256 (v2vcli.downloads). Where neither works (no network,
no file) the run goes on without the perceptual loss and says so in one line.
"""

from __future__ import annotations

import torch

from v2vcli.config import RunSettings, TrainConfig
from v2vcli.downloads import DownloadFailed, fetch
from v2vcli.models.losses import PerceptualLoss
from v2vcli.models.vgg import VGG19_IMAGENET, load_vgg19
from v2vcli.weights import cache_dir


def perceptual_loss(run: RunSettings, train: TrainConfig, device: torch.device) -> tuple[PerceptualLoss | None,
                                                                                          str | None]:
    """(the perceptual loss on `device`, None) or (None, the one-line note that says why it is off).
    A file named with --vgg that cannot be read as VGG19 weights is an error (BadInput), not a note."""
    if train.lambda_vgg <= 0:
        return None, None
    if run.vgg_path:
        return PerceptualLoss(load_vgg19(run.vgg_path).to(device)), None
    if not run.vgg:
        return None, "VGG perceptual loss off (--no-vgg)"
    try:
        path = fetch(VGG19_IMAGENET, quiet=run.quiet)
    except DownloadFailed as error:
        return None, (f"VGG perceptual loss off: {error}. Give {VGG19_IMAGENET.filename} with --vgg FILE "
                      f"(or copy it into {cache_dir()}), or pass --no-vgg to silence this")
    return PerceptualLoss(load_vgg19(path).to(device)), None
