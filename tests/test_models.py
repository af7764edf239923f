"""The vid2vid networks: the first-frame rule, sequential generation, scales, discriminators, losses, VGG."""

from __future__ import annotations

import json

import pytest
import torch

from v2vcli.config import ADDED_MODEL_FIELDS, Config, ModelConfig
from v2vcli.errors import BadInput
from v2vcli.models import Discriminators, Generator, VGG19Features, load_vgg19
from v2vcli.models.discriminators import image_input, temporal_input, temporal_span
from v2vcli.models.losses import PerceptualLoss, feature_matching, flow_loss, gan_loss, mask_loss

TINY = dict(ngf=4, n_downsample=2, n_blocks=1, n_blocks_local=1, ndf=4, n_layers_D=2, num_D=1, n_scales_temporal=2)


def make(**overrides) -> ModelConfig:
    return ModelConfig(**{**TINY, **overrides})


@pytest.fixture
def labels():
    torch.manual_seed(0)
    return torch.rand(2, 5, 3, 32, 32) * 2 - 1


def test_first_frames_are_hallucinated_then_the_previous_frame_is_warped(labels):
    torch.manual_seed(0)
    out = Generator(make(n_frames_G=3)).eval()(labels)
    assert out["image"].shape == (2, 5, 3, 32, 32)
    assert out["start"].tolist() == [True, True, False, False, False]
    assert torch.equal(out["image"][:, :2], out["hallucinated"][:, :2])
    assert out["mask"][:, :2].abs().max() == 0 and out["flow"][:, :2].abs().max() == 0
    later = out["mask"][:, 2:]
    assert later.min() > 0 and later.max() < 1
    blended = later * out["warped"][:, 2:] + (1 - later) * out["hallucinated"][:, 2:]
    assert torch.allclose(out["image"][:, 2:], blended, atol=1e-6)
    assert out["image"].abs().max() <= 1


def test_generating_in_chunks_equals_generating_at_once(labels):
    torch.manual_seed(0)
    generator = Generator(make()).eval()
    with torch.no_grad():
        whole = generator(labels)["image"]
        first = generator(labels[:, :3])["image"]
        second = generator(labels[:, 3:], previous_labels=labels[:, 1:3], previous_images=first[:, 1:3])["image"]
    assert torch.allclose(torch.cat((first, second), dim=1), whole, atol=1e-5)


def test_without_the_flow_path_frames_are_independent(labels):
    torch.manual_seed(0)
    config = make(use_flow=False)
    generator = Generator(config).eval()
    assert not any("flow" in name for name, _ in generator.named_parameters())
    out = generator(labels)
    assert torch.equal(out["image"], out["hallucinated"]) and out["mask"].abs().max() == 0
    with_flow = sum(p.numel() for p in Generator(make()).parameters())
    assert sum(p.numel() for p in generator.parameters()) < with_flow


@pytest.mark.parametrize("scales", [1, 2])
def test_coordinates_let_the_generator_tell_places_apart_where_the_condition_is_black(scales):
    black = torch.full((1, 1, 3, 32, 32), -1.0)  # a pose map with nobody in it
    torch.manual_seed(0)
    plain = Generator(make(n_scales_spatial=scales, coordinates=False)).eval()(black)["image"]
    assert plain.std(dim=(-2, -1)).max() < 1e-5  # the same colour everywhere: no place can be told apart
    torch.manual_seed(0)
    placed = Generator(make(n_scales_spatial=scales, coordinates=True)).eval()(black)["image"]
    assert placed.std(dim=(-2, -1)).min() > 1e-3
    halves = placed[..., :16].mean(dim=(-2, -1)), placed[..., 16:].mean(dim=(-2, -1))
    assert not torch.allclose(*halves, atol=1e-4)


@pytest.mark.parametrize("name", sorted(ADDED_MODEL_FIELDS))
def test_a_model_file_from_before_a_part_existed_loads_without_it(name):
    data = json.loads(Config().to_json())
    del data["model"][name]
    assert getattr(Config.from_dict(data).model, name) is ADDED_MODEL_FIELDS[name] is False
    assert getattr(Config.from_json(Config().to_json()).model, name) is True


