"""Model files: exact resume (also after SIGKILL), damaged or modified files refused, old checkpoints pruned,
no pickle."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.config import Config, RunSettings, TrainConfig, preset
from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.errors import BadInput, MissingModel
from v2vcli.training import latest_checkpoint, load_checkpoint, load_generator, train
from v2vcli.training.checkpoint import (
    CHECKSUM_KEY,
    TENSOR_FILES,
    load_tensor_file,
    save_tensor_file,
    sha256,
    tensors_sha256,
)
from v2vcli.training.logs import read_log

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
HYPERPARAMETERS = {item.name for item in dataclasses.fields(TrainConfig)}

pytestmark = pytest.mark.usefixtures("one_thread", "offline")


@pytest.fixture
def offline(monkeypatch):
    """No run reaches for the network (the VGG19 file): they train without the perceptual loss."""
    monkeypatch.setenv("V2V_OFFLINE", "1")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_shapes_dataset(tmp_path_factory.mktemp("ckpt") / "data", sequences=2, frames=6, size=(32, 32))


def tiny(dataset, output, name="run", **settings) -> tuple[Config, RunSettings]:
    """The tiny preset and run settings for run `name` under `output`; keywords set either."""
    config = preset("tiny")
    config.train = dataclasses.replace(config.train, n_frames_max=5,
                                       **{key: value for key, value in settings.items() if key in HYPERPARAMETERS})
    run = RunSettings(name=name, output_dir=str(output), dataset=str(dataset), quiet=True, sample_every=0)
    return config, dataclasses.replace(run, **{key: value for key, value in settings.items()
                                               if key not in HYPERPARAMETERS})


def trained(dataset, output, name="run", **settings) -> Path:
    """The run folder of a tiny training run."""
    return train(*tiny(dataset, output, name, **settings)).model


def assert_same_checkpoint(first, second):
    a, b = load_checkpoint(first), load_checkpoint(second)
    assert a.step == b.step
    for part in ("generator", "discriminators", "training"):
        left, right = getattr(a, part), getattr(b, part)
        assert left.keys() == right.keys()
        for key in left:
            assert torch.allclose(left[key].float(), right[key].float(), atol=1e-6), (part, key)
    assert a.state["optimizers"] == b.state["optimizers"]


@pytest.mark.slow
def test_resuming_gives_the_same_weights_as_training_straight(dataset, tmp_path):
    straight = trained(dataset, tmp_path, "straight", steps=4)
    stopped = trained(dataset, tmp_path, "resumed", steps=4, stop_after=2)
    assert latest_checkpoint(stopped).name == "checkpoint-0000002"
    resumed = trained(dataset, tmp_path, "resumed", steps=4, resume=True)
    assert_same_checkpoint(latest_checkpoint(straight), latest_checkpoint(resumed))
    events = [record for record in read_log(resumed / "log.jsonl") if record.get("event") == "start"]
    assert [event["resumed_from"] for event in events] == [None, 2]


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_exactly(dataset, tmp_path):
    command = [sys.executable, "-m", "v2vcli", "train", str(dataset), "--name", "killed", "--steps", "6",
               "--device", "cpu", "--output-dir", str(tmp_path), "--save-every", "1", "--sample-every", "0",
               "--quiet"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run = tmp_path / "killed"
    deadline = time.time() + 120
    while latest_checkpoint(run) is None and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = load_checkpoint(latest_checkpoint(run)).step
    assert 1 <= killed_at < 6, "the run finished before it could be killed"
    subprocess.run([*command, "--resume"], env=environment, check=True, capture_output=True)
    straight = subprocess.run([*command[:6], "straight", *command[7:]], env=environment, capture_output=True)
    assert straight.returncode == 0, straight.stderr
    assert_same_checkpoint(latest_checkpoint(tmp_path / "straight"), latest_checkpoint(run))


def test_damaged_checkpoints_are_refused_naming_the_file(dataset, tmp_path):
    run = trained(dataset, tmp_path, steps=2, save_every=1, keep_last=2)
    checkpoint = latest_checkpoint(run)
    weights = checkpoint / "generator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BadInput, match="generator.safetensors: contents do not match the checkpoint's SHA-256"):
        load_generator(run)
    with pytest.raises(BadInput, match="SHA-256"):
        trained(dataset, tmp_path, steps=3, resume=True)
    weights.write_bytes(bytes(data[:100]))
    with pytest.raises(BadInput, match="truncated"):
        load_checkpoint(checkpoint)
    with pytest.raises(BadInput, match="not a readable safetensors file"):
        load_generator(weights)
    (checkpoint / "state.json").write_text("{not json")
    with pytest.raises(BadInput, match="state.json: damaged"):
        load_checkpoint(checkpoint)
    (checkpoint / "state.json").unlink()  # now incomplete: the older checkpoint is the newest complete one
    assert latest_checkpoint(run).name == "checkpoint-0000001"
    generator, _ = load_generator(run)
    assert generator is not None


def test_only_the_newest_checkpoints_are_kept_and_partial_ones_ignored(dataset, tmp_path):
    run = trained(dataset, tmp_path, steps=4, save_every=1, keep_last=2)
    assert sorted(path.name for path in run.glob("checkpoint-*")) == ["checkpoint-0000003", "checkpoint-0000004"]
    partial = run / ".checkpoint-0000009.partial-1234abcd"
    partial.mkdir()
    assert latest_checkpoint(run).name == "checkpoint-0000004"
    trained(dataset, tmp_path, steps=5, resume=True)
    assert not partial.exists() and latest_checkpoint(run).name == "checkpoint-0000005"


def test_load_generator_refuses_what_is_not_a_model(tmp_path):
    with pytest.raises(MissingModel, match="no trained model"):
        load_generator(tmp_path)
    with pytest.raises(MissingModel, match="no such model"):
        load_generator(tmp_path / "missing")
    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(BadInput, match="not a v2v generator"):
        load_generator(tmp_path / "other.safetensors")


def test_weights_that_do_not_fit_their_config_are_refused(dataset, tmp_path):
    run = trained(dataset, tmp_path, steps=1)
    weights = latest_checkpoint(run) / "generator.safetensors"
    tensors, metadata = load_tensor_file(weights)
    tensors.pop(next(iter(tensors)))
    save_tensor_file(tensors, tmp_path / "cut.safetensors", metadata)  # an intact file of the wrong tensors
    with pytest.raises(BadInput, match="do not fit the generator"):
        load_generator(tmp_path / "cut.safetensors")


def flip_tensor_bytes(path, count=10):
    """Invert `count` bytes in the middle of a safetensors file's tensor data (after its JSON header)."""
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    middle = (start + len(data)) // 2
    for offset in range(middle, middle + count):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def assert_refused_in_one_line(result, name):
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert name in lines[0] and "model file damaged or modified" in lines[0]
    assert "Traceback" not in result.output


