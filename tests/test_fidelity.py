"""What makes a model draw a person: models trained with every option generate, training sees the maps
generation feeds, the temporal terms are there, every temporal discriminator trains, generation uses the
averaged weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from v2vcli.config import PRESETS, RunSettings, default_steps, preset
from v2vcli.data import ClipDataset, open_dataset
from v2vcli.data.conditions import encode_conditions
from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.errors import BadInput
from v2vcli.inference.generate import GenerateConfig, LoadedModel, generate_video
from v2vcli.io.frames import read_image
from v2vcli.io.video import probe_video
from v2vcli.models import Discriminators, Generator
from v2vcli.models.discriminators import temporal_span
from v2vcli.models.foreground import foreground_mask
from v2vcli.training import load_checkpoint, load_generator, train
from v2vcli.training.schedule import Phase, build_schedule
from v2vcli.training.step import StepRunner
from v2vcli.training.terms import LOSS_TERMS
from v2vcli.training.trainer import check_temporal_spans

pytestmark = pytest.mark.usefixtures("one_thread", "offline")


@pytest.fixture
def offline(monkeypatch):
    """No test reaches for the network (the VGG19 file): the runs go on without the perceptual loss."""
    monkeypatch.setenv("V2V_OFFLINE", "1")


def run_settings(dataset, output, name: str) -> RunSettings:
    return RunSettings(name=name, output_dir=str(output), dataset=str(dataset), quiet=True, sample_every=0)


@pytest.fixture(scope="module")
def pose_data(tmp_path_factory):
    """A pose dataset whose size (70x50) is no multiple of the model's, so training must squash it."""
    return write_shapes_dataset(tmp_path_factory.mktemp("pose") / "data", frames=8, size=(70, 50), condition="pose")


@pytest.fixture(scope="module")
def pose_model(pose_data, tmp_path_factory):
    """The tiny preset with foreground separation, trained on a pose dataset."""
    config = preset("tiny")
    config.model.fg_separation, config.train.steps = True, 3
    return train(config, run_settings(pose_data, tmp_path_factory.mktemp("weights"), "pose")).model


def test_a_pose_model_with_foreground_separation_generates_from_condition_maps_alone(pose_model, pose_data,
                                                                                     tmp_path):
    generator, config = load_generator(pose_model)
    assert config.model.fg_separation is True and hasattr(generator.scales[0], "foreground_head")
    output = tmp_path / "out.mp4"
    summary = generate_video(pose_data / "clip00" / "labels", output, GenerateConfig(model=str(pose_model),
                                                                                    device="cpu", quiet=True))
    info = probe_video(output)
    assert (info.width, info.height, info.frame_count) == (*config.data.size, 8) and summary.frames == 8


def test_every_option_trains_and_generates(tmp_path):
    """Segmentation with foreground classes, two spatial scales, two temporal scales, hinge loss, L1, the
    flow path, raw-hallucination and output temporal terms, weight averaging: the model generates."""
    data = write_shapes_dataset(tmp_path / "data", frames=8, size=(32, 32))
    config = preset("tiny")
    config.model = dataclasses.replace(config.model, n_scales_spatial=2, fg_separation=True, fg_classes=[1, 2],
                                       n_scales_temporal=2)
    config.train = dataclasses.replace(config.train, steps=4, n_frames_max=8, frames_per_chunk=4, gan_mode="hinge",
                                       lambda_l1=1.0)
    model = train(config, run_settings(data, tmp_path, "everything")).model
    output = tmp_path / "out.mp4"
    generate_video(data / "clip00" / "labels", output, GenerateConfig(model=str(model), device="cpu", quiet=True))
    assert probe_video(output).frame_count == 8


def test_foreground_separation_on_segmentation_needs_its_classes(tmp_path):
    data = write_shapes_dataset(tmp_path / "data", frames=6, size=(32, 32))
    config = preset("tiny")
    config.model.fg_separation, config.train.steps = True, 2
    with pytest.raises(BadInput, match="fg_classes"):
        train(config, run_settings(data, tmp_path, "no-classes"))


def test_the_foreground_covers_the_skeleton_and_its_surroundings_only():
    config = preset("tiny").model
    labels = -torch.ones(1, 3, 64, 64)
    labels[:, 0, 30:34, 20:44] = 1  # a red bone across the middle
    mask = foreground_mask(labels, config)
    assert mask[0, 0, 31, 30] == 1 and mask[0, 0, 35, 30] > 0  # on the bone and widened around it
    assert mask[0, 0, 45, 30] == 0 and mask[0, 0, 5, 5] == 0  # not far from it


def test_training_sees_the_condition_maps_generation_feeds(pose_model, pose_data):
    """The same label file, through training's loader (no augmentation) and generation's fit."""
    info = open_dataset(pose_data)
    model = LoadedModel(str(pose_model), "cpu")
    size = tuple(model.size)
    assert size != tuple(info.size)  # a real resize (70x50 -> the model's multiple of 4)
    clips = ClipDataset(info, model.config.data, size, 0, lambda index: 1)
    sequence = info.sequences[0]
    for index in (0, 5):
        training = clips.load(sequence, index, 1)["labels"][0]
        generation = encode_conditions(model.fit(read_image(sequence.labels[index]))[None], "pose", 3)[0]
        assert torch.equal(training, generation), index
        frame = clips.load(sequence, index, 1)["images"][0]
        assert torch.equal(frame, encode_conditions(model.fit(read_image(sequence.frames[index]))[None], "pose", 3)[0])


