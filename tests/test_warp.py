"""resample(): integer flows move pixels exactly, gradients are right, flows chain and resize."""

from __future__ import annotations

import torch

from v2vcli.models.warp import compose_flow, photometric_confidence, resample, resize_flow


def constant_flow(dx: float, dy: float, height: int, width: int, batch: int = 1) -> torch.Tensor:
    flow = torch.zeros(batch, 2, height, width)
    flow[:, 0], flow[:, 1] = dx, dy
    return flow


def test_integer_flow_moves_the_image_by_whole_pixels():
    image = torch.rand(2, 3, 12, 17)
    moved = resample(image, constant_flow(3, -2, 12, 17, batch=2))
    # output[y, x] = image[y - 2, x + 3] wherever that source pixel is inside the image
    assert torch.allclose(moved[:, :, 2:, :-3], image[:, :, :-2, 3:], atol=1e-6)
    # outside, the border pixel repeats rather than zeros leaking in
    assert torch.allclose(moved[:, :, 0, :-3], image[:, :, 0, 3:], atol=1e-6)


def test_zero_flow_is_identity_and_half_pixel_flow_averages_neighbours():
    image = torch.rand(1, 1, 5, 6)
    assert torch.allclose(resample(image, torch.zeros(1, 2, 5, 6)), image, atol=1e-6)
    half = resample(image, constant_flow(0.5, 0, 5, 6))
    assert torch.allclose(half[..., :-1], (image[..., :-1] + image[..., 1:]) / 2, atol=1e-6)


def test_resample_gradcheck_in_float64():
    torch.manual_seed(0)
    image = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    # keep samples off pixel centres and inside the image: bilinear is not differentiable at the kinks
    flow = (torch.rand(1, 2, 5, 6, dtype=torch.float64) * 0.6 + 0.2).requires_grad_(True)
    assert torch.autograd.gradcheck(resample, (image, flow), eps=1e-6, atol=1e-5)


def test_compose_flow_chains_two_shifts():
    first, second = constant_flow(1, 0, 8, 8), constant_flow(2, 1, 8, 8)
    assert torch.allclose(compose_flow(first, second), constant_flow(3, 1, 8, 8), atol=1e-6)


def test_resize_flow_scales_the_vectors():
    flow = constant_flow(4, -2, 16, 32)
    small = resize_flow(flow, 8, 8)
    assert small.shape == (1, 2, 8, 8)
    assert torch.allclose(small[0, 0], torch.full((8, 8), 1.0))
    assert torch.allclose(small[0, 1], torch.full((8, 8), -1.0))


def test_photometric_confidence_trusts_a_correct_flow_only():
    previous = torch.rand(1, 3, 10, 10) * 2 - 1
    current = resample(previous, constant_flow(1, 0, 10, 10))
    good = photometric_confidence(current, previous, constant_flow(1, 0, 10, 10))
    bad = photometric_confidence(current, previous, constant_flow(-3, 2, 10, 10))
    assert good[..., :-1].min() == 1
    assert bad.mean() < 0.5