def test_a_lone_generator_file_with_changed_bytes_is_refused(tmp_path, example_source):
    demo = tmp_path / "demo.safetensors"
    shutil.copyfile(WEIGHTS / "demo" / "generator.safetensors", demo)
    load_generator(demo)  # intact: loads, checksum verified
    flip_tensor_bytes(demo)
    output = tmp_path / "dance.mp4"
    result = CliRunner().invoke(app, ["dance", "--source", str(example_source), "--target", str(demo),
                                      "-o", str(output), "-q"])
    assert_refused_in_one_line(result, "demo.safetensors")
    assert not output.exists()


@pytest.mark.parametrize("name", TENSOR_FILES)
def test_checkpoint_files_changed_along_with_state_json_are_refused(dataset, tmp_path, name, example_source):
    """Someone rewrote state.json to match the changed file: the checksum inside the file still tells."""
    run = trained(dataset, tmp_path, steps=1)
    checkpoint = latest_checkpoint(run)
    flip_tensor_bytes(checkpoint / name)
    state = json.loads((checkpoint / "state.json").read_text())
    state["files"][name] = {"bytes": (checkpoint / name).stat().st_size, "sha256": sha256(checkpoint / name)}
    (checkpoint / "state.json").write_text(json.dumps(state))
    with pytest.raises(BadInput, match=f"{name}: model file damaged or modified"):
        load_checkpoint(checkpoint)
    if name == "generator.safetensors":
        result = CliRunner().invoke(app, ["dance", "--source", str(example_source), "--target", str(run),
                                          "-o", str(tmp_path / "out.mp4"), "-q"])
        assert_refused_in_one_line(result, "generator.safetensors")


def test_model_files_written_before_checksums_still_load(dataset, tmp_path):
    run = trained(dataset, tmp_path, steps=1)
    weights = latest_checkpoint(run) / "generator.safetensors"
    tensors, metadata = load_tensor_file(weights)
    assert metadata[CHECKSUM_KEY] == tensors_sha256(tensors)
    del metadata[CHECKSUM_KEY]
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata=metadata)
    generator, _ = load_generator(tmp_path / "old.safetensors")
    assert all(torch.equal(generator.state_dict()[key], tensors[key]) for key in tensors)
