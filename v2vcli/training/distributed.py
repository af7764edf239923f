"""Devices and multi-process training: `torchrun --nproc_per_node=N -m v2vcli train ...`.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; with WORLD_SIZE > 1 each process joins the group (NCCL
on CUDA, gloo on the CPU), takes its own GPU (cuda:LOCAL_RANK), draws its own share of the samples
(see ClipDataset: sample numbers are interleaved by rank), and only rank 0 writes files or prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from v2vcli.devices import resolve_device


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_request: str) -> Context:
    """Join the process group when launched by torchrun with several processes; pick the device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_request, local_rank)
    if world_size > 1 and device.type == "cuda" and device_request.lower() not in ("auto", "cuda"):
        # an explicit cuda:N would put every process on one GPU
        device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world_size, local_rank, device)


def cleanup(context: Context) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def wrap(module: torch.nn.Module, context: Context, find_unused: bool = True) -> torch.nn.Module:
    """DistributedDataParallel when there are several processes, else the module itself.

    find_unused: some steps leave parameters unused (a coarse-only stage leaves the finer scale idle,
    a short clip the longer temporal discriminators, a chunk of start frames the flow path); DDP must
    then look for them, an extra graph traversal it warns about when they never occur.
    """
    if not context.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=find_unused)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DistributedDataParallel and/or torch.compile wrapper (itself when bare): the
    one to freeze, call without gradient synchronisation, or save with plain parameter names."""
    module = getattr(module, "module", module)
    return getattr(module, "_orig_mod", module)


def mean_across(values: dict[str, float], context: Context) -> dict[str, float]:
    """Average logged scalars over processes so rank 0's log speaks for the whole run."""
    if not context.distributed or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[key] for key in keys], dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return {key: float(value) / context.world_size for key, value in zip(keys, tensor.tolist(), strict=True)}