def moving_batch(frames: int = 6, size: int = 32) -> dict[str, torch.Tensor]:
    """A clip whose content moves one pixel right per frame, with its true flow (to the previous frame)."""
    generator = torch.Generator().manual_seed(3)
    texture = torch.rand(3, size, size + frames, generator=generator) * 2 - 1
    images = torch.stack([texture[:, :, frames - t:frames - t + size] for t in range(frames)])
    flows = torch.zeros(frames, 2, size, size)
    flows[1:, 0] = -1.0
    labels = torch.where(images > 0.5, 1.0, -1.0)
    return {"images": images[None], "labels": labels[None], "flows": flows[None]}


def tiny_runner(**model) -> StepRunner:
    config = preset("tiny")
    config.model = dataclasses.replace(config.model, label_channels=3, fg_separation=False, **model)
    torch.manual_seed(0)
    generator, discriminators = Generator(config.model), Discriminators(config.model)
    optimizers = [torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
                  for net in (generator, discriminators)]
    return StepRunner(config, generator, discriminators, *optimizers, None, torch.device("cpu"))


def test_the_output_temporal_term_is_registered_and_measures_motion():
    assert any(term.network == "G" and term.name == "output_warp" for term in LOSS_TERMS)
    losses = tiny_runner().run(moving_batch(), Phase(0, 0, 1, 1, (32, 32), 6))
    assert losses["G/output_warp"] > 0 and losses["G/mask"] > 0
    # the raw hallucination is judged by the image discriminator too
    assert losses["G/raw"] > 0 and losses["D/raw"] > 0
    frame_by_frame = tiny_runner(use_flow=False).run(moving_batch(), Phase(0, 0, 1, 1, (32, 32), 6))
    assert frame_by_frame["G/output_warp"] > 0 and "G/raw" not in frame_by_frame


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_temporal_discriminator_sees_whole_windows_in_the_default_schedule(name):
    config = preset(name)
    phases = build_schedule(config.model, config.train, (256, 128), default_steps(name))
    longest = max(phase.n_frames for phase in phases)
    for scale in range(config.model.n_scales_temporal):
        assert temporal_span(config.model, scale) <= longest, (name, scale)
    check_temporal_spans(config.model, phases)  # and the run's own check agrees


def test_a_config_whose_temporal_discriminator_would_never_train_is_refused():
    config = preset("hd")
    config.train.n_frames_max = 12  # hd's third temporal D spans 19 frames
    phases = build_schedule(config.model, config.train, (256, 128), 100)
    with pytest.raises(BadInput, match="temporal discriminator 2 .* 19 frames .* only 12"):
        check_temporal_spans(config.model, phases)


def test_the_model_file_holds_the_averaged_weights_and_resuming_continues_the_trained_ones(pose_model):
    checkpoint = load_checkpoint(sorted(pose_model.glob("checkpoint-*"))[-1])
    generator, _ = load_generator(pose_model)
    live = checkpoint.live_generator
    assert set(live) == set(checkpoint.generator)
    for name, tensor in generator.state_dict().items():
        assert torch.equal(tensor, checkpoint.generator[name]), name  # generation loads the average
    assert any(not torch.equal(live[name], checkpoint.generator[name]) for name in live)


def test_without_averaging_the_model_file_holds_the_trained_weights(pose_data, tmp_path):
    config = preset("tiny")
    config.train.steps, config.train.ema_decay = 2, 0.0
    model = train(config, run_settings(pose_data, tmp_path, "plain")).model
    checkpoint = load_checkpoint(sorted(model.glob("checkpoint-*"))[-1])
    assert not any(name.startswith("generator.") for name in checkpoint.training)
    assert checkpoint.live_generator is checkpoint.generator


def test_a_checkpoint_from_before_the_finer_scale_generates_with_the_coarse_one(tmp_path):
    """Stopped in the first stage of a two-scale run, the model draws from its trained coarse scale at
    the full size, instead of running the untrained enhancer."""
    data = write_shapes_dataset(tmp_path / "data", frames=6, size=(32, 32))
    config = preset("tiny")
    config.model.n_scales_spatial = 2
    config.train.steps = 8
    run = dataclasses.replace(run_settings(data, tmp_path, "two"), stop_after=2)
    model = train(config, run).model
    generator, saved = load_generator(model)
    assert generator.trained_scales == 1 and len(generator.scales) == 2
    labels = ClipDataset(open_dataset(data), saved.data, (32, 32), 0, lambda index: 3).load(
        open_dataset(data).sequences[0], 0, 3)["labels"][None]
    with torch.no_grad():
        full = generator(labels)["image"]
        coarse = generator(torch.nn.functional.avg_pool2d(labels[0], 2)[None], n_scales=1)["image"]
    assert full.shape[-2:] == (32, 32)
    with torch.no_grad():
        assert not torch.allclose(full, generator(labels, n_scales=2)["image"], atol=1e-3)  # not the enhancer
    upsampled = torch.nn.functional.interpolate(coarse[0], size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(full[0], upsampled, atol=1e-5)


def test_learning_rates_hold_then_fall_to_zero_and_the_average_warms_up():
    from v2vcli.training.average import average_decay
    from v2vcli.training.schedule import learning_rate_factor

    train = preset("tiny").train
    factors = [learning_rate_factor(train, step, 100) for step in range(100)]
    assert factors[:50] == [1.0] * 50 and all(a > b for a, b in zip(factors[50:], factors[51:], strict=False))
    assert 0 < factors[-1] <= 0.02
    assert average_decay(0.999, 1) < 0.2 and average_decay(0.999, 1000) == pytest.approx(0.991, abs=1e-3)
    assert average_decay(0.999, 10**6) == 0.999
    assert np.isclose(average_decay(0.999, 90), 0.91)
