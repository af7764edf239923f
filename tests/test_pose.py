"""`v2v pose` and its library: real mediapipe on real photos and clips, poses.json, pose.mp4, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import encode
from typer.testing import CliRunner

from v2vcli import weights
from v2vcli.cli import app
from v2vcli.errors import BadInput
from v2vcli.io.video import probe_video, read_frames
from v2vcli.preprocess.mediapipe_pose import MEDIAPIPE_LAYOUT
from v2vcli.preprocess.pose import PoseConfig, estimate_poses, read_poses, run_pose
from v2vcli.preprocess.render import render_pose
from v2vcli.preprocess.smoothing import OneEuroFilter

NOSE, LEFT_SHOULDER, RIGHT_SHOULDER = 0, 11, 12
runner = CliRunner()


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def moved(photo: np.ndarray, frames: int, size: int = 128):
    """`photo` shrunk to `size` and moved along a smooth path: a clip with motion and real texture."""
    import cv2

    for index in range(frames):
        angle = 2 * np.pi * index / frames
        matrix = np.float32([[0.9, 0, 6 * np.sin(angle) + 6], [0, 0.9, 4 * np.cos(angle) + 6]])
        yield cv2.warpAffine(cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA), matrix, (size, size),
                             borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def person_clip(example_target, tmp_path_factory) -> Path:
    if example_target.is_file():
        return example_target
    path = tmp_path_factory.mktemp("pose") / "person.mp4"
    return encode(path, moved(astronaut(), 48, 256), 256, 256, "24", ["-c:v", "libx264", "-pix_fmt", "yuv420p"])


@pytest.fixture(scope="module")
def empty_clip(tmp_path_factory) -> Path:
    from skimage import data

    # A cup on a saucer: at 128 px mediapipe's default detection threshold (0.5) sees a person in it.
    path = tmp_path_factory.mktemp("pose") / "coffee.mp4"
    return encode(path, moved(data.coffee(), 12, 128), 128, 128, "25", ["-c:v", "libx264", "-pix_fmt", "yuv420p"])


@pytest.fixture(scope="module")
def person_run(person_clip, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run") / "out"
    return out, run_pose(person_clip, out, quiet=True)


def test_astronaut_nose_and_shoulders_where_a_person_puts_them():
    # Placed by eye on the 512x512 photo: tip of the nose, and the centre of each shoulder joint inside
    # the suit (her left shoulder is on the image's right).
    expected = {NOSE: (223, 126), LEFT_SHOULDER: (312, 258), RIGHT_SHOULDER: (108, 245)}
    (pose,) = estimate_poses([astronaut()], fps=1)
    assert pose is not None and pose.landmarks.shape == (1, MEDIAPIPE_LAYOUT.count, 5)
    for index, point in expected.items():
        distance = np.hypot(*(pose.landmarks[0, index, :2] - point))
        assert distance <= 15, f"landmark {index} is {distance:.1f} px from {point}"
    assert (pose.landmarks[0, [NOSE, LEFT_SHOULDER, RIGHT_SHOULDER], 3] > 0.9).all()


def test_two_people_found_by_default_one_with_num_poses_one():
    import cv2

    small = cv2.resize(astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    pair = np.concatenate([small, np.zeros((256, 128, 3), np.uint8), small[:, ::-1]], axis=1)
    # The detector sees a square; a wide strip would make each person tiny.
    pair = np.concatenate([pair, np.zeros_like(pair)], axis=0)
    (one,) = estimate_poses([pair], fps=1, config=PoseConfig(num_poses=1))
    (two,) = estimate_poses([pair], fps=1)  # several people by default
    assert one.people == 1 and two.people == 2 and two.ids == (0, 1)
    noses = sorted(two.landmarks[:, NOSE, 0])
    assert noses[0] < 256 < 384 < noses[1]


def test_clip_with_a_person_outputs_match_the_input(person_clip, person_run):
    out, summary = person_run
    info = probe_video(person_clip)
    header, frames = read_poses(out / "poses.json")
    assert summary["frames"] == len(frames) == header["frame_count"] == info.frame_count
    found = sum(pose is not None for pose in frames)
    assert found >= 0.95 * len(frames) and summary["frames_with_person"] == found
    assert (header["width"], header["height"]) == (info.width, info.height)
    video = probe_video(out / "pose.mp4")
    assert (video.width, video.height, video.fps, video.frame_count) == (info.width, info.height, info.fps,
                                                                         info.frame_count)
    first = next(read_frames(out / "pose.mp4"))
    assert 0.002 < (first.max(axis=2) > 60).mean() < 0.2  # limbs drawn, the rest black
    assert sorted(os.listdir(out)) == ["pose.mp4", "poses.json"]


def test_clip_without_a_person_gives_all_null(empty_clip, tmp_path):
    summary = run_pose(empty_clip, tmp_path / "out", quiet=True)
    header, frames = read_poses(tmp_path / "out" / "poses.json")
    assert all(pose is None for pose in frames) and len(frames) == 12 and summary["frames_with_person"] == 0
    assert all(frame.max() < 30 for frame in read_frames(tmp_path / "out" / "pose.mp4"))


@pytest.mark.slow
def test_cli_json_overlay_and_no_smooth_reduces_nothing(person_clip, person_run, tmp_path):
    result = runner.invoke(app, ["pose", str(person_clip), "-o", str(tmp_path / "raw"), "--no-smooth", "--overlay",
                                 "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["frames"] > 0 and summary["output"] == str(tmp_path / "raw")
    raw_header, raw = read_poses(tmp_path / "raw" / "poses.json")
    smooth_header, smooth = read_poses(person_run[0] / "poses.json")
    assert raw_header["smoothing"] is None and smooth_header["smoothing"]["filter"] == "local_quadratic"

    def jitter(frames):  # mean size of the second difference of the visible upper-body points over time
        track = np.stack([frame[0, :17, :2] for frame in frames if frame is not None])
        return np.abs(np.diff(track, n=2, axis=0)).mean()

    assert jitter(smooth) < 0.9 * jitter(raw)
    # --overlay draws on the input: the first frame is the photo, not black.
    first = next(read_frames(tmp_path / "raw" / "pose.mp4"))
    assert (first.max(axis=2) > 60).mean() > 0.5


def test_cli_as_a_subprocess_writes_beside_the_video_without_log_noise(empty_clip, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(empty_clip.read_bytes())
    result = subprocess.run([sys.executable, "-m", "v2vcli", "pose", str(clip), "--num-poses", "2"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "clip_pose" / "poses.json").is_file() and (tmp_path / "clip_pose" / "pose.mp4").is_file()
    assert "0/12 frames with a person" in result.stdout
    assert result.stderr == ""  # mediapipe's native log lines are kept off the user's terminal


def test_missing_model_is_one_line_and_leaves_no_output(empty_clip, tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "_PROJECT_ROOT", tmp_path)
    monkeypatch.delenv("V2V_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    for extra, message in (([], "build_mediapipe_models.py"),
                           (["--pose-model", str(tmp_path / "none.task")], "none.task: model file not found")):
        result = runner.invoke(app, ["pose", str(empty_clip), "-o", str(tmp_path / "out"), *extra])
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
        assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_unusable_model_file_and_existing_output_are_refused(empty_clip, tmp_path):
    bogus = tmp_path / "bogus.task"
    bogus.write_text("not a model")
    result = runner.invoke(app, ["pose", str(empty_clip), "-o", str(tmp_path / "out"), "--pose-model", str(bogus)])
    assert result.exit_code == 1 and "bogus.task: not a usable pose landmarker model" in result.stderr
    assert not (tmp_path / "out").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["pose", str(empty_clip), "-o", str(existing)])
    assert result.exit_code == 1 and "--overwrite" in result.stderr
    assert sorted(os.listdir(existing)) == ["keep.txt"]


def test_poses_json_that_is_not_ours_is_bad_input(tmp_path):
    path = tmp_path / "poses.json"
    path.write_text('{"frames": []}')
    with pytest.raises(BadInput, match="not a poses.json"):
        read_poses(path)


def test_render_is_pure_and_colours_each_limb():
    keypoints = np.zeros((MEDIAPIPE_LAYOUT.count, 5), np.float32)
    keypoints[:, 3] = 0.0  # nothing visible...
    keypoints[LEFT_SHOULDER] = (90, 40, 0, 1, 1)  # ...but the two shoulders
    keypoints[RIGHT_SHOULDER] = (30, 40, 0, 1, 1)
    background = np.full((64, 120, 3), 50, np.uint8)
    image = render_pose(keypoints, (120, 64))
    assert image.shape == (64, 120, 3) and image.dtype == np.uint8
    limb = MEDIAPIPE_LAYOUT.limb_colours[MEDIAPIPE_LAYOUT.connections.index((11, 12))]
    assert (image[40, 60] == limb).all()
    assert image[:30].max() == 0 and image[50:].max() == 0  # black away from the limb
    assert (render_pose(keypoints, (120, 64)) == image).all()
    over = render_pose(keypoints, (120, 64), background=background)
    assert (over[40, 60] == limb).all() and (over[5, 5] == 50).all() and (background == 50).all()
    assert render_pose(None, (120, 64)).max() == 0


def test_live_one_euro_reduces_jitter_and_follows_motion():
    rng = np.random.default_rng(0)
    fps, size = 24.0, 200.0
    times = np.arange(240) / fps
    for amplitude in (0.0, 30.0):  # a still joint, and one moving 30 px back and forth twice a second... slowly
        truth = np.stack([100 + amplitude * np.sin(np.pi * times), np.full_like(times, 50.0)], axis=1)
        noisy = truth + rng.normal(0, 2.0, truth.shape)
        smoother = OneEuroFilter(PoseConfig().live_smoothing)
        smoothed = np.array([smoother(t, value, scale=size) for t, value in zip(times, noisy, strict=True)])
        error_raw = np.sqrt(((noisy - truth)[12:] ** 2).mean())
        error_smoothed = np.sqrt(((smoothed - truth)[12:] ** 2).mean())
        assert error_smoothed < 0.8 * error_raw, (amplitude, error_raw, error_smoothed)


def test_segmentation_masks_come_with_the_poses_only_when_asked():
    photo = astronaut()
    (plain,) = estimate_poses([photo], fps=1)
    (masked,) = estimate_poses([photo], fps=1, config=PoseConfig(segmentation_masks=True))
    assert plain.segmentation is None
    mask = masked.segmentation
    assert mask.shape == photo.shape[:2] and mask.dtype == np.float32 and 0 <= mask.min() <= mask.max() <= 1
    np.testing.assert_allclose(masked.landmarks, plain.landmarks, atol=1e-4)  # the masks change no keypoint
    person = mask > 0.5
    # On the person (between the shoulders, below the nose), not in the top corners.
    nose, left, right = plain.landmarks[0, [NOSE, LEFT_SHOULDER, RIGHT_SHOULDER], :2].round().astype(int)
    assert person[nose[1] + 30, nose[0]] and person[(left[1] + right[1]) // 2, (left[0] + right[0]) // 2]
    assert not person[:40, :40].any() and not person[:40, -40:].any() and 0.2 < person.mean() < 0.7
