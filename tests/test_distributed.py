"""Several processes: torchrun on the CPU (gloo) trains, shards the samples, and only rank 0 writes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.devices import autocast_dtype, resolve_device
from v2vcli.training.distributed import Context, unwrap
from v2vcli.training.logs import read_log
from v2vcli.training.trainer import SampleNumbers


def test_each_process_draws_its_own_samples():
    def first(rank: int, count: int = 6) -> list[int]:
        numbers = iter(SampleNumbers(first_step=3, batch_size=2, context=Context(rank=rank, world_size=2)))
        return [next(numbers) for _ in range(count)]

    assert first(0) == [12, 13, 16, 17, 20, 21] and first(1) == [14, 15, 18, 19, 22, 23]
    alone = iter(SampleNumbers(first_step=3, batch_size=4, context=Context()))
    assert [next(alone) for _ in range(4)] == [12, 13, 14, 15]  # one process with the same batch sees the same


def test_device_names():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_mixed_precision_only_on_cuda_and_only_when_asked():
    import torch

    assert autocast_dtype(torch.device("cpu")) is None
    assert autocast_dtype(torch.device("cuda"), enabled=False) is None
    if torch.cuda.is_available():
        assert autocast_dtype(torch.device("cuda")) in (torch.bfloat16, torch.float16)


def test_unwrap_finds_the_network_inside_its_wrappers():
    import torch

    network = torch.nn.Linear(2, 2)
    wrapped = torch.nn.Module()
    wrapped.module = network  # how DistributedDataParallel holds it
    assert unwrap(network) is network and unwrap(wrapped) is network


def test_torchrun_with_two_cpu_processes_trains_and_writes_one_checkpoint(tmp_path):
    dataset = write_shapes_dataset(tmp_path / "data", sequences=2, frames=6, size=(32, 32))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "v2vcli", "train", str(dataset), "--name", "ddp", "--steps", "2", "--device", "cpu",
               "--output-dir", str(tmp_path / "weights"), "--sample-every", "0", "--json"]
    result = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "weights" / "ddp"
    assert [path.name for path in run.glob("checkpoint-*")] == ["checkpoint-0000002"]
    records = read_log(run / "log.jsonl")
    assert [record["step"] for record in records if "event" not in record] == [1, 2]
    assert [record["resumed_from"] for record in records if record.get("event") == "start"] == [None]
    assert any("x 2 processes" in record.get("text", "") for record in records)
    assert result.stdout.count('"checkpoint"') == 1  # one summary: only rank 0 reports
    assert "find_unused_parameters" not in result.stderr


@pytest.mark.gpu
def test_cuda_training_step_runs_with_autocast(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from v2vcli.config import RunSettings, preset
    from v2vcli.training import train

    config = preset("tiny")
    config.train.steps = 3
    dataset = write_shapes_dataset(tmp_path / "data", frames=6, size=(64, 64))
    result = train(config, RunSettings(name="gpu", output_dir=str(tmp_path), dataset=str(dataset), device="cuda",
                                       quiet=True))
    assert result.step == 3 and all(value == value for value in result.losses.values())  # no NaN
