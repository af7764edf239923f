"""Warping images by optical flow with grid_sample, and the flow arithmetic the model needs.

Convention (the same as v2vcli.flow): a flow field is (B, 2, H, W) in pixels, x then y, and
`resample(image, flow)[y, x] = image[y + flow_y, x + flow_x]` (bilinear, border pixels repeat outside).
So `resample(previous, flow_between(current, previous))` puts the previous frame onto the current one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_GRIDS: dict[tuple, torch.Tensor] = {}


def base_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Pixel coordinates (1, 2, H, W): channel 0 is x, channel 1 is y. Cached per size/device/dtype."""
    key = (height, width, str(device), dtype)
    grid = _GRIDS.get(key)
    if grid is None:
        # Made outside inference mode even when generation asks first: an inference tensor in the cache
        # would make a later training step in the same process fail ("cannot be saved for backward").
        with torch.inference_mode(False):
            ys, xs = torch.meshgrid(
                torch.arange(height, device=device, dtype=dtype),
                torch.arange(width, device=device, dtype=dtype),
                indexing="ij",
            )
            grid = torch.stack((xs, ys)).unsqueeze(0)
        if len(_GRIDS) > 32:  # many sizes in one process (benchmarks): keep the cache bounded
            _GRIDS.clear()
        _GRIDS[key] = grid
    return grid


def resample(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample `image` (B, C, H, W) at the positions p + flow(p); flow (B, 2, H, W) in pixels.

    align_corners=True maps normalised -1/+1 onto the centres of the first/last pixels, so pixel
    coordinates convert with one scale and an integer flow lands exactly on pixel centres: the image
    moves by whole pixels without blurring. Computed in float32 at least (half-precision coordinates
    lose whole pixels at 1024 px); returns the image's dtype.
    """
    if image.shape[-2:] != flow.shape[-2:] or flow.shape[1] != 2:
        raise ValueError(f"resample: image {tuple(image.shape)} and flow {tuple(flow.shape)} do not match")
    dtype = torch.promote_types(image.dtype, torch.float32)
    height, width = image.shape[-2:]
    position = base_grid(height, width, image.device, dtype) + flow.to(dtype)
    # Python scalars, not a tensor made from a list: that is a copy from pageable host memory, which
    # synchronises the GPU every frame (and cannot be captured in a CUDA graph).
    grid = torch.stack((position[:, 0] * (2.0 / max(width - 1, 1)) - 1.0,
                        position[:, 1] * (2.0 / max(height - 1, 1)) - 1.0), dim=-1)
    warped = F.grid_sample(image.to(dtype), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return warped.to(image.dtype)


def compose_flow(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Chain two flows: `first` a -> b and `second` b -> c give the flow a -> c, (B, 2, H, W) pixels."""
    return first + resample(second, first)


def resize_flow(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a flow field to (height, width), scaling its vectors with the image."""
    if flow.shape[-2:] == (height, width):
        return flow
    scale = torch.tensor([width / flow.shape[-1], height / flow.shape[-2]], device=flow.device, dtype=flow.dtype)
    mode = "area" if height < flow.shape[-2] else "bilinear"
    resized = F.interpolate(flow, size=(height, width), mode=mode, **({} if mode == "area" else
                                                                       {"align_corners": False}))
    return resized * scale.view(1, 2, 1, 1)


def photometric_confidence(current: torch.Tensor, previous: torch.Tensor, flow: torch.Tensor,
                           threshold: float = 0.1) -> torch.Tensor:
    """(B, 1, H, W) in {0, 1}: 1 where warping `previous` by `flow` rebuilds `current` (images in [-1, 1]).

    The ground-truth flow is unreliable where this fails (occlusions, new content), so the flow and
    warp losses ignore those pixels and the occlusion mask is pushed towards hallucination there.
    """
    error = (current - resample(previous, flow)).abs().mean(dim=1, keepdim=True)
    return (error < threshold).to(current.dtype)
