"""One training step: a batch of clips, generated and judged chunk by chunk (truncated BPTT).

For each chunk of `frames_per_chunk` frames:
  1. G generates the chunk, conditioned on the previous chunk's last L generated frames, which are
     detached: gradients stop at chunk boundaries, so memory does not grow with the clip length.
  2. D step: the image D on (label, frame) pairs (and on the raw hallucinations, with the flow path),
     the face D on the face boxes the generator's face refiner used (pose models), and each temporal D
     on every window of frames + ground-truth flow that ends in the chunk (earlier generated frames of
     the clip, detached, complete the windows), real against generated (detached); the "D" loss terms
     (terms.py) are summed.
  3. G step: the same judged again by the updated discriminators; the "G" loss terms are summed.
Networks are called once per backward (DistributedDataParallel needs that); the G step judges with the
unwrapped discriminators, frozen, so no gradient reaches them or their gradient synchronisation. The
step owns no loss: a term added to the registry is trained and logged with no change here.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import torch
import torch.nn.functional as F

from v2vcli.config import Config
from v2vcli.devices import autocast_dtype
from v2vcli.models.discriminators import image_input, temporal_input, temporal_span
from v2vcli.models.losses import PerceptualLoss
from v2vcli.models.warp import resize_flow
from v2vcli.training.distributed import unwrap
from v2vcli.training.face import FaceBoxes, face_boxes
from v2vcli.training.schedule import Phase
from v2vcli.training.terms import Judgement, LossContext, apply_terms

Window = tuple[torch.Tensor, torch.Tensor]


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


def judge(discriminators, labels: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, raw: torch.Tensor | None,
          windows: list[Window | None], faces: FaceBoxes | None) -> dict[str, object]:
    """One call of the discriminators on real and generated inputs together, split into judgements.

    labels, real, fake, raw (the raw hallucinations, or None): (B, T, C, H, W); windows: per temporal
    scale, the (real, generated) temporal inputs, or None where the clip is too short; faces: the face
    boxes of real and generated frames, or None. Returns LossContext's judgement fields: "image",
    "temporal" (one per temporal scale), "face" (None without face boxes) and "faces" (the boxes).
    """
    frames = [real, fake] if raw is None else [real, fake, raw]
    judged = discriminators(torch.cat([image_input(labels, images) for images in frames]),
                            [None if pair is None else torch.cat(pair) for pair in windows],
                            None if faces is None else faces.discriminator_input())
    temporal = [None if outputs is None else Judgement.split(outputs, windows[scale][0].shape[0])
                for scale, outputs in enumerate(judged["temporal"])]
    face = None if judged["face"] is None else Judgement.split(judged["face"], faces.real.shape[0])
    return {"image": Judgement.split(judged["image"], real.shape[0] * real.shape[1], len(frames)),
            "temporal": temporal, "face": face, "faces": faces}


class StepRunner:
    """Trains the generator and discriminators on batches of clips (`run`), owning the precision policy."""

    def __init__(self, config: Config, generator, discriminators, optimizer_G, optimizer_D,
                 perceptual: PerceptualLoss | None, device: torch.device):
        self.config = config
        self.generator = generator
        self.discriminators = discriminators
        self.optimizer_G = optimizer_G
        self.optimizer_D = optimizer_D
        self.perceptual = perceptual
        self.device = device
        self.amp_dtype = autocast_dtype(device, config.train.amp)
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
        length = images.shape[1]
        span = max((temporal_span(model, scale) for scale in range(model.n_scales_temporal)), default=1)
        previous_labels = previous_images = None
        generated: list[torch.Tensor] = []
        totals: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=self.device))
        chunks = 0
        for begin in range(0, length, max(1, train.frames_per_chunk)):
            end = min(length, begin + train.frames_per_chunk)
            with self.autocast():
                out = self.generator(labels[:, begin:end], previous_labels, previous_images,
                                     n_scales=phase.n_scales, frozen_scales=phase.frozen_scales)
            # the earliest frame a temporal window ending in this chunk reaches back to
            window_start = max(0, begin - span + 1)
            history = torch.cat(generated, dim=1) if generated else None
            past = history[:, window_start:begin] if history is not None and window_start < begin else None
            previous = history[:, begin - 1] if history is not None else None
            losses = self.chunk_losses(out, batch, begin, end, window_start, past, previous)
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

    def chunk_losses(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], begin: int, end: int,
                     window_start: int, past: torch.Tensor | None,
                     previous: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """D step then G step on the chunk [begin, end); returns every term's value and both totals.

        past: the clip's generated frames [window_start, begin) (detached), which complete the temporal
        windows; previous: the generated frame begin - 1 (detached), or None at the start of the clip."""
        model = self.config.model
        images, labels, flows = batch["images"], batch["labels"], batch["flows"]
        fake, real, chunk_labels = out["image"], images[:, begin:end], labels[:, begin:end]
        # the raw hallucinations are judged too where the flow path can blend them away (not in start frames)
        raw = out["hallucinated"] if model.use_flow and self.config.train.lambda_raw > 0 else None
        fake_sequence = fake if past is None else torch.cat((past, fake), dim=1)
        real_sequence, flow_sequence = images[:, window_start:end], flows[:, window_start:end]
        windows: list[Window | None] = []
        for scale in range(model.n_scales_temporal):
            real_window = temporal_input(real_sequence, flow_sequence, model, scale, windows=end - begin)
            fake_window = temporal_input(fake_sequence, flow_sequence, model, scale, windows=end - begin)
            windows.append(None if real_window is None else (real_window, fake_window))

        def context(judged: dict[str, object]) -> LossContext:
            return LossContext(self.config.train, model, out, real, chunk_labels, images, flows, begin, **judged,
                               previous=previous, perceptual=self.perceptual)

        boxes = out.get("face_box")
        # Discriminator step, on the generated frames detached
        unwrap(self.discriminators).requires_grad_(True)
        detached = [None if pair is None else (pair[0], pair[1].detach()) for pair in windows]
        with self.autocast():
            raw_detached = None if raw is None else raw.detach()
            judged = judge(self.discriminators, chunk_labels, real, fake.detach(), raw_detached, detached,
                           face_boxes(chunk_labels, real, fake.detach(), boxes))
            losses, loss_D = apply_terms("D", context(judged))
        self.backward_step(loss_D, self.optimizer_D)

        # Generator step, judged by the updated discriminators (frozen: no gradient reaches them)
        frozen = unwrap(self.discriminators).requires_grad_(False)
        with self.autocast():
            judged = judge(frozen, chunk_labels, real, fake, raw, windows, face_boxes(chunk_labels, real, fake, boxes))
            generator_losses, loss_G = apply_terms("G", context(judged))
        self.backward_step(loss_G, self.optimizer_G)
        if self.scaler is not None:
            self.scaler.update()
        return {**losses, **generator_losses, "G/total": loss_G, "D/total": loss_D}
