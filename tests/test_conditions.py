"""Condition types from one registry: prepare, train, generate --from and eval for segment, edges and face."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.conditions import base, condition_named, condition_names
from v2vcli.data.conditions import encode_conditions
from v2vcli.data.layout import open_dataset
from v2vcli.errors import BadInput
from v2vcli.io.ffmpeg import ffmpeg_exe
from v2vcli.io.frames import read_image
from v2vcli.io.video import read_frames

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(arg) for arg in args])


def test_the_registry_has_every_condition_and_refuses_an_unknown_one():
    assert condition_names()[:4] == ["pose", "segment", "edges", "face"]
    with pytest.raises(BadInput, match="unknown condition 'sketch'; choose one of: pose, segment, edges, face"):
        condition_named("sketch")
    for command in ("prepare", "generate"):
        result = invoke(command, "--help")
        assert all(name in result.output for name in ("pose", "segment", "edges", "face")), result.output


def test_each_condition_encodes_its_maps_for_the_network():
    edges = np.zeros((2, 8, 8), np.uint8)
    edges[:, 3] = 255
    encoded = encode_conditions(edges, "edges", 1)
    assert encoded.shape == (2, 1, 8, 8) and encoded[0, 0, 3].eq(1).all() and encoded[0, 0, 0].eq(-1).all()
    assert condition_named("edges").channels(1) == 1 and condition_named("face").channels(3) == 3
    sketch = np.zeros((2, 8, 8, 3), np.uint8)
    assert encode_conditions(sketch, "face", 3).shape == (2, 3, 8, 8)
    ids = np.array([[[0, 2], [1, 0]]], np.uint8)
    assert torch.equal(encode_conditions(ids, "segment", 3)[0].argmax(0), torch.from_numpy(ids[0]).long())
    with pytest.raises(BadInput, match=r"edges condition maps must be \(T, H, W\)"):
        encode_conditions(sketch, "edges", 1)
    with pytest.raises(BadInput, match=r"face condition maps must be \(T, H, W, 3\)"):
        encode_conditions(edges, "face", 3)


def test_a_face_sketch_draws_the_contours_in_colour_and_white_edges_only_outside_the_face():
    from skimage import data

    from v2vcli.conditions.face_sketch import FaceFinder, face_region, face_sketch
    from v2vcli.preprocess.edges import EdgeDetector, estimate_thresholds

    photo = data.astronaut()[:, :, :3]
    with FaceFinder(30) as finder:
        landmarks = finder(photo)
    assert landmarks is not None and 150 < landmarks[:, 0].mean() < 300 and 50 < landmarks[:, 1].mean() < 250
    edges = EdgeDetector(estimate_thresholds([photo]), temporal=False)(photo)
    sketch = face_sketch(landmarks, (512, 512), edges)
    white = (sketch == 255).all(axis=2)
    coloured = sketch.any(axis=2) & ~white
    inside = face_region(landmarks, (512, 512), 0)
    assert not white[inside].any(), "no edge inside the face oval"
    assert white[~inside].sum() > 1000 and np.array_equal(white, (edges > 0) & ~face_region(landmarks, (512, 512), 4))
    assert coloured[inside].sum() > 500, "the eyes, nose and lips are drawn in colour"
    assert np.array_equal(face_sketch(None, (512, 512), edges)[..., 0], edges), "without a face: every edge"
    assert not (face_sketch(landmarks, (512, 512)) == 255).all(axis=2).any(), "no white without edges"


@pytest.fixture(scope="module")
def edges_dataset(tmp_path_factory, short_clip):
    output = tmp_path_factory.mktemp("edges") / "dataset"
    result = invoke("prepare", short_clip, "-o", output, "--condition", "edges", "--no-masks", "--quiet", "--json")
    assert result.exit_code == 0, result.output
    return output


def test_prepare_edges_stores_single_channel_maps_by_the_video_wide_rule(edges_dataset, short_clip):
    from v2vcli.preprocess.edges import edge_frames, estimate_thresholds

    meta = json.loads((edges_dataset / "dataset.json").read_text())
    assert meta["condition"] == "edges" and meta["num_classes"] == 1
    assert meta["edges"] == {"blur": 1.0, "percentile": 90.0, "low_ratio": 0.4, "temporal": True, "flow": "dis-fast"}
    info = open_dataset(edges_dataset)
    assert info.condition == "edges" and info.label_channels == 1
    maps = [read_image(path) for path in info.sequences[0].labels]
    frames = [read_image(path) for path in info.sequences[0].frames]
    assert all(edge_map.ndim == 2 and set(np.unique(edge_map)) <= {0, 255} for edge_map in maps)
    # the maps are the documented rule over the whole video, thresholds from all of its frames
    expected = edge_frames(frames, estimate_thresholds(frames))
    assert all(np.array_equal(made, rule) for made, rule in zip(maps, expected, strict=True))
    assert np.mean([edge_map.mean() / 255 for edge_map in maps]) > 0.02


def test_a_dataset_of_an_unknown_condition_is_refused_in_one_line(edges_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(edges_dataset, copy)
    meta = json.loads((copy / "dataset.json").read_text())
    (copy / "dataset.json").write_text(json.dumps({**meta, "condition": "sketch"}))
    result = invoke("train", copy, "--name", "x", "--output-dir", tmp_path / "runs")
    assert result.exit_code == 1 and "condition 'sketch' is not one of pose, segment, edges, face" in result.output


@pytest.fixture
def toy_condition(monkeypatch):
    """A condition added the way the docs say: one class (registering itself). It is gone after the test."""
    monkeypatch.setattr(base, "_REGISTERED", dict(base._REGISTERED))

    class InvertedMaps(base.MapMaker):
        def add(self, index, frame):
            return 255 - frame.mean(axis=2).astype(np.uint8), None

    class InvertedGray(base.Condition):
        name = "inverted"
        summary = "the frame's gray levels, inverted"
        stored_channels = 1

        def map_maker(self, config, size, fps):
            return InvertedMaps()

        def video_maps(self, video, info, model, config):
            frames = base.video_frames(video, info, model.render_size)
            return base.VideoMaps(model.fit(255 - frame.mean(axis=2).astype(np.uint8)) for frame in frames)

    return InvertedGray


@pytest.mark.slow
def test_a_condition_added_as_one_class_prepares_trains_and_generates(toy_condition, short_clip, tmp_path):
    dataset, runs = tmp_path / "dataset", tmp_path / "runs"
    result = invoke("prepare", short_clip, "-o", dataset, "--condition", "inverted", "--no-masks", "--quiet")
    assert result.exit_code == 0, result.output
    assert open_dataset(dataset).label_channels == 1
    result = invoke("train", dataset, "--name", "toy", "--preset", "tiny", "--steps", "1", "--device", "cpu",
                    "--output-dir", runs, "--no-vgg", "--quiet")
    assert result.exit_code == 0, result.output
    output = tmp_path / "toy.mp4"
    result = invoke("generate", short_clip, "--model", runs / "toy", "--from", "inverted", "-o", output, "--quiet")
    assert result.exit_code == 0, result.output
    assert len(list(read_frames(output))) == 12
    result = invoke("generate", short_clip, "--model", runs / "toy", "--from", "edges", "-o", tmp_path / "x.mp4")
    assert result.exit_code == 1 and "the model takes inverted maps, not --from edges" in result.output


def excerpt(source: Path, output: Path, start: float, frames: int, filters: str) -> Path:
    """`frames` frames of `source` from `start` seconds, through ffmpeg `filters`, as a small H.264 file."""
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-ss", str(start), "-i", str(source), "-frames:v", str(frames),
                    "-vf", filters, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-an", str(output)], check=True)
    return output


# condition -> (footage, ffmpeg filters to a small size the tiny preset keeps, prepare options)
REAL_CASES = {
    "segment": ("talking-head", "scale=128:72", ["--backend", "selfie"]),
    "edges": ("dashcam", "scale=96:56", []),
    "face": ("talking-head", "scale=128:72", []),
}


@pytest.fixture(scope="module", params=list(REAL_CASES))
def trained(request, footage, tmp_path_factory):
    """(condition, folder, model, training clip, held-out clip): a tiny model trained 2 steps on 12 frames."""
    condition = request.param
    clip, filters, options = REAL_CASES[condition]
    folder = tmp_path_factory.mktemp(condition)
    train_clip = excerpt(footage(clip), folder / "train.mp4", 1.0, 12, filters)
    held_out = excerpt(footage(clip), folder / "held_out.mp4", 5.0, 8, filters)
    result = invoke("prepare", train_clip, "-o", folder / "dataset", "--condition", condition, "--no-masks",
                    "--quiet", *options)
    assert result.exit_code == 0, result.output
    result = invoke("train", folder / "dataset", "--name", condition, "--preset", "tiny", "--steps", "2",
                    "--device", "cpu", "--output-dir", folder / "runs", "--no-vgg", "--quiet")
    assert result.exit_code == 0, result.output
    return condition, folder, folder / "runs" / condition, train_clip, held_out


@pytest.mark.real
@pytest.mark.slow
def test_real_footage_prepares_trains_generates_and_evaluates(trained):
    from v2vcli.training.checkpoint import load_generator

    condition, folder, model, _, held_out = trained
    info = open_dataset(folder / "dataset")
    labels = read_image(info.sequences[0].labels[0])
    assert labels.ndim == (2 if condition in ("segment", "edges") else 3) and labels.any()
    config = load_generator(model, torch.device("cpu"))[1]
    assert config.data.condition == condition and config.model.label_channels == info.label_channels
    output = folder / "generated.mp4"
    result = invoke("generate", held_out, "--model", model, "--from", condition, "-o", output, "--device", "cpu",
                    "--quiet", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["frames"] == 8
    result = invoke("eval", output, "--reference", held_out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert 0 < summary["psnr"] < 100 and 0 < summary["ssim"] < 1 and summary["warp_error"] >= 0


@pytest.mark.real
@pytest.mark.slow
def test_real_model_refuses_other_conditions_and_takes_its_own_map_folders(trained):
    condition, folder, model, train_clip, _ = trained
    other = "pose" if condition != "pose" else "edges"
    result = invoke("generate", train_clip, "--model", model, "--from", other, "-o", folder / "x.mp4")
    assert result.exit_code == 1 and f"the model takes {condition} maps, not --from {other}" in result.output
    result = invoke("generate", train_clip, "--model", model, "-o", folder / "x.mp4")
    assert result.exit_code == 1 and f"raw video with --from {condition}" in result.output
    assert not (folder / "x.mp4").exists()
    labels = folder / "dataset" / "train" / "labels"
    result = invoke("generate", labels, "--model", model, "-o", folder / "from_labels.mp4", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(list(read_frames(folder / "from_labels.mp4"))) == 12
