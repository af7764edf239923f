"""The sequential vid2vid generator (Wang et al. 2018, sec. 3.1-3.2), written from the paper.

Each frame t is generated from the condition maps of frames t-L..t and the L previously *generated*
frames (L = n_frames_G - 1). Three heads share one network:

    flow w_t      (pixels, x then y): where each pixel of frame t comes from in generated frame t-1
    mask m_t      in [0, 1] (sigmoid): 1 = copy the warped previous frame, 0 = use the hallucination
    hallucinated  h_t in [-1, 1] (tanh): new content (occluded or appearing regions)
    output        x_t = m_t * resample(x_{t-1}, w_t) + (1 - m_t) * h_t

Coarse to fine: scale 0 is a full encoder/residual/decoder network at 1/2^(S-1) of the size; each finer
scale is a local enhancer (pix2pixHD-style) whose features, after one stride-2 convolution, are added
to the coarser scale's output features, so a trained coarse network is refined rather than replaced.
Only the finest active scale's heads are used.

First-frame rule: a frame with fewer than L generated frames before it (the first L frames of a video)
is a *start frame*: all its previous-frame inputs (labels and images) are zeros, the flow path does not
run, and the mask is 0, so it is pure hallucination. Training does the same at the start of each
sampled clip, so inference starting a video from nothing sees what training saw.

With `use_flow=False` the previous-image encoder and the flow/mask path are removed: every frame is
hallucinated from the condition maps alone (the paper's frame-by-frame ablation).

With `fg_separation` (the paper's foreground-background prior), a second image head hallucinates the
foreground, which is never warped: x_t = f * h_fg + (1 - f) * (m * warped + (1 - m) * h_bg). The
foreground f in [0, 1] is read off the current condition map (`foreground_mask`), so generation needs
nothing that training had not. The "hallucinated" output is then f * h_fg + (1 - f) * h_bg.

With `face` (pose models), a face refiner (models/face.py) redraws a fixed-size box around the face of
every output frame, found from the condition maps of the frame and the ones before it; the refined frame
is the output (and what the next frame warps), and its box is returned as `face_box`.

A generator whose finer scales are not trained yet (a checkpoint from the first stages of progressive
training) has `trained_scales` below its scale count: called on full-size inputs it runs the trained
scales at their own size and upsamples the result, rather than an untrained enhancer.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vcli.config import ModelConfig
from v2vcli.models.blocks import ResidualBlock, decoder, encoder, head
from v2vcli.models.face import FaceRefiner, uses_face
from v2vcli.models.foreground import foreground_mask
from v2vcli.models.warp import base_grid, resample


def coordinate_grid(like: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) of `like`'s batch, size, dtype and device: each pixel centre's x, then y, in [-1, 1]
    (the warp's cached pixel grid, rescaled)."""
    batch, _, height, width = like.shape
    pixels = base_grid(height, width, like.device, torch.float32)
    grid = torch.stack(((pixels[:, 0] + 0.5) * (2.0 / width) - 1.0, (pixels[:, 1] + 0.5) * (2.0 / height) - 1.0), 1)
    return grid.to(like.dtype).expand(batch, -1, -1, -1)


