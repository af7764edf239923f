"""The face boxes a chunk's face terms judge (v2vcli.training.terms: "face", "face_gan").

The generator's face refiner (v2vcli.models.face) returns the box it refined in every frame; the real
frame and the condition map are cut at that same box, so the face discriminator compares like with like
and the face L1 / perceptual term measures the refined pixels against the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from v2vcli.models.face import found_crops


@dataclass
class FaceBoxes:
    """The face boxes of a chunk's frames where a face was found, flattened over batch and time (N):
    labels (N, C, s, s) condition maps, real and fake (N, 3, s, s) frames, all in [-1, 1]."""

    labels: torch.Tensor
    real: torch.Tensor
    fake: torch.Tensor

    def discriminator_input(self) -> torch.Tensor:
        """(2N, C+3, s, s): (labels, real) boxes, then (labels, fake) boxes, as the face D takes them."""
        return torch.cat((torch.cat((self.labels, self.real), dim=1), torch.cat((self.labels, self.fake), dim=1)))


def face_boxes(labels: torch.Tensor, real: torch.Tensor, fake: torch.Tensor,
               boxes: torch.Tensor | None) -> FaceBoxes | None:
    """labels (B, T, C, H, W), real and fake (B, T, 3, H, W) and the generator's face_box (B, T, 3) ->
    their boxes where a face was found; None without a face refiner (boxes None) or a face in the chunk."""
    if boxes is None:
        return None
    cut = [found_crops(frames, boxes) for frames in (labels, real, fake)]
    return None if cut[0] is None else FaceBoxes(*cut)
