"""Training data: the dataset folder layouts, their validation, and clip sampling with augmentation.

Importing the package is cheap: the dataset classes (which need torch) load when first used, so
`v2vcli.data.prepare` and `v2vcli.data.layout` work without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it, imported on first use (PEP 562).
_EXPORTS = {
    "ClipDataset": "v2vcli.data.dataset",
    "choose_size": "v2vcli.data.dataset",
    "DatasetInfo": "v2vcli.data.layout",
    "SequenceFiles": "v2vcli.data.layout",
    "open_dataset": "v2vcli.data.layout",
}

__all__ = ["ClipDataset", "DatasetInfo", "SequenceFiles", "choose_size", "open_dataset"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
