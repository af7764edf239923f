"""Condition maps as the networks see them, one encoding for training and generation alike.

Each condition type (v2vcli.conditions) encodes its own maps; for the built-in ones:
pose, face: an RGB rendering (H, W, 3) uint8  ->  (3, H, W) float in [-1, 1]
edges:      edge map (H, W) uint8, 255 on edges ->  (1, H, W) float in [-1, 1]
segment:    class ids (H, W) uint8             ->  (num_classes, H, W) one-hot {0, 1}
"""

from __future__ import annotations

import numpy as np
import torch

from v2vcli.conditions import condition_named


def encode_conditions(maps: np.ndarray, condition: str, num_classes: int) -> torch.Tensor:
    """Stacked condition maps (T, H, W[, 3]) uint8 of the condition type `condition` -> (T, C, H, W) float;
    BadInput for an unknown type or maps of the wrong shape."""
    return condition_named(condition).encode(maps, num_classes)
