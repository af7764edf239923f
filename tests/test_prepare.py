"""`v2v prepare`: a real clip of a person becomes a training set that `v2v train` accepts."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import encode
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.config import preset
from v2vcli.data import choose_size
from v2vcli.data.layout import open_dataset, preset_size
from v2vcli.flow.storage import read_flow
from v2vcli.io.ffmpeg import ffmpeg_exe
from v2vcli.io.frames import read_image
from v2vcli.io.video import probe_video


@pytest.fixture(scope="module")
def pose_dataset(tmp_path_factory, example_target):
    output = tmp_path_factory.mktemp("prepare") / "dataset"
    # the 256x256 clip stored at the tiny preset's training size
    result = CliRunner().invoke(app, ["prepare", str(example_target), "-o", str(output), "--preset", "tiny",
                                      "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return output, json.loads(result.stdout)


def test_pose_dataset_has_every_part_for_every_frame(pose_dataset, example_target):
    output, summary = pose_dataset
    frames = probe_video(example_target).frame_count
    assert summary["frames"] == frames and summary["size"] == [128, 128]
    info = open_dataset(output)
    assert info.condition == "pose" and info.num_classes == 3 and info.size == (128, 128)
    sequence = info.sequences[0]
    assert len(sequence.frames) == len(sequence.labels) == len(sequence.masks) == frames
    assert len(sequence.flows) == frames - 1 and sequence.flows[0].suffix == ".png"  # compact flow
    assert "shoulders" in info.pose_stats


@pytest.mark.parametrize("source, preset_name, size", [
    ((1920, 1080), "base", (512, 288)), ((1920, 1080), "tiny", (128, 72)), ((1920, 1080), "hd", (1024, 576)),
    ((1768, 994), "base", (512, 280)), ((1080, 1920), "small", (144, 256)), ((96, 64), "base", (96, 64)),
    ((100, 66), "base", (96, 64)),
])
def test_datasets_are_stored_at_the_size_the_preset_trains(source, preset_name, size):
    assert preset_size(source, preset_name) == size
    config = preset(preset_name)
    # training fits the dataset's size to the preset: it finds it already fitted and reads frames as stored
    info = SimpleNamespace(size=size)
    assert choose_size(info, config.data, config.model.size_multiple) == size


def test_an_unknown_preset_is_refused_before_any_work(tmp_path, short_clip):
    result = CliRunner().invoke(app, ["prepare", str(short_clip), "-o", str(tmp_path / "d"), "--preset", "huge"])
    assert result.exit_code == 1 and "unknown preset 'huge'; choose one of tiny, small, base, hd" in result.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.real
@pytest.mark.slow
def test_a_1080p_clip_prepared_with_defaults_takes_under_1_mb_a_frame(tmp_path, footage):
    """Real footage scaled to 1920x1080 (8 frames): the base preset's dataset, flow included, is <= 1 MB a frame."""
    video = tmp_path / "full-hd.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(footage("sports2d")), "-ss", "4", "-frames:v", "8",
                    "-vf", "scale=1920:1080", "-c:v", "libx264", "-crf", "18", "-an", str(video)], check=True)
    output = tmp_path / "dataset"
    result = CliRunner().invoke(app, ["prepare", str(video), "-o", str(output), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["size"] == [512, 288]
    info = open_dataset(output)
    sequence = info.sequences[0]
    assert len(sequence.frames) == len(sequence.labels) == len(sequence.masks) == 8 and len(sequence.flows) == 7
    assert read_flow(sequence.flows[0]).shape == (288, 512, 2)
    disk = sum(path.stat().st_size for path in output.rglob("*") if path.is_file())
    assert disk / 8 <= 1_000_000, f"{disk / 8 / 1e6:.2f} MB a frame"


def test_pose_labels_and_masks_sit_on_the_person(pose_dataset):
    output, _ = pose_dataset
    labels = np.stack([read_image(output / "target" / "labels" / f"{i:06d}.png") for i in range(0, 96, 8)])
    masks = np.stack([read_image(output / "target" / "masks" / f"{i:06d}.png") for i in range(0, 96, 8)])
    assert set(np.unique(masks)) <= {0, 255}
    drawn = labels.max(axis=3) > 0
    assert drawn.any(axis=(1, 2)).all(), "every sampled frame has a rendered pose"
    # the limbs are drawn where the person is
    assert (masks[drawn] == 255).mean() > 0.8
    assert 0.05 < (masks == 255).mean() < 0.8  # the person, not the whole frame or none of it


def test_pose_dataset_records_its_masks_backend(pose_dataset):
    meta = json.loads((pose_dataset[0] / "dataset.json").read_text())
    assert meta["masks"] == {"backend": "pose"} and "segmentation" not in meta


@pytest.mark.parametrize("options, backend", [([], "pose"),
                                              (["--backend", "mediapipe", "--threshold", "0.4"], "selfie")])
def test_segment_dataset_records_how_its_labels_were_made(tmp_path, short_clip, options, backend):
    output = tmp_path / "segments"
    result = CliRunner().invoke(app, ["prepare", str(short_clip), "-o", str(output), "--condition", "segment",
                                      "--no-flow", "--quiet", *options])
    assert result.exit_code == 0, result.output
    info = open_dataset(output)
    meta = json.loads((output / "dataset.json").read_text())
    assert info.condition == "segment" and info.num_classes == len(meta["classes"]) == 2
    assert info.sequences[0].flows is None and len(info.sequences[0].labels) == 12
    threshold = 0.4 if options else 0.5
    assert meta["segmentation"] == {"backend": backend, "model": None, "weights": None, "threshold": threshold}
    assert meta["masks"] == {"backend": "pose"}
    labels = np.stack([read_image(path) for path in info.sequences[0].labels])
    masks = np.stack([read_image(path) for path in info.sequences[0].masks])
    if backend == "pose":  # the labels are the masks: one model run
        assert np.array_equal(masks == 255, labels == 1)


@pytest.mark.slow
def test_masks_from_the_selfie_backend_and_a_backend_that_cannot_make_masks(tmp_path, example_target, short_clip):
    selfie = tmp_path / "selfie"
    result = CliRunner().invoke(app, ["prepare", str(example_target), "-o", str(selfie), "--mask-backend", "selfie",
                                      "--size", "64x64", "--no-flow", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((selfie / "dataset.json").read_text())["masks"] == {"backend": "selfie"}
    masks = np.stack([read_image(path) for path in open_dataset(selfie).sequences[0].masks])
    assert set(np.unique(masks)) == {0, 255} and 0.05 < (masks == 255).mean() < 0.8
    refused = CliRunner().invoke(app, ["prepare", str(short_clip), "-o", str(tmp_path / "d"), "--mask-backend",
                                       "segformer"])
    assert refused.exit_code == 1 and "masks need a person segmentation backend (pose, selfie)" in refused.stderr
    assert not (tmp_path / "d").exists()


def test_no_person_is_refused_and_leaves_nothing(tmp_path):
    flat = [np.full((64, 64, 3), 90 + i, np.uint8) for i in range(6)]
    video = encode(tmp_path / "empty_room.mp4", flat, 64, 64, "24", ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    output = tmp_path / "dataset"
    result = CliRunner().invoke(app, ["prepare", str(video), "-o", str(output), "--quiet"])
    assert result.exit_code == 1 and "no person was found" in result.stderr
    assert not output.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["empty_room.mp4"]


def test_bad_condition_and_existing_output(tmp_path, short_clip, pose_dataset):
    bad = CliRunner().invoke(app, ["prepare", str(short_clip), "-o", str(tmp_path / "d"), "--condition", "depth"])
    assert bad.exit_code == 1 and "pose, segment" in bad.stderr
    existing = CliRunner().invoke(app, ["prepare", str(short_clip), "-o", str(pose_dataset[0])])
    assert existing.exit_code == 1 and "--overwrite" in existing.stderr
