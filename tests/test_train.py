"""Training runs end to end: a tiny model learns a tiny clip; the run folder holds what the docs promise."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from v2vcli.cli.app import app
from v2vcli.config import preset
from v2vcli.data import ClipDataset, open_dataset
from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.errors import BadInput, OutputExists
from v2vcli.models import Generator
from v2vcli.training import load_generator, train
from v2vcli.training.logs import read_log
from v2vcli.training.schedule import build_schedule

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_shapes_dataset(tmp_path_factory.mktemp("train") / "data", sequences=1, frames=6, size=(32, 32))


def tiny(dataset, output, **train):
    config = preset("tiny")
    config.data.root = str(dataset)
    config.data.scale_jitter = 0.0
    config.train.output_dir = str(output)
    config.train.name = "clip"
    config.train.quiet = True
    config.train.sample_every = 0
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


def reconstruction_error(generator, dataset) -> float:
    info = open_dataset(dataset)
    sample = ClipDataset(info, preset("tiny").data, (32, 32), 0, lambda index: 6).load(info.sequences[0], 0, 6)
    with torch.no_grad():
        fake = generator(sample["labels"][None])["image"][0]
    return float((fake - sample["images"]).abs().mean())


def test_tiny_model_overfits_a_tiny_clip(dataset, tmp_path):
    config = tiny(dataset, tmp_path, steps=40)
    torch.manual_seed(config.train.seed)
    config.model.label_channels = 3
    before = reconstruction_error(Generator(config.model).eval(), dataset)
    generator, _ = load_generator(train(config))
    after = reconstruction_error(generator, dataset)
    assert after <= 0.5 * before, (before, after)


def test_a_run_folder_holds_checkpoint_log_samples_and_rebuilds_alone(dataset, tmp_path):
    run = train(tiny(dataset, tmp_path, steps=3, save_every=2))
    assert sorted(path.name for path in run.glob("checkpoint-*")) == ["checkpoint-0000002", "checkpoint-0000003"]
    files = sorted(path.name for path in (run / "checkpoint-0000003").iterdir())
    assert files == ["config.json", "discriminators.safetensors", "generator.safetensors", "state.json",
                     "training.safetensors"]  # no pickle anywhere
    records = read_log(run / "log.jsonl")
    steps = [record for record in records if "step" in record and "event" not in record]
    assert [record["step"] for record in steps] == [1, 2, 3]
    assert all(key in steps[0] for key in ("G/gan", "G/feat", "G/flow", "G/warp", "G/mask", "D/real", "D/temporal0"))
    assert any(record.get("event") == "start" and record["schedule"] for record in records)
    assert {path.suffix for path in (run / "samples").iterdir()} == {".png", ".mp4"}
    # the generator file alone rebuilds the model, with its config
    generator, config = load_generator(run / "checkpoint-0000003" / "generator.safetensors")
    same, _ = load_generator(run)
    assert config.preset == "tiny" and config.data.size == [32, 32]
    # what the model expects to be fed is in the file too
    assert (config.data.condition, config.data.num_classes, config.data.fps) == ("segment", 3, 12.0)
    for (name, a), (_, b) in zip(generator.state_dict().items(), same.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_progressive_schedule_grows_clips_then_adds_the_finer_scale(dataset, tmp_path):
    config = tiny(dataset, tmp_path, steps=4, n_frames_start=3, n_frames_max=6)
    config.model.n_scales_spatial = 2
    phases = build_schedule(config.model, config.train, (32, 32), 8)
    assert [(phase.n_scales, phase.size, phase.n_frames) for phase in phases] == [
        (1, (16, 16), 3), (1, (16, 16), 6), (2, (32, 32), 3), (2, (32, 32), 6)]
    assert [phase.end for phase in phases] == [2, 4, 6, 8]
    run = train(config)
    steps = [record for record in read_log(run / "log.jsonl") if "step" in record and "event" not in record]
    assert [(record["size"], record["frames"]) for record in steps] == [
        ([16, 16], 3), ([16, 16], 6), ([32, 32], 3), ([32, 32], 6)]


def test_frame_by_frame_ablation_and_foreground_separation_train(dataset, tmp_path):
    config = tiny(dataset, tmp_path, steps=1, name="noflow")
    config.model.use_flow = False
    records = read_log(train(config) / "log.jsonl")
    assert "G/flow" not in records[-3] and "G/gan" in [r for r in records if r.get("step") == 1][0]
    config = tiny(dataset, tmp_path, steps=1, name="fg")
    config.model.fg_separation = True
    generator, saved = load_generator(train(config))
    assert saved.model.fg_separation and generator.scales[0].image_head.out_channels == 6


def test_an_existing_run_is_kept_unless_resumed_or_overwritten(dataset, tmp_path):
    train(tiny(dataset, tmp_path, steps=1))
    with pytest.raises(OutputExists, match="--resume"):
        train(tiny(dataset, tmp_path, steps=1))
    run = train(tiny(dataset, tmp_path, steps=1, overwrite=True, seed=3))
    assert json.loads((run / "config.json").read_text())["train"]["seed"] == 3


def test_bad_settings_are_one_line_errors(dataset, tmp_path):
    with pytest.raises(BadInput, match="multiples of 4"):
        config = tiny(dataset, tmp_path, steps=1)
        config.data.size = [30, 30]
        train(config)
    with pytest.raises(BadInput, match="--device"):
        train(tiny(dataset, tmp_path, steps=1, device="tpu"))
    with pytest.raises(BadInput, match="unknown preset 'huge'"):
        preset("huge")


def test_cli_trains_and_reports_json(dataset, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(dataset), "--name", "cli", "--steps", "2", "--device", "cpu",
                                 "--output-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["step"] == 2 and "G/total" in summary["losses"]
    result = runner.invoke(app, ["train", str(tmp_path / "nothing"), "--name", "x", "--output-dir", str(tmp_path)])
    assert result.exit_code == 1 and "error:" in result.output and "dataset folder not found" in result.output
