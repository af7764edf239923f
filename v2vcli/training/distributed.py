"""Devices and multi-process training: torchrun on one machine or several, each process one GPU (or CPU).

torchrun sets RANK (0..WORLD_SIZE-1 over all machines), LOCAL_RANK (0..N-1 on this machine) and
WORLD_SIZE; with WORLD_SIZE > 1 each process joins the group (NCCL on CUDA, gloo on the CPU), takes its
machine's GPU number LOCAL_RANK, draws its own share of the samples (ClipDataset's sample numbers are
interleaved by RANK), and only RANK 0 reads the run folder, writes files or prints: the others get the
checkpoint to resume from it, so machines need not share the weights folder as long as rank 0 stays on
one machine (torchrun's static rendezvous, --node-rank). Every process reads the dataset.

A run stops rather than waits when one of its processes is gone: a collective (the gradient all-reduce,
a checkpoint barrier) gives up after V2V_PEER_TIMEOUT seconds, a process whose torchrun agent was killed
stops itself, and the survivors of a lost peer fail with one line naming the checkpoint to resume from.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

from v2vcli import interrupts
from v2vcli.devices import resolve_device
from v2vcli.errors import BadInput, V2VError

T = TypeVar("T")

PEER_TIMEOUT_VARIABLE = "V2V_PEER_TIMEOUT"
# Longer than anything one process does while the others wait for it (rank 0 writing a checkpoint and a
# sample video, a slower first step while torch.compile runs), far shorter than gloo's own 30 minutes.
DEFAULT_PEER_TIMEOUT_SECONDS = 600.0
# How often a process checks that its torchrun agent is still there, and how long it then has to stop
# cleanly (remove a half-written checkpoint) before it is ended outright.
AGENT_POLL_SECONDS = 0.2
AGENT_GONE_GRACE_SECONDS = 20.0
_watched_agent: int | None = None


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


class PeerLost(V2VError):
    """Another process of a multi-process run died or stopped answering; this one cannot go on alone."""


def peer_timeout() -> timedelta:
    """How long a process waits for the others at a collective before failing: $V2V_PEER_TIMEOUT seconds."""
    text = os.environ.get(PEER_TIMEOUT_VARIABLE, "")
    try:
        seconds = float(text) if text else DEFAULT_PEER_TIMEOUT_SECONDS
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise BadInput(f"{PEER_TIMEOUT_VARIABLE}={text!r}: expected a number of seconds above 0")
    return timedelta(seconds=seconds)


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
    if "TORCHELASTIC_RUN_ID" in os.environ:  # started by torchrun
        stop_with_agent()
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=peer_timeout())
    return Context(rank, world_size, local_rank, device)


def cleanup(context: Context) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def from_main(produce: Callable[[], T], context: Context) -> T:
    """`produce()` computed by rank 0 alone and handed to every process, or the error it raised raised
    by every process (another kind of error reaches the others as PeerLost naming it).

    For what reads the run folder (is there a run, which checkpoint to resume): only rank 0's copy of it
    counts, so machines that do not share the folder still agree, and a refusal stops every process at
    once instead of leaving the others waiting for rank 0 at their next collective.
    """
    if not context.distributed:
        return produce()
    outcome: list = [None]
    failure = None
    if context.is_main:
        try:
            outcome = [(produce(), None)]
        except Exception as error:
            failure = error
            shared = error if isinstance(error, V2VError) else PeerLost(f"rank 0 failed: {type(error).__name__}: "
                                                                        f"{first_line(error)}")
            outcome = [(None, shared)]
    dist.broadcast_object_list(outcome, src=0)
    value, error = outcome[0]
    if failure is not None:
        raise failure
    if error is not None:
        raise error
    return value


def lost_peer(error: BaseException, context: Context) -> bool:
    """Whether `error` says another process of the run is gone: a torch.distributed error, or the plain
    RuntimeError gloo raises when a peer's connection breaks or a collective times out."""
    if not context.distributed:
        return False
    return isinstance(error, dist.DistError) or isinstance(error, RuntimeError) and "gloo" in str(error)


def first_line(error: BaseException, limit: int = 160) -> str:
    """The gist of an error for a one-line message: gloo's "[file.cc:537] Read error [addr]:port:
    Connection reset by peer. This is typically caused by..." -> "Read error [addr]:port: Connection reset by peer"."""
    lines = str(error).strip().splitlines()
    text = re.sub(r"^\[[^\]]*\.\w+:\d+\]\s*", "", lines[0]).split(". ")[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def stop_with_agent() -> None:
    """Stop this process when the torchrun agent that started it dies (SIGKILL, out of memory).

    torchrun starts each worker in a session of its own, so killing the agent leaves the worker running:
    it would go on training, and writing checkpoints into the run folder, beside the run that is
    relaunched to replace it. A watcher thread interrupts it instead (SIGINT: a half-written checkpoint is
    removed, the last complete one named), and ends it outright if that does not stop it in time.
    """
    global _watched_agent
    agent = os.getppid()
    if _watched_agent == agent:  # a second run in this process: one watcher is enough
        return
    _watched_agent = agent
    # The watcher's SIGINT must raise KeyboardInterrupt, also in a worker that inherited SIGINT ignored (a
    # torchrun started from a background shell job) and was not started by v2v's command line.
    interrupts.install()

    def watch() -> None:
        while os.getppid() == agent:
            time.sleep(AGENT_POLL_SECONDS)
        print(f"v2v: torchrun (pid {agent}), which started this process, has stopped; stopping too",
              file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(AGENT_GONE_GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="v2v-agent-watch", daemon=True).start()


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
