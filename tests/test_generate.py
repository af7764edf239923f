"""Generation and dance transfer with a tiny model trained in the test on the example clip."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.io.video import probe_video, read_frames

# Every test here trains a model first (14 s) or runs the demo model on the example clip (6-45 s).
pytestmark = pytest.mark.slow


def invoke(*args: str):
    return CliRunner().invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, example_target):
    """weights/person: the tiny preset trained for 2 steps on the example target at 64x64."""
    root = tmp_path_factory.mktemp("models")
    dataset = root / "dataset"
    assert invoke("prepare", example_target, "-o", dataset, "--size", "64x64", "--quiet").exit_code == 0
    result = invoke("train", dataset, "--name", "person", "--preset", "tiny", "--steps", "2",
                    "--output-dir", root / "weights", "--quiet")
    assert result.exit_code == 0, result.output
    return root / "weights" / "person"


@pytest.fixture()
def in_weights(trained, monkeypatch):
    monkeypatch.setenv("V2V_WEIGHTS", str(trained.parent))
    return trained


def test_dance_keeps_frames_fps_and_audio_of_the_source(tmp_path, in_weights, example_source):
    output = tmp_path / "dance.mp4"
    result = invoke("dance", "--source", example_source, "--target", "person", "-o", output, "--quiet", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    source, made = probe_video(example_source), probe_video(output)
    assert made.frame_count == source.frame_count and made.fps == source.fps
    assert made.has_audio and (made.width, made.height) == (64, 64)
    assert summary["frames_with_person"] == source.frame_count
    frames = list(read_frames(output))
    assert np.std([frame.mean() for frame in frames]) > 0 or np.ptp(frames[0]) > 0  # not a blank video

    wide = tmp_path / "wide.mp4"
    assert invoke("dance", "-s", example_source, "-t", in_weights, "-o", wide, "--side-by-side", "-q").exit_code == 0
    assert probe_video(wide).width == 3 * 64


def test_generate_from_a_pose_video_and_from_raw_video(tmp_path, in_weights, example_source, silent_clip):
    poses = tmp_path / "poses"
    assert invoke("pose", example_source, "-o", poses, "--quiet").exit_code == 0
    output = tmp_path / "generated.mp4"
    result = invoke("generate", poses / "pose.mp4", "--model", "person", "-o", output, "-q", "--audio",
                    example_source)
    assert result.exit_code == 0, result.output
    info = probe_video(output)
    source = probe_video(example_source)
    assert info.frame_count == source.frame_count and info.fps == source.fps and info.has_audio

    raw = tmp_path / "raw.mp4"
    assert invoke("generate", silent_clip, "--from", "pose", "-m", "person", "-o", raw, "-q").exit_code == 0
    assert probe_video(raw).frame_count == 12 and not probe_video(raw).has_audio  # silent source: silent result


def test_models_lists_the_trained_model(in_weights):
    result = invoke("models", "--json")
    assert result.exit_code == 0, result.output
    entry = next(item for item in json.loads(result.stdout) if item["name"] == "person")
    assert entry["condition"] == "pose" and entry["size"] == [64, 64] and entry["preset"] == "tiny"


def test_unknown_model_and_mismatched_input(tmp_path, in_weights, example_source):
    unknown = invoke("dance", "-s", example_source, "-t", "nobody", "-o", tmp_path / "x.mp4")
    assert unknown.exit_code == 1 and "no model named 'nobody'" in unknown.stderr and "person" in unknown.stderr
    labels = tmp_path / "labels"
    labels.mkdir()
    from v2vcli.io.frames import write_image

    write_image(labels / "000000.png", np.zeros((64, 64), np.uint8))
    mismatch = invoke("generate", labels, "-m", "person", "-o", tmp_path / "y.mp4")
    assert mismatch.exit_code == 1 and "needs RGB pose maps" in mismatch.stderr
    wrong_source = invoke("generate", example_source, "-m", "person", "--from", "segment", "-o", tmp_path / "z.mp4")
    assert wrong_source.exit_code == 1 and "takes pose maps" in wrong_source.stderr
    assert not any(path.suffix == ".mp4" for path in tmp_path.iterdir())


def test_shipped_demo_model_dances_the_example(tmp_path, example_source, monkeypatch):
    monkeypatch.delenv("V2V_WEIGHTS", raising=False)
    monkeypatch.chdir(tmp_path)  # found through the source tree's weights/, not ./weights
    output = tmp_path / "demo.mp4"
    result = invoke("dance", "--source", example_source, "--target", "demo", "-o", output, "-q", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"].endswith("weights/demo/generator.safetensors")
    made = probe_video(output)
    assert made.frame_count == 96 and made.has_audio


def test_demo_command_runs_the_whole_path(tmp_path, example_source):
    result = invoke("demo", "--output", tmp_path / "demo", "--steps", "2", "--quiet", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    video = probe_video(summary["dance"]["output"])
    source = probe_video(example_source)
    assert video.frame_count == source.frame_count and video.fps == source.fps and video.has_audio
    assert video.width == 3 * video.height  # source | pose | result
    assert (tmp_path / "demo" / "weights" / "demo" / "checkpoint-0000002").is_dir()


class FedMaps:
    """Records the condition maps `LoadedModel.generate` receives, per run."""

    def __init__(self, monkeypatch):
        from v2vcli.inference.generate import LoadedModel

        self.runs: list[list[np.ndarray]] = []
        original = LoadedModel.generate

        def generate(model, condition_map):
            self.runs[-1].append(np.array(condition_map, copy=True))
            return original(model, condition_map)

        monkeypatch.setattr(LoadedModel, "generate", generate)

    def invoke(self, *args: str):
        self.runs.append([])
        return invoke(*args)


@pytest.fixture(scope="module")
def dancer_poses(tmp_path_factory, example_source):
    """`v2v pose` of the first 24 frames of the example source (256x256): OUT/pose.mp4 and OUT/poses.json."""
    from itertools import islice

    from conftest import encode

    folder = tmp_path_factory.mktemp("dancer")
    clip = encode(folder / "dancer.mp4", islice(read_frames(example_source), 24), 256, 256, "24",
                  ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    assert invoke("pose", clip, "-o", folder / "poses", "--quiet").exit_code == 0
    return folder / "poses"


def rendered_as_training(poses_json, folder, size=(64, 64)):
    """The keypoints of `poses_json` rendered as `v2v prepare` renders training maps, as a PNG folder."""
    from v2vcli.io.frames import write_image
    from v2vcli.preprocess.pose import read_poses
    from v2vcli.preprocess.render import render_pose

    header, frames = read_poses(poses_json)
    scale = np.array([size[0] / header["width"], size[1] / header["height"], 1, 1, 1], np.float32)
    folder.mkdir()
    for index, landmarks in enumerate(frames):
        write_image(folder / f"{index:06d}.png", render_pose(None if landmarks is None else landmarks * scale, size))
    return folder


def test_pose_video_is_rendered_from_its_poses_json_exactly_as_training_maps(tmp_path, in_weights, dancer_poses,
                                                                             monkeypatch):
    poses = dancer_poses
    reference = rendered_as_training(poses / "poses.json", tmp_path / "rendered")
    fed = FedMaps(monkeypatch)
    outputs = {name: tmp_path / f"{name}.mp4" for name in ("video", "json", "png", "lossy")}
    from_video = fed.invoke("generate", poses / "pose.mp4", "-m", "person", "-o", outputs["video"], "-q", "--json")
    assert from_video.exit_code == 0, from_video.output
    assert "warning" not in from_video.stderr
    assert json.loads(from_video.stdout)["condition"] == str(poses / "poses.json")
    assert fed.invoke("generate", poses / "poses.json", "-m", "person", "-o", outputs["json"], "-q").exit_code == 0
    assert fed.invoke("generate", reference, "-m", "person", "-o", outputs["png"], "-q").exit_code == 0
    video_maps, json_maps, png_maps = fed.runs
    assert len(video_maps) == len(png_maps) == 24
    for maps in (video_maps, json_maps):
        assert all(np.array_equal(a, b) for a, b in zip(maps, png_maps, strict=True))
    frames = [list(read_frames(outputs[name])) for name in ("video", "json", "png")]
    assert all(np.array_equal(a, b) and np.array_equal(a, c) for a, b, c in zip(*frames, strict=True))

    # pose.mp4 alone: read from the lossy video, said once on stderr; its limb colours are off.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(poses / "pose.mp4", alone / "pose.mp4")
    lossy = fed.invoke("generate", alone / "pose.mp4", "-m", "person", "-o", outputs["lossy"], "-q")
    assert lossy.exit_code == 0, lossy.output
    warnings = [line for line in lossy.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "no poses.json beside it" in warnings[0] and "compression" in warnings[0]
    limbs = np.stack(png_maps).max(axis=3) > 0
    error = np.abs(np.stack(fed.runs[-1]).astype(int) - np.stack(png_maps)).max(axis=3)
    assert (error[limbs] > 32).mean() > 0.2  # what the keypoint path avoids


def test_poses_json_that_does_not_match_the_video_is_not_used(tmp_path, in_weights, dancer_poses, short_clip):
    poses = tmp_path / "poses"
    poses.mkdir()
    shutil.copy(dancer_poses / "poses.json", poses / "poses.json")
    shutil.copy(short_clip, poses / "pose.mp4")  # 12 frames of 96x64: not what poses.json describes
    result = invoke("generate", poses / "pose.mp4", "-m", "person", "-o", tmp_path / "out.mp4", "-q", "--json")
    assert result.exit_code == 0, result.output
    assert "describes 24 frames of 256x256, the video has 12 of 96x64" in result.stderr
    assert json.loads(result.stdout)["frames"] == 12
    not_pose = invoke("generate", poses / "poses.json", "-m", "person", "--from", "pose", "-o", tmp_path / "x.mp4")
    assert not_pose.exit_code == 1 and "keypoints drive pose models only" in not_pose.stderr


@pytest.fixture(scope="module")
def segment_model(tmp_path_factory, short_clip):
    """weights/labels: the tiny preset trained for 2 steps on selfie labels of the short clip at 64x64."""
    root = tmp_path_factory.mktemp("segment_models")
    dataset = root / "dataset"
    made = invoke("prepare", short_clip, "-o", dataset, "--condition", "segment", "--backend", "selfie",
                  "--size", "64x64", "--no-flow", "--quiet")
    assert made.exit_code == 0, made.output
    result = invoke("train", dataset, "--name", "labels", "--preset", "tiny", "--steps", "2",
                    "--output-dir", root / "weights", "--quiet")
    assert result.exit_code == 0, result.output
    return root / "weights" / "labels"


def test_generate_from_segment_uses_the_datasets_backend_unless_told(tmp_path, segment_model, short_clip):
    runs = {}
    for name, options in (("recorded", []), ("pose", ["--backend", "pose", "--threshold", "0.3", "--smooth", "0.5"])):
        result = invoke("generate", short_clip, "--from", "segment", "-m", segment_model, "-o",
                        tmp_path / f"{name}.mp4", "-q", "--json", *options)
        assert result.exit_code == 0, result.output
        runs[name] = json.loads(result.stdout)
    assert runs["recorded"]["segmentation"]["backend"] == "selfie"
    assert runs["pose"]["segmentation"] | {"device": None} == {
        "backend": "pose", "model": None, "weights": None, "threshold": 0.3, "smooth": 0.5, "device": None}
    assert probe_video(tmp_path / "pose.mp4").frame_count == 12
    unknown = invoke("generate", short_clip, "--from", "segment", "-m", segment_model, "-b", "deeplab",
                     "-o", tmp_path / "x.mp4")
    assert unknown.exit_code == 1 and "choose one of: pose, selfie, detectron2, segformer" in unknown.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_dance_states_the_encoder_it_used_and_refuses_cuda_graphs_on_the_cpu(tmp_path, in_weights, example_source):
    output = tmp_path / "dance.mp4"
    result = invoke("dance", "-s", example_source, "-t", "person", "-o", output, "--encoder", "x264", "--device", "cpu",
                    "-q", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["encoder"] == "libx264" and summary["compiled"] is False and summary["cuda_graphs"] is False
    assert probe_video(output).frame_count == probe_video(example_source).frame_count

    refused = tmp_path / "refused.mp4"
    result = invoke("dance", "-s", example_source, "-t", "person", "-o", refused, "--device", "cpu", "--cuda-graphs",
                    "-q")
    assert result.exit_code == 1 and "needs a CUDA device" in result.output and not refused.exists()
