"""The face refiner: a small residual generator that redraws the face of each generated frame.

People judge a synthesized person by the face first, and the face is a few percent of a frame's pixels,
so the frame generator spends little on it. As Everybody Dance Now's face GAN, a second network looks at
a fixed-size box around the face, in the condition map and in the generated frame, and adds a residual
to that box, feathered at its edges so the paste leaves no seam. Its own discriminator and an L1 /
perceptual term on the box (v2vcli.training.face) train it.

The box is found from what both training and generation have, the condition maps the generator sees:
the pixels of a pose rendering whose colour is one of the face's (the face points and the lines between
them, as v2vcli.preprocess.render draws them; `KeypointLayout.part_colours`) rather than any other
colour drawn, told apart by hue. Their brightness-weighted count, summed over the current condition map
and the generator's previous ones (weighed down by half per frame back, so the box follows the head
smoothly), is searched for the window of twice the box's side holding the most face pixels (so a stray
pixel elsewhere cannot pull the box away); the box is centred on the face pixels' weighted mean there.
An area-resized rendering blends a line's colour with black, which keeps its hue, so the match holds
at any training size.

Boxes: int64 (B, 3) = x, y (top-left corner, pixels) and side (pixels), side 0 where no face was found
(that frame's box is left as it is, and no face term applies to it). The side is `face_size` of the
frame's height, a multiple of 4 and at least 16 (smaller frames are not refined).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vcli.config import ModelConfig
from v2vcli.models.blocks import ResidualBlock, decoder, encoder, head

# A pixel darker than this (largest channel, in [0, 1]) is background or a line's faint resize fringe.
MIN_BRIGHTNESS = 0.25
# Every colour drawn is fully saturated; a pixel less saturated than this is grey or white (the zero maps
# before a clip's first frame, in [-1, 1]) or two colours blended where lines cross.
MIN_SATURATION = 0.75
HUE_BINS = 3600  # the hue lookup's resolution; the nearest face and non-face colours are ~25 bins apart
# Brightness-weighted face pixels (the current frame's counting 1 each) a window needs for a face to be found.
MIN_FACE_MASS = 3.0
HISTORY_DECAY = 0.5  # weight of the condition map one frame further back
DOWNSAMPLING = 2  # the refiner's stride-2 steps: the side is a multiple of 2**DOWNSAMPLING
# The smallest box refined: the refiner's innermost features need a few pixels (instance norm); frames too
# small for one (under 16 px tall) are left as they are.
MIN_SIDE = 16


def uses_face(config: ModelConfig) -> bool:
    """Whether a model has the face refiner (and discriminator): `config.face`, on a pose rendering (RGB)."""
    return config.face and config.label_channels == 3


def hue(rgb: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Hue in [0, 1) of RGB colours (..., 3) in [0, 1] (numpy or torch), as colorsys computes it."""
    lib = torch if isinstance(rgb, torch.Tensor) else np
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    high = rgb.amax(-1) if lib is torch else rgb.max(-1)
    span = high - (rgb.amin(-1) if lib is torch else rgb.min(-1))
    span = lib.where(span > 0, span, lib.ones_like(span))
    value = lib.where(high == red, (green - blue) / span,
                      lib.where(high == green, 2 + (blue - red) / span, 4 + (red - green) / span))
    return (value / 6) % 1.0


@cache
def face_hue_table() -> np.ndarray:
    """bool (HUE_BINS,): True for hues nearer a face colour than any other colour the default pose backend's
    rendering draws (`KeypointLayout.part_colours`). All those colours are fully saturated, so the hue
    tells them apart, and it is what an area resize (blending a line with black) keeps."""
    from v2vcli.preprocess.pose_backend import pose_layout

    face, other = (hue(colours.astype(np.float64) / 255) for colours in pose_layout().part_colours("face"))
    centres = (np.arange(HUE_BINS) + 0.5) / HUE_BINS

    def nearest(hues: np.ndarray) -> np.ndarray:
        gap = np.abs(centres[:, None] - hues[None])
        return np.minimum(gap, 1 - gap).min(axis=1)

    return nearest(face) < nearest(other)


