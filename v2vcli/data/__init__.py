"""Training data: the dataset folder layouts, their validation, and clip sampling with augmentation."""

from v2vcli.data.dataset import ClipDataset, choose_size
from v2vcli.data.layout import DatasetInfo, SequenceFiles, open_dataset

__all__ = ["ClipDataset", "DatasetInfo", "SequenceFiles", "choose_size", "open_dataset"]