class ScaleNetwork(nn.Module):
    """One spatial scale: the global network (scale 0) or a local enhancer (finer scales)."""

    def __init__(self, config: ModelConfig, scale: int):
        super().__init__()
        self.width = config.ngf * 2 ** (config.n_scales_spatial - 1 - scale)
        n_down = config.n_downsample if scale == 0 else 1
        blocks = config.n_blocks if scale == 0 else config.n_blocks_local
        inner = self.width * 2**n_down
        self.coordinates = config.coordinates
        self.label_encoder = encoder((config.n_previous + 1) * config.label_channels + 2 * config.coordinates,
                                     self.width, n_down)
        self.image_residual = nn.Sequential(*(ResidualBlock(inner) for _ in range(blocks)))
        self.image_decoder = decoder(self.width, n_down)
        self.image_head = head(self.width, config.output_channels)
        if config.fg_separation:
            self.foreground_head = head(self.width, config.output_channels)
        self.use_flow = config.use_flow
        if self.use_flow:
            self.image_encoder = encoder(config.n_previous * config.output_channels, self.width, n_down)
            self.flow_residual = nn.Sequential(*(ResidualBlock(inner) for _ in range(blocks)))
            self.flow_decoder = decoder(self.width, n_down)
            self.flow_head = head(self.width, 2)
            self.mask_head = head(self.width, 1)
            # Start with near-zero flow and a half-open mask so early training warps gently.
            nn.init.normal_(self.flow_head.weight, std=1e-3)
            nn.init.zeros_(self.flow_head.bias)

    def forward(self, labels: torch.Tensor, images: torch.Tensor | None,
                coarser: tuple[torch.Tensor, torch.Tensor | None] | None, start: bool):
        """-> (image features, flow features or None), both (B, width, h, w) at this scale's size."""
        if self.coordinates:
            labels = torch.cat((labels, coordinate_grid(labels)), dim=1)
        features = self.label_encoder(labels)
        if self.use_flow and images is not None:
            features = features + self.image_encoder(images)
        image_in = features if coarser is None else features + coarser[0]
        image_features = self.image_decoder(self.image_residual(image_in))
        flow_features = None
        if self.use_flow and not start:
            flow_in = features if coarser is None or coarser[1] is None else features + coarser[1]
            flow_features = self.flow_decoder(self.flow_residual(flow_in))
        return image_features, flow_features