def face_side(config: ModelConfig, height: int) -> int:
    """The face box's side in pixels for frames `height` tall: config.face_size of it, a multiple of 4, at
    least MIN_SIDE and at most the frame (0 for frames under MIN_SIDE: no box)."""
    step = 2**DOWNSAMPLING
    side = min(height // step * step, max(MIN_SIDE, round(config.face_size * height / step) * step))
    return side if side >= MIN_SIDE else 0


def face_mass(labels: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """labels (B, 3, H, W) pose renderings in [-1, 1] -> (B, 1, H, W) float: each pixel's brightness where
    its hue is a face colour's (`table`: face_hue_table as a bool tensor) and it is saturated and not dark,
    else 0."""
    rgb = ((labels.float() + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1)
    brightness = rgb.amax(-1)
    saturation = (brightness - rgb.amin(-1)) / brightness.clamp_min(1e-6)
    bins = (hue(rgb) * len(table)).long().clamp(0, len(table) - 1)
    is_face = table[bins] & (saturation > MIN_SATURATION) & (brightness > MIN_BRIGHTNESS)
    return (brightness * is_face)[:, None]


def locate_faces(label_stack: torch.Tensor, channels: int, side: int, table: torch.Tensor) -> torch.Tensor:
    """The face box of the newest frame of a generator input.

    label_stack: (B, (L+1)*channels, H, W), the condition maps of frames t-L..t (t last; zeros before a
    clip's start), channels = 3 (pose renderings in [-1, 1]); side: the box side (`face_side`); table: the
    face hues (`face_mass`).
    Returns boxes (B, 3) int64 (see the module docstring)."""
    batch, _, height, width = label_stack.shape
    maps = label_stack.detach().view(batch, -1, channels, height, width)
    frames = maps.shape[1]
    weights = [HISTORY_DECAY ** (frames - 1 - index) for index in range(frames)]
    mass = sum(weight * face_mass(maps[:, index], table) for index, weight in enumerate(weights))
    window = min(2 * side, height, width)
    integral = F.pad(mass.double().cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    # every window's sum, (B, 1, H - window + 1, W - window + 1)
    sums = (integral[..., window:, window:] - integral[..., :-window, window:] - integral[..., window:, :-window]
            + integral[..., :-window, :-window])
    best, position = sums.flatten(1).max(dim=1)
    columns = sums.shape[-1]
    rows, cols = torch.meshgrid(torch.arange(window, device=mass.device), torch.arange(window, device=mass.device),
                                indexing="ij")
    boxes = []
    for item, top, left in zip(mass[:, 0], (position // columns).tolist(), (position % columns).tolist(),
                               strict=True):
        region = item[top:top + window, left:left + window]
        total = region.sum().clamp_min(1e-6)
        centre_y = top + float((region * rows).sum() / total) + 0.5
        centre_x = left + float((region * cols).sum() / total) + 0.5
        boxes.append((min(max(round(centre_x - side / 2), 0), width - side),
                      min(max(round(centre_y - side / 2), 0), height - side)))
    found = (best >= MIN_FACE_MASS).long() * side
    return torch.cat((torch.tensor(boxes, dtype=torch.long, device=label_stack.device).view(-1, 2), found[:, None]),
                     dim=1)


def crop_boxes(frames: torch.Tensor, boxes: torch.Tensor, side: int) -> torch.Tensor:
    """frames (N, C, H, W), boxes (N, 3) -> (N, C, side, side): each frame's box (found or not)."""
    return torch.stack([frame[:, y:y + side, x:x + side]
                        for frame, (x, y) in zip(frames, boxes[:, :2].tolist(), strict=True)])


def found_crops(frames: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor | None:
    """frames (B, T, C, H, W) and their boxes (B, T, 3) -> (N, C, s, s), the N frames with a face found,
    or None where none was."""
    flat_boxes = boxes.flatten(0, 1)
    found = flat_boxes[:, 2] > 0
    if not found.any():
        return None
    side = int(flat_boxes[found, 2].max())
    return crop_boxes(frames.flatten(0, 1)[found], flat_boxes[found], side)


@cache
def feather(side: int) -> torch.Tensor:
    """(1, 1, side, side) in [0, 1]: 1 inside, falling linearly to 0 over the outer side/8 pixels."""
    ramp = max(1, side // 8)
    # Made outside inference mode even when generation asks first: a cached inference tensor would make a
    # later training step in the same process fail ("cannot be saved for backward").
    with torch.inference_mode(False):
        distance = torch.minimum(torch.arange(side), torch.arange(side).flip(0)).float()
        edge = ((distance + 1) / (ramp + 1)).clamp(max=1.0)
        return (edge[:, None] * edge[None, :])[None, None]


class FaceRefiner(nn.Module):
    """Finds the face box of a frame and adds a learnt residual to it (see the module docstring).

    The network: encoder (condition crop + generated crop) -> residual blocks -> decoder -> a head that
    starts at zero, so a new refiner changes nothing until it has learnt something."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        width = config.face_ngf
        self.network = nn.Sequential(
            encoder(config.label_channels + config.output_channels, width, DOWNSAMPLING),
            *(ResidualBlock(width * 2**DOWNSAMPLING) for _ in range(config.face_blocks)),
            decoder(width, DOWNSAMPLING),
            head(width, config.output_channels),
        )
        nn.init.zeros_(self.network[-1].weight)
        nn.init.zeros_(self.network[-1].bias)
        self.register_buffer("face_hues", torch.from_numpy(face_hue_table()), persistent=False)

    def forward(self, label_stack: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """label_stack (B, (L+1)*C, H, W) as the generator's frame() takes it; image (B, 3, H, W) in [-1, 1].
        Returns (the image with its face box refined, (B, 3, H, W); boxes (B, 3)). Frames without a face
        are returned as they came."""
        channels = self.config.label_channels
        height, width = image.shape[-2:]
        side = face_side(self.config, height)
        if not side:
            return image, torch.zeros((len(image), 3), dtype=torch.long, device=image.device)
        boxes = locate_faces(label_stack, channels, side, self.face_hues)
        conditions = crop_boxes(label_stack[:, -channels:], boxes, side)
        crops = crop_boxes(image, boxes, side)
        residual = self.network(torch.cat((conditions, crops.to(conditions.dtype)), dim=1))
        found = (boxes[:, 2] > 0).to(residual.dtype)[:, None, None, None]
        delta = residual * feather(side).to(residual) * found
        pasted = torch.stack([F.pad(item, (x, width - x - side, y, height - y - side))
                              for item, (x, y) in zip(delta, boxes[:, :2].tolist(), strict=True)])
        return image + pasted.to(image.dtype), boxes
