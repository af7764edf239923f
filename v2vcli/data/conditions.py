"""Condition maps as the networks see them, one encoding for training and generation alike.

pose:    an RGB pose rendering (H, W, 3) uint8  ->  (3, H, W) float in [-1, 1]
segment: class ids (H, W) uint8                 ->  (num_classes, H, W) one-hot {0, 1}
"""

from __future__ import annotations

import numpy as np
import torch

from v2vcli.errors import BadInput


def encode_conditions(maps: np.ndarray, condition: str, num_classes: int) -> torch.Tensor:
    """Stacked condition maps (T, H, W, 3) for pose or (T, H, W) for segment -> (T, C, H, W) float."""
    if condition == "segment":
        if maps.ndim != 3:
            raise BadInput(f"segment condition maps must be class ids (T, H, W), got shape {maps.shape}")
        if maps.size and int(maps.max()) >= num_classes:
            raise BadInput(f"class id {int(maps.max())} is not below the model's {num_classes} classes")
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(np.ascontiguousarray(maps)).long(), num_classes)
        return one_hot.permute(0, 3, 1, 2).float()
    if maps.ndim != 4 or maps.shape[3] != 3:
        raise BadInput(f"pose condition maps must be RGB renderings (T, H, W, 3), got shape {maps.shape}")
    return torch.from_numpy(np.ascontiguousarray(maps)).permute(0, 3, 1, 2).float() / 127.5 - 1
