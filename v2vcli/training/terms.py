"""The losses of training as registered terms: a name, the network it trains, a weight and a function.

The D step and the G step of every chunk (step.py) evaluate the terms registered for their network, in
registration order. A term's function gets a `LossContext` (the chunk's generated outputs, real
frames, labels, ground-truth flow, the discriminators' outputs on real and generated inputs, the
perceptual network...) and returns a scalar tensor, or None where it does not apply (no VGG weights,
no frame in the chunk that used the flow path). The value logged as "NETWORK/NAME" is the term's
weight times that tensor, and the network's total ("G/total", "D/total", the loss back-propagated into
that network's optimizer) is the sum of its terms' logged values, each times the term's `share`.

Adding a loss is one function, one weight and this decorator; nothing else changes:

    @loss_term("G", "hallucinated_l1", weight="lambda_hallucinated_l1", opt_in=True)
    def hallucinated_l1(context: LossContext) -> torch.Tensor:
        return F.l1_loss(context.generated["hallucinated"].float(), context.real.float())

with `lambda_hallucinated_l1: float = 0.0` in TrainConfig (the weight is then saved with the model and
set in a config file). A weight may also be a plain number, for a term not meant to be tuned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

from v2vcli.config import ModelConfig, TrainConfig
from v2vcli.models.losses import (
    PerceptualLoss,
    feature_matching,
    flow_loss,
    gan_loss,
    mask_loss,
    output_warp_loss,
    warp_loss,
)
from v2vcli.models.warp import photometric_confidence
from v2vcli.training.face import FaceBoxes

NETWORKS = ("G", "D")
Features = list[list[torch.Tensor]]
TermValue = torch.Tensor | list[torch.Tensor | None] | None


@dataclass
class Judgement:
    """A discriminator's outputs on real and on generated inputs, judged in one call and split: per
    discriminator scale, the list of its layers' features, the last one being the patch prediction.
    `raw`: its outputs on the generator's raw hallucinations, where they were judged too."""

    real: Features
    fake: Features
    raw: Features | None = None

    @classmethod
    def split(cls, outputs: Features, count: int, parts: int = 2) -> Judgement:
        """Outputs on cat(real, generated[, raw]), `count` items each, in that order -> the parts."""
        pieces = [[[feature[part * count:(part + 1) * count] for feature in scale] for scale in outputs]
                  for part in range(parts)]
        return cls(*pieces)


@dataclass
class FlowFrames:
    """The chunk's frames that used the flow path (not first frames), flattened over batch and time (N).

    current, previous: the real frames and the real frames before them (N, 3, H, W) in [-1, 1];
    target: the ground-truth flow from current to previous (N, 2, H, W), pixels; confidence (N, 1, H, W)
    in {0, 1}: 1 where warping previous by target rebuilds current (the target is trusted there);
    flow, mask: the generator's predicted flow (N, 2, H, W) and occlusion mask (N, 1, H, W) in [0, 1].
    """

    current: torch.Tensor
    previous: torch.Tensor
    target: torch.Tensor
    confidence: torch.Tensor
    flow: torch.Tensor
    mask: torch.Tensor


@dataclass
class OutputFrames:
    """The chunk's generated frames that have a generated frame before them, flattened over batch and
    time (N): current and previous (N, 3, H, W) in [-1, 1] (previous without gradient), the ground-truth
    flow from current to previous (N, 2, H, W) and its confidence (N, 1, H, W) in {0, 1}."""

    current: torch.Tensor
    previous: torch.Tensor
    flow: torch.Tensor
    confidence: torch.Tensor


