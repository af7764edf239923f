"""Training runs end to end: a tiny model learns a tiny clip; the run folder holds what the docs promise."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from v2vcli.cli.app import app
from v2vcli.config import CONFIG_VERSION, DEFAULT_SAVE_EVERY, Config, RunSettings, TrainConfig, preset
from v2vcli.data import ClipDataset, open_dataset
from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.errors import BadInput, OutputExists
from v2vcli.models import Generator
from v2vcli.training import latest_checkpoint, load_checkpoint, load_generator, train
from v2vcli.training.logs import read_log
from v2vcli.training.schedule import build_schedule

pytestmark = pytest.mark.usefixtures("one_thread", "offline")


@pytest.fixture
def offline(monkeypatch):
    """No run reaches for the network (the VGG19 file): they train without the perceptual loss."""
    monkeypatch.setenv("V2V_OFFLINE", "1")

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
HYPERPARAMETERS = {item.name for item in dataclasses.fields(TrainConfig)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_shapes_dataset(tmp_path_factory.mktemp("train") / "data", sequences=1, frames=6, size=(32, 32))


def tiny(dataset, output, **settings) -> tuple[Config, RunSettings]:
    """The tiny preset and run settings for `dataset`, run "clip" under `output`; keywords set either."""
    config = preset("tiny")
    config.data.scale_jitter = 0.0
    config.train = dataclasses.replace(config.train, **{k: v for k, v in settings.items() if k in HYPERPARAMETERS})
    run = RunSettings(name="clip", output_dir=str(output), dataset=str(dataset), quiet=True, sample_every=0)
    return config, dataclasses.replace(run, **{k: v for k, v in settings.items() if k not in HYPERPARAMETERS})


def reconstruction_error(generator, dataset) -> float:
    info = open_dataset(dataset)
    sample = ClipDataset(info, preset("tiny").data, (32, 32), 0, lambda index: 6).load(info.sequences[0], 0, 6)
    with torch.no_grad():
        fake = generator(sample["labels"][None])["image"][0]
    return float((fake - sample["images"]).abs().mean())


@pytest.mark.slow
def test_tiny_model_overfits_a_tiny_clip(dataset, tmp_path):
    config, run = tiny(dataset, tmp_path, steps=40)
    torch.manual_seed(config.train.seed)
    config.model.label_channels = 3
    before = reconstruction_error(Generator(config.model).eval(), dataset)
    generator, _ = load_generator(train(config, run).model)
    after = reconstruction_error(generator, dataset)
    assert after <= 0.5 * before, (before, after)


def test_a_run_folder_holds_checkpoint_log_samples_and_rebuilds_alone(dataset, tmp_path):
    run = train(*tiny(dataset, tmp_path, steps=3, save_every=2)).model
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
    config, run = tiny(dataset, tmp_path, steps=4, n_frames_start=3, n_frames_max=6)
    config.model.n_scales_spatial = 2
    phases = build_schedule(config.model, config.train, (32, 32), 8)
    # the first quarter of the stage that adds the finer scale trains it alone (the coarser one held)
    assert [(phase.n_scales, phase.size, phase.n_frames, phase.frozen_scales) for phase in phases] == [
        (1, (16, 16), 3, 0), (1, (16, 16), 6, 0), (2, (32, 32), 3, 1), (2, (32, 32), 3, 0), (2, (32, 32), 6, 0)]
    assert [phase.end for phase in phases] == [2, 4, 5, 6, 8]
    records = read_log(train(config, run).model / "log.jsonl")
    steps = [record for record in records if "step" in record and "event" not in record]
    assert [(record["size"], record["frames"]) for record in steps] == [
        ([16, 16], 3), ([16, 16], 6), ([32, 32], 3), ([32, 32], 6)]


def test_frame_by_frame_ablation_and_foreground_separation_train(dataset, tmp_path):
    config, run = tiny(dataset, tmp_path, steps=1, name="noflow")
    config.model.use_flow = False
    records = read_log(train(config, run).model / "log.jsonl")
    assert "G/flow" not in records[-3] and "G/gan" in [r for r in records if r.get("step") == 1][0]
    config, run = tiny(dataset, tmp_path, steps=1, name="fg")
    config.model.fg_separation, config.model.fg_classes = True, [1, 2]
    generator, saved = load_generator(train(config, run).model)
    assert saved.model.fg_separation and generator.scales[0].foreground_head.out_channels == 3


def test_an_existing_run_is_kept_unless_resumed_or_overwritten(dataset, tmp_path):
    train(*tiny(dataset, tmp_path, steps=1))
    with pytest.raises(OutputExists, match="--resume"):
        train(*tiny(dataset, tmp_path, steps=1))
    run = train(*tiny(dataset, tmp_path, steps=1, overwrite=True, seed=3)).model
    assert json.loads((run / "config.json").read_text())["train"]["seed"] == 3


def test_bad_settings_are_one_line_errors(dataset, tmp_path):
    with pytest.raises(BadInput, match="multiples of 4"):
        config, run = tiny(dataset, tmp_path, steps=1)
        config.data.size = [30, 30]
        train(config, run)
    with pytest.raises(BadInput, match="--device"):
        train(*tiny(dataset, tmp_path, steps=1, device="tpu"))
    with pytest.raises(BadInput, match="unknown preset 'huge'"):
        preset("huge")


def test_cli_trains_and_reports_json(dataset, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(dataset), "--name", "cli", "--steps", "2", "--device", "cpu",
                                 "--output-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == {"model", "checkpoint", "step", "losses", "seconds"}
    assert summary["step"] == 2 and "G/total" in summary["losses"] and summary["seconds"] > 0
    assert summary["checkpoint"] == str(tmp_path / "cli" / "checkpoint-0000002")
    result = runner.invoke(app, ["train", str(tmp_path / "nothing"), "--name", "x", "--output-dir", str(tmp_path)])
    assert result.exit_code == 1 and "error:" in result.output and "dataset folder not found" in result.output


def test_without_a_preset_the_device_chooses_and_the_first_line_says_so(dataset, tmp_path):
    result = CliRunner().invoke(app, ["train", str(dataset), "--name", "auto", "--steps", "1", "--device", "cpu",
                                      "--output-dir", str(tmp_path), "--no-vgg"])
    assert result.exit_code == 0, result.output
    notes = [record["text"] for record in read_log(tmp_path / "auto" / "log.jsonl") if record.get("event") == "note"]
    assert notes[0].startswith("training auto: preset tiny (the default on cpu; --preset to choose)")
    assert "VGG perceptual loss off (--no-vgg)" in notes
    assert load_generator(tmp_path / "auto")[1].preset == "tiny"


def test_train_reports_what_it_did(dataset, tmp_path):
    result = train(*tiny(dataset, tmp_path, steps=3, save_every=2, keep_last=5))
    assert result.model == tmp_path / "clip" and result.checkpoint == latest_checkpoint(result.model)
    assert result.step == 3 and result.seconds > 0
    last = [record for record in read_log(result.model / "log.jsonl") if "event" not in record][-1]
    assert result.losses.keys() == {key for key in last if "/" in key}
    assert all(last[key] == pytest.approx(value, abs=1e-6) for key, value in result.losses.items())
    again = train(*tiny(dataset, tmp_path, steps=3, resume=True))  # nothing left to do
    assert (again.checkpoint, again.step, again.losses, again.seconds) == (result.checkpoint, 3, result.losses, 0.0)


def test_resuming_keeps_the_saved_hyperparameters_and_takes_the_new_run_settings(dataset, tmp_path):
    first = train(*tiny(dataset, tmp_path, steps=4, stop_after=2, lr_G=1e-3, lambda_feat=5.0, save_every=1))
    assert sorted(path.name for path in first.model.glob("checkpoint-*")) == [f"checkpoint-000000{n}" for n in (1, 2)]
    # other hyperparameters asked for: ignored (the run continues as it started); other run settings: used
    resumed = train(*tiny(dataset, tmp_path, steps=4, resume=True, lr_G=1.0, lambda_feat=0.0, keep_last=1))
    saved = load_checkpoint(resumed.checkpoint).config
    assert (saved.train.lr_G, saved.train.lambda_feat, resumed.step) == (1e-3, 5.0, 4)
    assert [path.name for path in resumed.model.glob("checkpoint-*")] == ["checkpoint-0000004"]  # keep_last=1
    starts = [record for record in read_log(resumed.model / "log.jsonl") if record.get("event") == "start"]
    assert [(start["run"]["save_every"], start["run"]["keep_last"]) for start in starts] == [(1, 3), (200, 1)]
    longer = train(*tiny(dataset, tmp_path, steps=5, resume=True))  # --steps is the one that may change
    assert longer.step == 5 and load_checkpoint(longer.checkpoint).config.train.steps == 5


def test_run_settings_take_the_preset_cadence_unless_given():
    assert RunSettings().with_preset_defaults("small").save_every == 1000
    assert RunSettings(save_every=7).with_preset_defaults("small").save_every == 7
    assert RunSettings().with_preset_defaults("custom").save_every == DEFAULT_SAVE_EVERY
    assert RunSettings(sample_every=0).with_preset_defaults("tiny").sample_every == 0


def test_configs_of_version_1_load_without_their_run_settings():
    current = preset("small").to_dict()
    assert current["version"] == CONFIG_VERSION and "name" not in current["train"]
    old = json.loads(json.dumps(current))
    old["version"] = 1
    old["train"].update(name="person", output_dir="weights", device="cuda", compile=True, quiet=False, resume=False,
                        overwrite=False, stop_after=None, vgg_path="vgg19.pth", save_every=5, sample_every=5,
                        log_every=1, keep_last=3)
    old["data"].update(num_workers=4)
    assert Config.from_dict(old) == Config.from_dict(current)
    old["train"]["lambda_fetaure"] = 1.0
    with pytest.raises(BadInput, match="lambda_fetaure"):  # still strict about anything else
        Config.from_dict(old)
    with pytest.raises(BadInput, match="device"):  # a current config holds no run settings
        Config.from_dict({**current, "train": {**current["train"], "device": "cuda"}})
    with pytest.raises(BadInput, match="version 7"):
        Config.from_dict({**current, "version": 7})
    # the model file shipped before the split still loads, with its data settings
    generator, config = load_generator(WEIGHTS / "demo" / "generator.safetensors")
    assert config.version == CONFIG_VERSION and config.data.condition == "pose" and generator is not None
