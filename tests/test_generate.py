"""Generation and dance transfer with a tiny model trained in the test on the example clip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.io.video import probe_video, read_frames


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
    assert info.frame_count == 96 and info.fps == 24 and info.has_audio

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
    assert mismatch.exit_code == 1 and "RGB pose renderings" in mismatch.stderr
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


def test_demo_command_runs_the_whole_path(tmp_path):
    result = invoke("demo", "--output", tmp_path / "demo", "--steps", "2", "--quiet", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    video = probe_video(summary["dance"]["output"])
    assert video.frame_count == 96 and video.fps == 24 and video.has_audio
    assert video.width == 3 * video.height  # source | pose | result
    assert (tmp_path / "demo" / "weights" / "demo" / "checkpoint-0000002").is_dir()