def test_two_scales_train_coarse_first_then_refine(labels):
    torch.manual_seed(0)
    generator = Generator(make(n_scales_spatial=2)).eval()
    coarse = generator(labels[:, :, :, ::2, ::2], n_scales=1)
    assert coarse["image"].shape[-2:] == (16, 16)
    full = generator(labels)
    assert full["image"].shape[-2:] == (32, 32) and full["flow"].shape[-2:] == (32, 32)
    # the finer scale's parameters only matter at full size
    fine_names = [name for name, _ in generator.named_parameters() if name.startswith("scales.1.")]
    coarse["image"].sum().backward()
    grads = {name for name, p in generator.named_parameters() if p.grad is not None}
    assert grads and not grads & set(fine_names)
    # while the finer scale warms up, the coarser one is held: only the finer scale (and the face refiner,
    # which works at the output's size) gets gradients
    generator.zero_grad(set_to_none=True)
    generator(labels, n_scales=2, frozen_scales=1)["image"].sum().backward()
    grads = {name for name, p in generator.named_parameters() if p.grad is not None}
    face_names = {name for name, _ in generator.named_parameters() if name.startswith("face.")}
    assert grads and grads <= set(fine_names) | face_names and face_names


def test_the_foreground_is_hallucinated_by_its_own_head_and_never_warped():
    torch.manual_seed(0)
    generator = Generator(make(fg_separation=True)).eval()
    labels = -torch.ones(2, 5, 3, 32, 32)  # a pose rendering: a bone on black, moving down a pixel a frame
    for frame in range(5):
        labels[:, frame, 1, 12 + frame:14 + frame, 6:26] = 1
    with torch.no_grad():
        out = generator(labels)
        foreground = out["foreground"]
        assert foreground.shape == (2, 5, 1, 32, 32) and 0 < foreground.mean() < 1
        generator.scales[0].foreground_head.bias.fill_(5.0)  # the foreground head now paints white
        repainted = generator(labels)
    inside = (foreground == 1).expand_as(out["image"])
    # where the foreground is whole, every frame is the foreground head's, whatever the warp brought
    assert inside[:, 2:].any() and torch.all(repainted["image"][inside] > 0.99)
    # elsewhere the start frames (no warp yet) keep the background head's pixels
    outside = (foreground[:, :2] == 0).expand_as(out["image"][:, :2])
    assert outside.any() and torch.equal(repainted["image"][:, :2][outside], out["image"][:, :2][outside])


def test_discriminators_judge_frames_and_flow_conditioned_windows(labels):
    config = make(n_frames_D=3, n_scales_temporal=2)
    discriminators = Discriminators(config)
    images = torch.rand(2, 9, 3, 32, 32)
    flows = torch.zeros(2, 9, 2, 32, 32)
    assert temporal_span(config, 0) == 3 and temporal_span(config, 1) == 7
    windows = [temporal_input(images, flows, config, scale) for scale in range(2)]
    assert windows[0].shape == (2, 3 * 3 + 2 * 2, 32, 32)
    # the stride-3 window ends at the last frame: frames 2, 5, 8
    assert torch.equal(windows[1][:, :3], images[:, 2]) and torch.equal(windows[1][:, 6:9], images[:, 8])
    assert temporal_input(images[:, :5], flows[:, :5], config, 1) is None
    # several windows: the newest first, as many as the sequence holds
    newest = temporal_input(images, flows, config, 1, windows=4)
    assert newest.shape[0] == 2 * 3 and torch.equal(newest[2:4, 6:9], images[:, 7])
    # flows enter at the images' range: 20 pixels make 1
    moving = temporal_input(images, torch.full_like(flows, 20.0), config, 0)
    assert torch.allclose(moving[:, 9:], torch.ones_like(moving[:, 9:]))
    out = discriminators(image_input(labels, images[:, :5]), windows)
    assert out["image"][0][-1].shape[0] == 10 and out["temporal"][1][0][-1].shape[0] == 2


