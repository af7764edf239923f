"""Dataset folders: both layouts read, mismatches are named, clips are deterministic and augmented in pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from v2vcli.config import DataConfig
from v2vcli.data import ClipDataset, choose_size, open_dataset
from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.errors import BadInput
from v2vcli.flow.storage import read_flow, write_compact_flow
from v2vcli.io.frames import write_image
from v2vcli.models.warp import photometric_confidence
from v2vcli.training.trainer import default_workers


@pytest.fixture
def dataset(tmp_path):
    return write_shapes_dataset(tmp_path / "data", sequences=2, frames=6, size=(64, 48), flow=True)


def test_v2v_layout_gives_clips_of_the_documented_shapes(dataset):
    info = open_dataset(dataset)
    assert (info.layout, info.condition, info.size, info.label_channels, info.has_masks) == (
        "v2v", "segment", (64, 48), 3, True)
    clips = ClipDataset(info, DataConfig(), (32, 32), seed=1, frames_at=lambda index: 4)
    sample = clips[5]
    assert sample["images"].shape == (4, 3, 32, 32) and -1 <= sample["images"].min() < sample["images"].max() <= 1
    assert sample["labels"].shape == (4, 3, 32, 32) and torch.equal(sample["labels"].sum(1), torch.ones(4, 32, 32))
    assert sample["flows"].shape == (4, 2, 32, 32) and "masks" not in sample  # the foreground comes from labels
    assert sample["flows"][0].abs().max() == 0
    # the same sample number always gives the same clip (exact resume, sharding); others differ
    assert torch.equal(clips[5]["images"], sample["images"])
    assert not torch.equal(clips[6]["images"], sample["images"])


def test_augmentation_keeps_frames_labels_and_flow_paired(dataset):
    info = open_dataset(dataset)
    clips = ClipDataset(info, DataConfig(flip=True, scale_jitter=0.3), (32, 32), seed=0, frames_at=lambda index: 3)
    trusted = {"flow": 0.0, "none": 0.0, "mirrored": 0.0}
    for index in range(6):
        sample = clips[index]
        square = sample["labels"][:, 2] > 0.5  # class 2 is the cyan square: blue channel high under its label
        assert sample["images"][:, 2][square].mean() > 0.6
        assert sample["images"][:, 2][~square].mean() < 0.0
        images, flow = sample["images"], sample["flows"][1:]
        mirrored = flow * torch.tensor([-1.0, 1.0]).view(2, 1, 1)
        for kind, candidate in (("flow", flow), ("none", 0 * flow), ("mirrored", mirrored)):
            trusted[kind] += float(photometric_confidence(images[1:], images[:-1], candidate).mean())
    # the stored flow, cropped, scaled and flipped with the frames, explains their motion best
    assert trusted["flow"] > trusted["none"] + 0.1 and trusted["flow"] > trusted["mirrored"] + 0.1


def compact_flows(root) -> None:
    """Rewrite a dataset's float16 .npy flow as `v2v prepare` now stores it (16-bit PNG)."""
    for path in sorted(root.glob("*/flow_backward/*.npy")):
        write_compact_flow(path.with_suffix(".png"), read_flow(path))
        path.unlink()


def overwritten_compact_flow(root, image: np.ndarray) -> None:
    """The dataset's flow made compact, then clip01's first field replaced by `image` (a PNG)."""
    import cv2

    compact_flows(root)
    cv2.imwrite(str(root / "clip01/flow_backward/000000.png"), image)


def test_datasets_with_float16_flow_still_load_and_compact_flow_gives_the_same_clips(dataset):
    info = open_dataset(dataset)
    assert info.sequences[0].flows[0].name == "000000.npy"
    clips = ClipDataset(info, DataConfig(), info.size, seed=0, frames_at=lambda index: 6)
    before = clips.load(info.sequences[1], 0, 6)["flows"]
    compact_flows(dataset)
    info = open_dataset(dataset)
    assert [path.name for path in info.sequences[1].flows] == [f"{index:06d}.png" for index in range(5)]
    after = ClipDataset(info, DataConfig(), info.size, seed=0, frames_at=lambda index: 6).load(info.sequences[1], 0, 6)
    assert before[1:].abs().max() > 1 and (after["flows"] - before).abs().max() <= 1 / 64 + 1e-3


@pytest.mark.parametrize("device, cores, processes, workers", [
    ("cpu", 16, 1, 0), ("cuda", 16, 1, 8), ("cuda", 4, 1, 3), ("cuda", 64, 8, 7), ("cuda", 8, 8, 1)])
def test_default_loader_workers_follow_the_cores_on_cuda_and_stay_off_on_a_cpu(monkeypatch, device, cores,
                                                                               processes, workers):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(processes))
    assert default_workers(device) == workers