@dataclass
class LossContext:
    """What a loss term may use, for the chunk of frames [begin, begin + T) of a batch of B clips.

    generated: the generator's outputs for the chunk (models/generator.py): "image", "hallucinated",
        "warped" (B, T, 3, H, W) in [-1, 1], "flow" (B, T, 2, H, W) in pixels, "mask" (B, T, 1, H, W),
        "start" (T,) bool (True: a first frame, hallucinated without the flow path).
    real, labels: the chunk's real frames (B, T, 3, H, W) in [-1, 1] and condition maps (B, T, C, H, W).
    clip, flows: every real frame of the clips (B, L, 3, H, W) and its ground-truth flow (B, L, 2, H, W),
        flows[:, t] going from frame t to frame t - 1 (a term may look before the chunk).
    image: the image discriminator on (labels, real) against (labels, generated), and (`raw`) against
        (labels, generated["hallucinated"]) when the model has the flow path.
    temporal: per temporal discriminator scale, its judgement of the windows ending at the chunk's
        frames, or None where the clip is too short for that scale.
    face, faces: the face discriminator on (labels, real) against (labels, generated) face boxes, and those
        boxes (v2vcli.training.face); None without a face refiner or without a face in the chunk.
    previous: the frame generated just before the chunk (B, 3, H, W), without gradient; None at the
        start of a clip.
    perceptual: the VGG19 perceptual loss, None without VGG weights.
    In the D step the generated inputs the discriminators judged were detached; in the G step the
    discriminators are frozen, so a G term's gradient reaches the generator only.
    """

    train: TrainConfig
    model: ModelConfig
    generated: dict[str, torch.Tensor]
    real: torch.Tensor
    labels: torch.Tensor
    clip: torch.Tensor
    flows: torch.Tensor
    begin: int
    image: Judgement
    temporal: list[Judgement | None]
    face: Judgement | None = None
    faces: FaceBoxes | None = None
    previous: torch.Tensor | None = None
    perceptual: PerceptualLoss | None = None

    @cached_property
    def flow_frames(self) -> FlowFrames | None:
        """The frames the flow, warp and mask terms train on; None without the flow path or such frames."""
        warped = [index for index, start in enumerate(self.generated["start"].tolist()) if not start]
        if not self.model.use_flow or not warped:
            return None
        positions = [self.begin + index for index in warped]
        current = self.clip[:, positions].flatten(0, 1)
        previous = self.clip[:, [position - 1 for position in positions]].flatten(0, 1)
        target = self.flows[:, positions].flatten(0, 1)
        confidence = photometric_confidence(current, previous, target, self.train.confidence_threshold)
        return FlowFrames(current, previous, target, confidence, self.generated["flow"][:, warped].flatten(0, 1),
                          self.generated["mask"][:, warped].flatten(0, 1))

    @cached_property
    def output_frames(self) -> OutputFrames | None:
        """The generated frames the output temporal term compares; None at a clip's lone first frame."""
        generated = self.generated["image"]
        before = [] if self.previous is None else [self.previous[:, None]]
        previous = torch.cat([*before, generated[:, :-1].detach()], dim=1)
        first = generated.shape[1] - previous.shape[1]  # 1 when the chunk starts the clip, else 0
        if previous.shape[1] == 0:
            return None
        positions = list(range(self.begin + first, self.begin + generated.shape[1]))
        flow = self.flows[:, positions].flatten(0, 1)
        confidence = photometric_confidence(self.clip[:, positions].flatten(0, 1),
                                            self.clip[:, [position - 1 for position in positions]].flatten(0, 1),
                                            flow, self.train.confidence_threshold)
        return OutputFrames(generated[:, first:].flatten(0, 1), previous.flatten(0, 1), flow, confidence)


@dataclass(frozen=True)
class LossTerm:
    """One registered loss.

    network: "G" or "D", the network whose optimizer the term's gradient drives and whose total it joins.
    name: logged as "NETWORK/NAME"; a function that returns a list (one value per temporal scale)
        is logged as NAME0, NAME1, ... (None items skipped).
    function: LossContext -> scalar tensor, a list of them, or None (the term does not apply).
    weight: a TrainConfig field (saved with the model) or a fixed number; it scales the logged value.
    share: the fraction of the logged value that enters the total (the image discriminator's real and
        fake halves are logged whole and averaged in the total).
    opt_in: computed only when the weight is above 0 (terms that are off by default or costly), where
        other terms are always computed, so every parameter they reach is used in every step.
    """

    network: str
    name: str
    function: Callable[[LossContext], TermValue]
    weight: str | float = 1.0
    share: float = 1.0
    opt_in: bool = False

    def weight_in(self, train: TrainConfig) -> float:
        return float(getattr(train, self.weight)) if isinstance(self.weight, str) else float(self.weight)