def test_gan_losses_and_feature_matching():
    real = [[torch.ones(1, 1, 4, 4)]]
    fake = [[torch.zeros(1, 1, 4, 4)]]
    assert gan_loss(real, True) == 0 and gan_loss(fake, False) == 0 and gan_loss(fake, True) == 1
    assert gan_loss(real, True, "hinge") == 0 and gan_loss(real, False, "hinge") == 2
    assert gan_loss(real, True, "hinge", for_discriminator=False) == -1
    with pytest.raises(ValueError, match="lsgan"):
        gan_loss(real, True, "wgan")
    features = [[torch.rand(1, 2, 4, 4), torch.rand(1, 1, 4, 4)]]
    other = [[torch.rand(1, 2, 4, 4), torch.rand(1, 1, 4, 4)]]
    assert feature_matching(features, features) == 0 and feature_matching(features, other) > 0
    # summed over discriminator scales, as pix2pixHD and vid2vid sum them
    assert gan_loss(real + real, False) == 2 * gan_loss(real, False) == 2
    # feature matching: 4 / (intermediate layers) per layer, 1 / scales per scale
    layers = [[torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.zeros(1, 1, 4, 4)]]
    shifted = [[torch.ones(1, 2, 4, 4), torch.ones(1, 2, 4, 4), torch.ones(1, 1, 4, 4)]]
    assert feature_matching(shifted, layers) == pytest.approx(4.0)
    assert feature_matching(shifted + shifted, layers + layers) == pytest.approx(4.0)


def test_flow_loss_ignores_untrusted_pixels_and_the_mask_follows_the_trust():
    predicted, target = torch.zeros(1, 2, 4, 4), torch.ones(1, 2, 4, 4)
    trusted = torch.zeros(1, 1, 4, 4)
    trusted[..., :2] = 1
    assert flow_loss(predicted, target, trusted) == pytest.approx(0.5)
    # copying the warp everywhere is wrong where the flow is not trusted, hallucinating everywhere where it is
    assert mask_loss(torch.ones(1, 1, 4, 4), trusted) == pytest.approx(0.5)
    assert mask_loss(torch.zeros(1, 1, 4, 4), trusted) == pytest.approx(0.5)
    assert mask_loss(trusted, trusted) == 0


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_vgg_loads_torchvision_layout_from_a_file(tmp_path, suffix):
    torch.manual_seed(0)
    state = {f"features.{key}": value.clone() for key, value in VGG19Features().features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # extra torchvision keys are ignored
    path = tmp_path / f"vgg19{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        from safetensors.torch import save_file

        save_file(state, str(path))
    vgg = load_vgg19(path)
    assert torch.equal(vgg.features[0].weight, state["features.0.weight"])
    loss = PerceptualLoss(vgg)
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    assert loss(image, image) == 0 and loss(image, -image) > 0
    del state["features.28.weight"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(BadInput, match="features.28.weight"):
        load_vgg19(tmp_path / "broken.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(BadInput, match="junk.pth"):
        load_vgg19(tmp_path / "junk.pth")


def test_pose_generators_return_the_face_box_they_refined_at_the_output_size(labels):
    from v2vcli.models.face import face_side

    torch.manual_seed(0)
    config = make(n_scales_spatial=2)
    generator = Generator(config).eval()
    with torch.no_grad():
        out = generator(labels)
    assert out["face_box"].shape == (2, 5, 3) and out["face_box"].dtype == torch.long
    sides = set(out["face_box"][..., 2].flatten().tolist())
    assert sides <= {0, face_side(config, 32)} and face_side(config, 32) in sides
    # a generator whose finer scale is untrained runs at half size: its boxes are given at full size
    generator.trained_scales = 1
    with torch.no_grad():
        coarse = generator(labels)
    assert coarse["image"].shape[-2:] == (32, 32)
    assert set(coarse["face_box"][..., 2].flatten().tolist()) <= {0, 2 * face_side(config, 16)}
    assert Generator(make(face=False))(labels).keys() == out.keys() - {"face_box"}