def test_flow_is_computed_when_the_dataset_has_none(tmp_path):
    info = open_dataset(write_shapes_dataset(tmp_path / "noflow", frames=5, flow=False, masks=False))
    sample = ClipDataset(info, DataConfig(), (64, 64), seed=0, frames_at=lambda index: 5)[0]
    assert sample["flows"][1:].abs().max() > 0.5  # the shapes move by whole pixels per frame


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "clip00/labels/000003.png").unlink(),
     "clip00/labels has 5 files, dataset.json says 6; clip00/labels/000003.png is missing"),
    (lambda root: write_image(root / "clip01/frames/000000.png", np.zeros((10, 12, 3), np.uint8)),
     "clip01/frames/000000.png is 12x10, expected 64x48"),
    (lambda root: write_image(root / "clip00/labels/000000.png", np.zeros((48, 64, 3), np.uint8)),
     "class ids need a single-channel PNG"),
    (lambda root: (root / "clip01/masks/000005.png").rename(root / "clip01/masks/000009.png"),
     "clip01/masks/000005.png is missing"),
    (lambda root: np.save(root / "clip00/flow_backward/000000.npy", np.zeros((4, 4, 2), np.float16)),
     "clip00/flow_backward/000000.npy has shape (4, 4, 2), expected (48, 64, 2)"),
    (lambda root: overwritten_compact_flow(root, np.zeros((96, 64), np.uint8)),
     "clip01/flow_backward/000000.png is not a readable flow field"),
    (lambda root: overwritten_compact_flow(root, np.zeros((8, 64), np.uint16)),
     "clip01/flow_backward/000000.png has shape (4, 64, 2), expected (48, 64, 2)"),
])
def test_mismatched_parts_are_refused_naming_the_first_mismatch(dataset, damage, message):
    damage(dataset)
    with pytest.raises(BadInput, match="dataset does not match") as error:
        open_dataset(dataset)
    assert message in str(error.value)


def test_many_problems_are_summarised_in_one_line(dataset):
    meta = json.loads((dataset / "dataset.json").read_text())
    meta["sequences"] += [{"name": f"gone{index}", "frames": 3} for index in range(5)]
    (dataset / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(BadInput) as error:
        open_dataset(dataset)
    text = str(error.value)
    assert "gone0/ is missing; gone1/ is missing; gone2/ is missing; and 2 more" in text and "\n" not in text


@pytest.mark.parametrize("edit, message", [
    ({"version": 7}, "version 7"),
    ({"condition": "depth"}, "condition 'depth'"),
    ({"size": [64]}, "size must be [width, height]"),
    ({"sequences": []}, "sequences must be a non-empty list"),
])
def test_bad_dataset_json_is_refused(dataset, edit, message):
    meta = json.loads((dataset / "dataset.json").read_text())
    (dataset / "dataset.json").write_text(json.dumps({**meta, **edit}))
    with pytest.raises(BadInput, match="dataset.json") as error:
        open_dataset(dataset)
    assert message in str(error.value)


def test_not_a_dataset(tmp_path):
    with pytest.raises(BadInput, match="no dataset.json"):
        open_dataset(tmp_path)


def test_nvidia_layout_reads_segmentation_with_instances(tmp_path):
    root = write_shapes_dataset(tmp_path / "nv", sequences=2, frames=5, layout="vid2vid")
    for name in ("clip00", "clip01"):
        (root / "train_inst" / name).mkdir(parents=True)
        for path in sorted((root / "train_A" / name).iterdir()):
            write_image(root / "train_inst" / name / path.name, np.zeros((64, 64), np.uint8) + (np.arange(64) > 30))
    info = open_dataset(root)
    assert (info.layout, info.condition, info.num_classes, info.label_channels) == ("vid2vid", "segment", 3, 4)
    sample = ClipDataset(info, DataConfig(), (64, 64), seed=0, frames_at=lambda index: 3).load(info.sequences[0], 0, 3)
    assert sample["labels"].shape == (3, 4, 64, 64)
    assert sample["labels"][0, 3, 0, 30:32].tolist() == [1.0, 1.0] and sample["labels"][0, 3, 0, 0] == 0
    assert open_dataset(root, num_classes=20).label_channels == 21


def test_nvidia_layout_reads_pose_renderings_and_names_count_mismatches(tmp_path):
    root = write_shapes_dataset(tmp_path / "nv", sequences=1, frames=4, layout="vid2vid", condition="pose")
    info = open_dataset(root)
    assert (info.condition, info.label_channels) == ("pose", 3)
    sample = ClipDataset(info, DataConfig(), (32, 32), seed=0, frames_at=lambda index: 4)[0]
    assert sample["labels"].min() == -1 and sample["labels"].max() > 0.9
    (root / "train_B" / "clip00" / "000003.png").unlink()
    with pytest.raises(BadInput, match="train_B/clip00 has 3 images, train_A/clip00 has 4"):
        open_dataset(root)


def test_training_size_is_a_multiple_the_model_can_halve(dataset):
    info = open_dataset(dataset)
    assert choose_size(info, DataConfig(max_side=40), 8) == (40, 24)
    assert choose_size(info, DataConfig(size=[32, 16]), 16) == (32, 16)
    with pytest.raises(BadInput, match="multiples of 16"):
        choose_size(info, DataConfig(size=[40, 16]), 16)


def test_class_ids_beyond_num_classes_are_refused(dataset):
    write_image(dataset / "clip00/labels/000000.png", np.full((48, 64), 9, np.uint8))
    info = open_dataset(dataset)
    with pytest.raises(BadInput, match="class id 9 >= num_classes 3"):
        ClipDataset(info, DataConfig(), (32, 32), seed=0, frames_at=lambda index: 6).load(info.sequences[0], 0, 6)
