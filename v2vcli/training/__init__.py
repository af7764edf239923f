"""Training: the trainer (D step, G step), progressive schedule, checkpoints, DDP helpers, run logs."""

from v2vcli.training.checkpoint import latest_checkpoint, load_checkpoint, load_generator
from v2vcli.training.trainer import train

__all__ = ["latest_checkpoint", "load_checkpoint", "load_generator", "train"]
