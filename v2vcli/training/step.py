"""One training step: a batch of clips, generated and judged chunk by chunk (truncated BPTT).

For each chunk of `frames_per_chunk` frames:
  1. G generates the chunk, conditioned on the previous chunk's last L generated frames, which are
     detached: gradients stop at chunk boundaries, so memory does not grow with the clip length.
  2. D step: the image D on (label, frame) pairs and each temporal D on its newest window of frames +
     ground-truth flow, real against generated (detached).
  3. G step: adversarial + feature matching (image and temporal), VGG when weights were given, and
     for frames that used the flow path: flow L1 and warp L1 where the ground-truth flow is trusted,
     and the mask pushed to hallucination where it is not.
Networks are called once per backward (DistributedDataParallel needs that); the G step judges with the
unwrapped discriminators, frozen, so no gradient reaches them or their gradient synchronisation.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import torch
import torch.nn.functional as F

from v2vcli.config import Config
from v2vcli.models.discriminators import image_input, temporal_input, temporal_span
from v2vcli.models.losses import PerceptualLoss, feature_matching, flow_loss, gan_loss, mask_loss, warp_loss
from v2vcli.models.warp import photometric_confidence, resize_flow
from v2vcli.training.distributed import unwrap
from v2vcli.training.schedule import Phase


def resize_batch(batch: dict[str, torch.Tensor], size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """Bring (B, T, C, H, W) tensors to `size` (W, H): area-average images/labels/masks, rescale flows."""
    width, height = size
    out = {}
    for key, value in batch.items():
        if value.shape[-2:] == (height, width) or value.ndim != 5:
            out[key] = value
            continue
        flat = value.flatten(0, 1)
        if key == "flows":
            flat = resize_flow(flat, height, width)
        else:
            flat = F.interpolate(flat, size=(height, width), mode="area")
        out[key] = flat.view(*value.shape[:3], height, width)
    return out


def split_halves(outputs: list[list[torch.Tensor]], count: int):
    """Features of D on cat(real, fake) -> (real features, fake features)."""
    real = [[feature[:count] for feature in scale] for scale in outputs]
    fake = [[feature[count:] for feature in scale] for scale in outputs]
    return real, fake


class StepRunner:
    def __init__(self, config: Config, generator, discriminators, optimizer_G, optimizer_D,
                 perceptual: PerceptualLoss | None, device: torch.device):
        self.config = config
        self.generator = generator
        self.discriminators = discriminators
        self.optimizer_G = optimizer_G
        self.optimizer_D = optimizer_D
        self.perceptual = perceptual
        self.device = device
        self.amp_dtype = None
        if device.type == "cuda" and config.train.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # bf16 has float32's range: only fp16 needs loss scaling
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
        else:
            loss.backward()
            optimizer.step()

    def run(self, batch: dict[str, torch.Tensor], phase: Phase) -> dict[str, float]:
        """Train on one batch of clips; returns the chunk-averaged losses."""
        model, train = self.config.model, self.config.train
        batch = {key: value.to(self.device, non_blocking=True) for key, value in batch.items()}
        batch = resize_batch(batch, phase.size)
        images, labels, flows = batch["images"], batch["labels"], batch["flows"]
        masks = batch.get("masks")
        length = images.shape[1]
        span = max((temporal_span(model, scale) for scale in range(model.n_scales_temporal)), default=1)
        previous_labels = previous_images = None
        generated: list[torch.Tensor] = []
        totals: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=self.device))
        chunks = 0
        for begin in range(0, length, max(1, train.frames_per_chunk)):
            end = min(length, begin + train.frames_per_chunk)
            fg_masks = masks[:, begin:end] if model.fg_separation else None
            with self.autocast():
                out = self.generator(labels[:, begin:end], previous_labels, previous_images, fg_masks,
                                     n_scales=phase.n_scales)
            window_start = max(0, end - span)
            past = torch.cat(generated, dim=1)[:, window_start:begin] if generated and window_start < begin else None
            losses = self.chunk_losses(out, batch, begin, end, window_start, past)
            for key, value in losses.items():
                totals[key] += value.detach().float()
            chunks += 1
            generated.append(out["image"].detach())
            if model.n_previous:
                keep = max(0, end - model.n_previous)
                previous_labels = labels[:, keep:end]
                previous_images = torch.cat(generated, dim=1)[:, keep:end]
        del images, labels, flows
        return {key: float(value) / chunks for key, value in totals.items()}

    def chunk_losses(self, out, batch, begin: int, end: int, window_start: int,
                     past: torch.Tensor | None) -> dict[str, torch.Tensor]:
        model, train = self.config.model, self.config.train
        images, labels, flows = batch["images"], batch["labels"], batch["flows"]
        fake, real, chunk_labels = out["image"], images[:, begin:end], labels[:, begin:end]
        count = fake.shape[0] * fake.shape[1]
        fake_sequence = fake if past is None else torch.cat((past, fake), dim=1)
        real_sequence, flow_sequence = images[:, window_start:end], flows[:, window_start:end]
        windows = []
        for scale in range(model.n_scales_temporal):
            real_window = temporal_input(real_sequence, flow_sequence, model, scale)
            fake_window = temporal_input(fake_sequence, flow_sequence, model, scale)
            windows.append(None if real_window is None else (real_window, fake_window))
        losses: dict[str, torch.Tensor] = {}

        # Discriminator step
        unwrap(self.discriminators).requires_grad_(True)
        with self.autocast():
            judged = self.discriminators(
                torch.cat((image_input(chunk_labels, real), image_input(chunk_labels, fake.detach()))),
                [None if pair is None else torch.cat((pair[0], pair[1].detach())) for pair in windows],
            )
        real_out, fake_out = split_halves(judged["image"], count)
        losses["D/real"] = gan_loss(real_out, True, train.gan_mode)
        losses["D/fake"] = gan_loss(fake_out, False, train.gan_mode)
        for scale, outputs in enumerate(judged["temporal"]):
            if outputs is not None:
                real_out, fake_out = split_halves(outputs, windows[scale][0].shape[0])
                losses[f"D/temporal{scale}"] = train.lambda_temporal * 0.5 * (
                    gan_loss(real_out, True, train.gan_mode) + gan_loss(fake_out, False, train.gan_mode))
        loss_D = 0.5 * (losses["D/real"] + losses["D/fake"]) + sum(
            value for key, value in losses.items() if key.startswith("D/temporal"))
        self.backward_step(loss_D, self.optimizer_D)

        # Generator step, judged by the updated discriminators (frozen: no gradient reaches them)
        frozen = unwrap(self.discriminators).requires_grad_(False)
        with self.autocast():
            judged = frozen(
                torch.cat((image_input(chunk_labels, real), image_input(chunk_labels, fake))),
                [None if pair is None else torch.cat(pair) for pair in windows],
            )
            real_out, fake_out = split_halves(judged["image"], count)
            losses["G/gan"] = gan_loss(fake_out, True, train.gan_mode, for_discriminator=False)
            losses["G/feat"] = train.lambda_feat * feature_matching(fake_out, real_out)
            for scale, outputs in enumerate(judged["temporal"]):
                if outputs is not None:
                    real_out, fake_out = split_halves(outputs, windows[scale][0].shape[0])
                    losses[f"G/temporal{scale}"] = train.lambda_temporal * (
                        gan_loss(fake_out, True, train.gan_mode, for_discriminator=False)
                        + train.lambda_feat * feature_matching(fake_out, real_out))
            if self.perceptual is not None and train.lambda_vgg > 0:
                losses["G/vgg"] = train.lambda_vgg * self.perceptual(fake.flatten(0, 1), real.flatten(0, 1))
        if train.lambda_l1 > 0:
            losses["G/l1"] = train.lambda_l1 * F.l1_loss(fake.float(), real.float())
        warped = [index for index, start in enumerate(out["start"].tolist()) if not start]
        if model.use_flow and warped:
            positions = [begin + index for index in warped]
            current = images[:, positions].flatten(0, 1)
            previous = images[:, [p - 1 for p in positions]].flatten(0, 1)
            target = flows[:, positions].flatten(0, 1)
            confidence = photometric_confidence(current, previous, target, train.confidence_threshold)
            predicted = out["flow"][:, warped].flatten(0, 1)
            losses["G/flow"] = train.lambda_flow * flow_loss(predicted, target, confidence)
            losses["G/warp"] = train.lambda_warp * warp_loss(previous, predicted, current, confidence)
            losses["G/mask"] = train.lambda_mask * mask_loss(out["mask"][:, warped].flatten(0, 1), confidence)
        loss_G = sum(value for key, value in losses.items() if key.startswith("G/"))
        self.backward_step(loss_G, self.optimizer_G)
        if self.scaler is not None:
            self.scaler.update()
        losses["G/total"], losses["D/total"] = loss_G, loss_D
        return losses