LOSS_TERMS: list[LossTerm] = []


def loss_term(network: str, name: str, weight: str | float = 1.0, *, share: float = 1.0,
              opt_in: bool = False) -> Callable[[Callable[[LossContext], TermValue]], Callable]:
    """Decorator: register the function as the loss term NETWORK/NAME (see LossTerm); returns it unchanged.

    A wrong network, a weight that names no TrainConfig field, or a name already registered for the
    network fails here, when the term is defined, rather than in the middle of a run.
    """
    if network not in NETWORKS:
        raise ValueError(f"loss term {name!r}: network {network!r} is not one of {', '.join(NETWORKS)}")
    if isinstance(weight, str) and weight not in {item.name for item in dataclasses.fields(TrainConfig)}:
        raise ValueError(f"loss term {network}/{name}: weight {weight!r} is not a TrainConfig field")

    def register(function: Callable[[LossContext], TermValue]) -> Callable[[LossContext], TermValue]:
        if any(term.network == network and term.name == name for term in LOSS_TERMS):
            raise ValueError(f"loss term {network}/{name} is already registered")
        LOSS_TERMS.append(LossTerm(network, name, function, weight, share, opt_in))
        return function

    return register


def apply_terms(network: str, context: LossContext) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Evaluate `network`'s terms: (log key -> weighted value, the network's total to back-propagate)."""
    values: dict[str, torch.Tensor] = {}
    shares: list[float] = []
    for term in (term for term in LOSS_TERMS if term.network == network):
        weight = term.weight_in(context.train)
        if term.opt_in and weight <= 0:
            continue
        result = term.function(context)
        items = enumerate(result) if isinstance(result, list) else [("", result)]
        for suffix, value in items:
            if value is not None:
                values[f"{network}/{term.name}{suffix}"] = weight * value
                shares.append(term.share)
    if not values:
        raise RuntimeError(f"no loss term applies to {network}: nothing to train it with")
    return values, sum(share * value for share, value in zip(shares, values.values(), strict=True))


# --- vid2vid's terms (paper sec. 3.2-3.3); the pure loss functions are in models/losses.py ---


@loss_term("D", "real", share=0.5)
def discriminator_real(context: LossContext) -> torch.Tensor:
    return gan_loss(context.image.real, True, context.train.gan_mode)


@loss_term("D", "fake", share=0.5)
def discriminator_fake(context: LossContext) -> torch.Tensor:
    return gan_loss(context.image.fake, False, context.train.gan_mode)


@loss_term("D", "raw", weight="lambda_raw", share=0.5)
def discriminator_raw(context: LossContext) -> torch.Tensor | None:
    """The image D on real pairs against the raw hallucinations (which the flow path blends away)."""
    if context.image.raw is None:
        return None
    mode = context.train.gan_mode
    return gan_loss(context.image.real, True, mode) + gan_loss(context.image.raw, False, mode)


@loss_term("D", "temporal", weight="lambda_temporal")
def discriminator_temporal(context: LossContext) -> list[torch.Tensor | None]:
    mode = context.train.gan_mode
    return [None if judged is None else 0.5 * (gan_loss(judged.real, True, mode) + gan_loss(judged.fake, False, mode))
            for judged in context.temporal]


@loss_term("G", "gan")
def generator_gan(context: LossContext) -> torch.Tensor:
    return gan_loss(context.image.fake, True, context.train.gan_mode, for_discriminator=False)


@loss_term("G", "feat", weight="lambda_feat")
def generator_feature_matching(context: LossContext) -> torch.Tensor:
    return feature_matching(context.image.fake, context.image.real)


@loss_term("G", "raw", weight="lambda_raw")
def generator_raw(context: LossContext) -> torch.Tensor | None:
    """The raw hallucination judged as the output is (GAN, feature matching, perceptual): it must look
    real by itself, where the warp cannot help (new content, and any frame once the warp drifts)."""
    if context.image.raw is None:
        return None
    train = context.train
    total = gan_loss(context.image.raw, True, train.gan_mode, for_discriminator=False) \
        + train.lambda_feat * feature_matching(context.image.raw, context.image.real)
    if context.perceptual is not None and train.lambda_vgg > 0:
        total = total + train.lambda_vgg * context.perceptual(context.generated["hallucinated"].flatten(0, 1),
                                                              context.real.flatten(0, 1))
    return total


@loss_term("G", "temporal", weight="lambda_temporal")
def generator_temporal(context: LossContext) -> list[torch.Tensor | None]:
    """Adversarial + feature matching (weighed as the image one's) against each temporal discriminator."""
    train = context.train
    return [None if judged is None else gan_loss(judged.fake, True, train.gan_mode, for_discriminator=False)
            + train.lambda_feat * feature_matching(judged.fake, judged.real) for judged in context.temporal]


@loss_term("G", "vgg", weight="lambda_vgg", opt_in=True)
def generator_perceptual(context: LossContext) -> torch.Tensor | None:
    if context.perceptual is None:
        return None
    return context.perceptual(context.generated["image"].flatten(0, 1), context.real.flatten(0, 1))


@loss_term("G", "l1", weight="lambda_l1", opt_in=True)
def generator_l1(context: LossContext) -> torch.Tensor:
    return F.l1_loss(context.generated["image"].float(), context.real.float())


@loss_term("G", "flow", weight="lambda_flow")
def generator_flow(context: LossContext) -> torch.Tensor | None:
    """The predicted flow against the ground truth, where it is trusted."""
    frames = context.flow_frames
    return None if frames is None else flow_loss(frames.flow, frames.target, frames.confidence)


@loss_term("G", "warp", weight="lambda_warp")
def generator_warp(context: LossContext) -> torch.Tensor | None:
    """The real previous frame warped by the predicted flow against the real frame, where trusted."""
    frames = context.flow_frames
    return None if frames is None else warp_loss(frames.previous, frames.flow, frames.current, frames.confidence)


@loss_term("G", "mask", weight="lambda_mask")
def generator_mask(context: LossContext) -> torch.Tensor | None:
    """The occlusion mask pushed to copy the warp where the ground-truth flow is trusted, to hallucinate
    where it is not."""
    frames = context.flow_frames
    return None if frames is None else mask_loss(frames.mask, frames.confidence)


@loss_term("G", "output_warp", weight="lambda_output_warp")
def generator_output_warp(context: LossContext) -> torch.Tensor | None:
    """Each generated frame against the generated frame before it warped by the real flow, where trusted."""
    frames = context.output_frames
    return None if frames is None else output_warp_loss(frames.current, frames.previous, frames.flow,
                                                        frames.confidence)


# --- the face (Everybody Dance Now's face GAN; the face refiner is v2vcli.models.face) ---


@loss_term("D", "face", weight="lambda_face_gan")
def discriminator_face(context: LossContext) -> torch.Tensor | None:
    """The face D on real face boxes against generated ones."""
    if context.face is None:
        return None
    mode = context.train.gan_mode
    return 0.5 * (gan_loss(context.face.real, True, mode) + gan_loss(context.face.fake, False, mode))


@loss_term("G", "face_gan", weight="lambda_face_gan")
def generator_face_gan(context: LossContext) -> torch.Tensor | None:
    """Adversarial + feature matching (weighed as the image one's) against the face D."""
    if context.face is None:
        return None
    train = context.train
    return gan_loss(context.face.fake, True, train.gan_mode, for_discriminator=False) \
        + train.lambda_feat * feature_matching(context.face.fake, context.face.real)


@loss_term("G", "face", weight="lambda_face")
def generator_face(context: LossContext) -> torch.Tensor | None:
    """The generated face box against the real one: L1, plus the perceptual loss where VGG weights are."""
    faces = context.faces
    if faces is None:
        return None
    total = F.l1_loss(faces.fake.float(), faces.real.float())
    if context.perceptual is not None:
        total = total + context.perceptual(faces.fake, faces.real)
    return total
