"""Sample outputs during training: a PNG grid (condition / generated / real) and a short side-by-side mp4.

The sample clip is the start of the first sequence, without augmentation, generated from nothing with
the first-frame rule, exactly as `v2v generate` will: what the samples show is what a user will get.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from v2vcli.data.dataset import ClipDataset
from v2vcli.errors import V2VError
from v2vcli.inference.sequential import to_uint8
from v2vcli.training.schedule import Phase
from v2vcli.training.step import resize_batch

SAMPLE_FRAMES = 24
GRID_COLUMNS = 6


def label_colours(labels: torch.Tensor, condition: str, num_classes: int) -> np.ndarray:
    """(T, C, H, W) label tensor -> RGB uint8 (T, H, W, 3), as the condition type previews its maps."""
    from v2vcli.conditions import condition_named

    return condition_named(condition).preview(labels, num_classes)


@torch.no_grad()
def generate_clip(generator, dataset: ClipDataset, phase: Phase, device: torch.device, autocast) -> dict:
    sequence = dataset.info.sequences[0]
    length = min(len(sequence), SAMPLE_FRAMES)
    sample = dataset.load(sequence, 0, length)
    sample = resize_batch({key: value[None] for key, value in sample.items()}, phase.size)
    sample = {key: value.to(device) for key, value in sample.items()}
    with autocast():
        out = generator(sample["labels"], n_scales=phase.n_scales)
    return {"labels": sample["labels"][0], "real": sample["images"][0], "fake": out["image"][0].float()}


def write_samples(folder: Path, step: int, generator, dataset: ClipDataset, phase: Phase, device: torch.device,
                  autocast, fps: float, video: bool = True) -> dict[str, float | str]:
    """Write samples/step-NNNNNNN.png (and .mp4); return their paths and the clip's L1 error."""
    from v2vcli.io.frames import write_image
    from v2vcli.io.outputs import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    clip = generate_clip(generator, dataset, phase, device, autocast)
    condition = label_colours(clip["labels"], dataset.info.condition, dataset.info.num_classes)
    fake, real = to_uint8(clip["fake"]), to_uint8(clip["real"])
    columns = np.unique(np.linspace(0, len(fake) - 1, min(GRID_COLUMNS, len(fake))).round().astype(int))
    rows = [np.concatenate(list(frames[columns]), axis=1) for frames in (condition, fake, real)]
    png = folder / f"step-{step:07d}.png"
    with atomic_path(png) as temporary:
        write_image(temporary, np.concatenate(rows, axis=0))
    result: dict[str, float | str] = {"png": str(png), "l1": float((clip["fake"] - clip["real"]).abs().mean())}
    if video:
        path = folder / f"step-{step:07d}.mp4"
        try:
            from v2vcli.io.video import VideoWriter

            with VideoWriter(path, fps=fps) as writer:
                for frames in zip(condition, fake, real, strict=True):
                    writer.write(np.concatenate(frames, axis=1))
            result["mp4"] = str(path)
        except (ImportError, V2VError) as error:  # a sample video is not worth stopping a training run for
            result["mp4_error"] = str(error)
    return result