class Generator(nn.Module):
    """The vid2vid generator. `forward` generates a run of frames sequentially; see the module docstring."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.use_flow and config.n_frames_G < 2:
            raise ValueError("a generator with the flow path needs n_frames_G >= 2 (one previous frame)")
        self.config = config
        self.scales = nn.ModuleList(ScaleNetwork(config, scale) for scale in range(config.n_scales_spatial))
        self.trained_scales = config.n_scales_spatial
        self.face = FaceRefiner(config) if uses_face(config) else None

    @property
    def n_previous(self) -> int:
        return self.config.n_previous

    def frame(self, labels: torch.Tensor, images: torch.Tensor, previous: torch.Tensor | None,
              n_scales: int | None = None, frozen_scales: int = 0) -> dict[str, torch.Tensor]:
        """One frame. labels (B, (L+1)*C, H, W), the current frame's C channels last; images (B, L*3, H, W)
        (zeros for a start frame); previous: the last generated frame (B, 3, H, W) or None for a start
        frame; H, W at the finest active scale. The first `frozen_scales` scales run without gradient.
        Returns image, hallucinated, warped (B, 3, H, W), flow (B, 2, H, W), mask (B, 1, H, W), with
        fg_separation foreground (B, 1, H, W), with the face refiner face_box (B, 3) int64 (models/face.py)."""
        active = n_scales or len(self.scales)
        start = previous is None
        features = None
        for scale in range(active):
            factor = 2 ** (active - 1 - scale)
            scale_labels = F.avg_pool2d(labels, factor) if factor > 1 else labels
            scale_images = F.avg_pool2d(images, factor) if factor > 1 else images
            with torch.set_grad_enabled(torch.is_grad_enabled() and scale >= frozen_scales):
                features = self.scales[scale](scale_labels, scale_images, features, start)
        finest = self.scales[active - 1]
        image_features, flow_features = features
        background = torch.tanh(finest.image_head(image_features))
        outputs: dict[str, torch.Tensor] = {}
        if self.config.fg_separation:
            foreground = foreground_mask(labels[:, -self.config.label_channels:], self.config)
            person = torch.tanh(finest.foreground_head(image_features))
            hallucinated = foreground * person + (1 - foreground) * background
            outputs["foreground"] = foreground
        else:
            foreground, person, hallucinated = None, None, background
        batch, _, height, width = background.shape
        if flow_features is None:
            zeros = background.new_zeros((batch, 1, height, width))
            return self._with_face(labels, {"image": hallucinated, "hallucinated": hallucinated,
                                            "warped": torch.zeros_like(background),
                                            "flow": zeros.expand(-1, 2, -1, -1), "mask": zeros, **outputs})
        flow = finest.flow_head(flow_features) * self.config.flow_gain
        mask = torch.sigmoid(finest.mask_head(flow_features))
        warped = resample(previous, flow)
        image = mask * warped + (1 - mask) * background
        if foreground is not None:
            image = foreground * person + (1 - foreground) * image
        return self._with_face(labels, {"image": image, "hallucinated": hallucinated, "warped": warped, "flow": flow,
                                        "mask": mask, **outputs})

    def _with_face(self, labels: torch.Tensor, outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The frame's outputs with its face box refined (models/face.py) and `face_box` (B, 3) added."""
        if self.face is None:
            return outputs
        outputs["image"], outputs["face_box"] = self.face(labels, outputs["image"])
        return outputs

    def forward(self, labels: torch.Tensor, previous_labels: torch.Tensor | None = None,
                previous_images: torch.Tensor | None = None, n_scales: int | None = None,
                frozen_scales: int = 0) -> dict[str, torch.Tensor]:
        """Generate T frames in order, each conditioned on the ones generated before it.

        labels: (B, T, C, H, W) condition maps of the frames to generate (one-hot or RGB in [-1, 1]).
        previous_labels / previous_images: (B, P, C, H, W) / (B, P, 3, H, W), the P <= L frames just
            before (their condition maps and generated images), or None at the start of a video. A
            frame with fewer than L frames of history is a start frame (see the module docstring).
        n_scales: spatial scales in use (progressive training), H, W being the size of the finest of
            them; None: the trained ones, H, W being the full size (generation).
        frozen_scales: the first this-many scales run without gradient (a new scale's warm-up).
        Returns a dict of (B, T, ...) tensors: image, hallucinated, warped, flow, mask (and foreground
            with fg_separation, face_box with the face refiner), and `start` (T,) bool, True for start
            frames (their flow, mask and warped are zeros).
        """
        if n_scales is None and self.trained_scales < len(self.scales):
            return self._coarser(labels, previous_labels, previous_images)
        count = self.n_previous
        history_labels = list(previous_labels.unbind(1))[-count:] if previous_labels is not None and count else []
        history_images = list(previous_images.unbind(1))[-count:] if previous_images is not None and count else []
        if len(history_labels) != len(history_images):
            raise ValueError("previous_labels and previous_images must hold the same number of frames")
        outputs: dict[str, list] = {}
        starts = []
        for index in range(labels.shape[1]):
            current = labels[:, index]
            start = len(history_images) < count or count == 0
            if start:
                label_stack = [torch.zeros_like(current)] * count + [current]
                images = current.new_zeros((current.shape[0], count * self.config.output_channels, *current.shape[-2:]))
                previous = None
            else:
                label_stack = [*history_labels, current]
                images = torch.cat(history_images, dim=1)
                previous = history_images[-1]
            result = self.frame(torch.cat(label_stack, dim=1), images, previous, n_scales, frozen_scales)
            for key, value in result.items():
                outputs.setdefault(key, []).append(value)
            starts.append(start)
            if count:
                history_labels = [*history_labels, current][-count:]
                history_images = [*history_images, result["image"]][-count:]
        stacked = {key: torch.stack(values, dim=1) for key, values in outputs.items()}
        # Start frames are a prefix (the history only grows): made on the device without a copy from the
        # host, which would synchronise the GPU every generated frame.
        stacked["start"] = torch.arange(len(starts), device=labels.device) < sum(starts)
        return stacked

    def _coarser(self, labels: torch.Tensor, previous_labels: torch.Tensor | None,
                 previous_images: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Full-size inputs through the trained scales only, at their size; outputs brought back to full size."""
        factor = 2 ** (len(self.scales) - self.trained_scales)

        def shrink(frames: torch.Tensor | None) -> torch.Tensor | None:
            return None if frames is None else F.avg_pool2d(frames.flatten(0, 1), factor).unflatten(0, frames.shape[:2])

        out = self.forward(shrink(labels), shrink(previous_labels), shrink(previous_images), self.trained_scales)
        size = labels.shape[-2:]
        for key, value in out.items():
            if key == "face_box":  # x, y and side, in pixels
                out[key] = value * factor
            elif key != "start":
                grown = F.interpolate(value.flatten(0, 1).float(), size=size, mode="bilinear", align_corners=False)
                out[key] = (grown * factor if key == "flow" else grown).to(value.dtype).unflatten(0, value.shape[:2])
        return out


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())
