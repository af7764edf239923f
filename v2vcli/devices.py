"""Choosing the torch device every command's --device option names, and the precision to run on it."""

from __future__ import annotations

import torch

from v2vcli.errors import BadInput


def resolve_device(request: str, local_rank: int = 0) -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> a device that exists; BadInput otherwise."""
    request = (request or "auto").lower()
    if request == "auto":
        request = "cuda" if torch.cuda.is_available() else "cpu"
    if request == "cpu":
        return torch.device("cpu")
    if request == "cuda" or request.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise BadInput(f"--device {request}: CUDA is not available (torch {torch.__version__}); use --device cpu")
        index = local_rank if request == "cuda" else request.split(":", 1)[1]
        if not str(index).isdigit() or int(index) >= torch.cuda.device_count():
            raise BadInput(f"--device {request}: there are {torch.cuda.device_count()} CUDA devices")
        return torch.device("cuda", int(index))
    raise BadInput(f"--device {request!r}: expected auto, cpu, cuda or cuda:N")


def autocast_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """The mixed-precision dtype for `device`: bfloat16 on CUDA GPUs that support it (float32's range,
    no loss scaling needed), float16 on older ones; None (full float32) on the CPU or when not enabled."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
