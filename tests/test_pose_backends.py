"""Pose backends come from a registry the backend classes fill themselves: a backend defined here, in the
test alone (a 5-point star), runs through `v2v pose`, poses.json, rendering, normalization and `v2v
prepare` with no change anywhere else. Also: poses.json's timestamps and older versions, preview formats."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import encode, moving_photo
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.errors import BadInput
from v2vcli.io.frames import frame_paths, read_image
from v2vcli.io.video import frame_timestamps, probe_video
from v2vcli.preprocess.keypoints import KeypointLayout
from v2vcli.preprocess.normalize import PoseNormalizer, pose_statistics
from v2vcli.preprocess.pose import read_poses
from v2vcli.preprocess.pose_backend import POSE_BACKENDS, PoseEstimator, pose_backends
from v2vcli.preprocess.render import render_pose

runner = CliRunner()

# A pentagram: point 0 on top, then clockwise; each line joins every second point.
STAR = KeypointLayout(
    landmark_names=("top", "right", "bottom_right", "bottom_left", "left"),
    connections=((0, 2), (2, 4), (4, 1), (1, 3), (3, 0)),
    ground_joints=(("feet", (2, 3)), ("hands", (1, 4))),
    head=0,
)


def star(centre_x: float, centre_y: float, radius: float) -> np.ndarray:
    """(5, 5) keypoints of a star, all visible and present."""
    angles = -np.pi / 2 + np.arange(5) * 2 * np.pi / 5
    points = np.zeros((5, 5), np.float32)
    points[:, 0], points[:, 1] = centre_x + radius * np.cos(angles), centre_y + radius * np.sin(angles)
    points[:, 3:] = 1.0
    return points


@pytest.fixture()
def star_backend():
    """A pose backend written as a user would: one class, registered by being defined."""

    class StarPose(PoseEstimator):
        name = "star"
        layout = STAR
        summary = "a star in the middle of the frame, drifting right"

        def detect(self, frame, timestamp_ms):
            height, width = frame.shape[:2]
            return star(width / 2 + timestamp_ms / 100, height / 2, min(width, height) / 3)[None], None

    yield StarPose
    del POSE_BACKENDS["star"]


def test_a_backend_registers_itself_and_unknown_names_list_the_valid_ones(star_backend, short_clip, tmp_path):
    assert pose_backends()["star"] is star_backend and "mediapipe" in pose_backends()
    result = runner.invoke(app, ["pose", str(short_clip), "-o", str(tmp_path / "out"), "--pose-backend", "nope"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unknown pose backend 'nope'; choose one of: mediapipe, star"
    assert not (tmp_path / "out").exists()


def test_v2v_pose_with_a_backend_defined_in_a_test(star_backend, short_clip, tmp_path):
    output = tmp_path / "out"
    result = runner.invoke(app, ["pose", str(short_clip), "-o", str(output), "--pose-backend", "star",
                                 "--preview-format", "png", "--no-smooth", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["backend"] == "star" and summary["frames"] == summary["frames_with_person"] == 12
    assert summary["frames_per_second"] > 0 and "fps" not in summary  # throughput is not called a frame rate
    header, frames = read_poses(output / "poses.json")
    assert header["backend"] == "star" and header["landmark_names"] == list(STAR.landmark_names)
    assert header["connections"] == [list(pair) for pair in STAR.connections]
    assert all(frame.shape == (1, 5, 5) for frame in frames)
    # Frame 6 of 24 fps is shown at 250 ms: its star has drifted 2.5 px right of the centre.
    np.testing.assert_allclose(frames[6][0], star(48 + 2.5, 32, 64 / 3), atol=0.01)
    # The preview is the layout's rendering of those keypoints, exactly (PNG frames).
    previews = frame_paths(output / "preview")
    assert len(previews) == 12
    expected = render_pose(frames[6], (96, 64), layout=STAR)
    assert (read_image(previews[6]) == expected).all()
    assert {tuple(colour) for colour in expected.reshape(-1, 3)} >= {tuple(c) for c in STAR.limb_colours}


def test_rendering_and_normalization_read_the_layout(star_backend):
    image = render_pose(star(50, 50, 30), (100, 100), layout=STAR)
    assert image.shape == (100, 100, 3) and (image.max(axis=2) > 0).mean() > 0.02
    with pytest.raises(ValueError, match=r"must be \(33, C\).*got \(1, 5, 5\)"):
        render_pose(star(50, 50, 30), (100, 100))  # the default layout has 33 points
    # A star walking towards the camera (lower and bigger); the source is half the target's size.
    target = [star(200, 150 + 5 * i, 40 + 2 * i) for i in range(20)]
    source = [star(80, 60 + 2 * i, 20 + i) for i in range(20)]
    target_stats = pose_statistics(target, STAR)
    normalize = PoseNormalizer(pose_statistics(source, STAR), target_stats, STAR)
    assert normalize.ground == "feet"
    mapped = normalize(source[19])
    # Its lowest foot lands where the target's nearest position is, at the target's height there.
    assert mapped[[2, 3], 1].max() == pytest.approx(target_stats["feet"]["near_y"], abs=1)
    height = mapped[[2, 3], 1].max() - mapped[0, 1]
    assert height == pytest.approx(target[19][[2, 3], 1].max() - target[19][0, 1], rel=0.02)


def test_prepare_with_a_backend_defined_in_a_test(star_backend, short_clip, tmp_path):
    dataset = tmp_path / "dataset"
    result = runner.invoke(app, ["prepare", str(short_clip), "-o", str(dataset), "--pose-backend", "star",
                                 "--no-masks", "--no-flow", "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["frames_per_second"] > 0
    meta = json.loads((dataset / "dataset.json").read_text())
    assert meta["pose"] == {"backend": "star"} and set(meta["pose_stats"]) == {"feet", "hands"}
    assert meta["fps"] == 24.0  # dataset.json's fps is the videos' frame rate
    labels = frame_paths(dataset / "short" / "labels")
    assert len(labels) == 12 and read_image(labels[0]).max() > 0


def test_poses_json_records_each_frames_time_of_a_variable_rate_video(star_backend, tmp_path):
    # 6 frames 1/24 s apart, then 6 frames 1/12 s apart (pts in the input's time base, 1/24 s).
    clip = encode(tmp_path / "vfr.mp4", moving_photo(96, 64, 12), 96, 64, "24",
                  ["-vf", "setpts='if(lt(N,6),N,2*N-6)'", "-fps_mode", "passthrough",
                   "-c:v", "libx264", "-pix_fmt", "yuv420p"])
    assert probe_video(clip).variable_frame_rate
    result = runner.invoke(app, ["pose", str(clip), "-o", str(tmp_path / "out"), "--pose-backend", "star", "-q"])
    assert result.exit_code == 0, result.output
    header, frames = read_poses(tmp_path / "out" / "poses.json")
    expected = [index / 24 for index in range(6)] + [0.25 + index / 12 for index in range(6)]
    assert len(header["timestamps"]) == len(frames) == 12
    np.testing.assert_allclose(header["timestamps"], expected, atol=1e-3)
    np.testing.assert_allclose(header["timestamps"], frame_timestamps(clip), atol=1e-6)
    assert header["version"] == 3


def test_version_1_files_are_read_as_mediapipe_poses_and_unknown_backends_refused(tmp_path):
    old = tmp_path / "old.json"
    person = np.zeros((1, 33, 5)).tolist()
    old.write_text(json.dumps({"format": "v2v.poses", "version": 1, "width": 64, "height": 64, "fps": 24.0,
                               "frames": [person, None], "frame_count": 2, "frames_with_person": 1}))
    header, frames = read_poses(old)
    # Its 33 body points; the hands and face mediapipe's layout adds are read as not found.
    assert header["backend"] == "mediapipe" and frames[0].shape == (1, 553, 5) and frames[1] is None
    assert (frames[0][0, :33] == 0).all() and (frames[0][0, 33:, 3:] == 0).all()
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "v2v.poses", "version": 2, "backend": "openpose", "frames": []}))
    with pytest.raises(BadInput, match="openpose"):
        read_poses(other)
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"format": "v2v.poses", "version": 4, "frames": []}))
    with pytest.raises(BadInput, match="version 4"):
        read_poses(newer)


@pytest.mark.parametrize("command", [["flow"], ["segment", "-b", "selfie"]], ids=["flow", "segment"])
def test_preview_format_of_segment_and_flow(short_clip, tmp_path, command):
    output = tmp_path / "out"
    result = runner.invoke(app, [*command, str(short_clip), "-o", str(output), "--preview-format", "webm", "-q",
                                 "--json"])
    assert result.exit_code == 0, result.output
    preview = output / f"{command[0]}.webm"
    assert json.loads(result.stdout)["preview"] == str(preview)
    made = probe_video(preview)
    assert made.codec == "vp9" and made.frame_count == (11 if command[0] == "flow" else 12)
    bad = runner.invoke(app, [*command, str(short_clip), "-o", str(tmp_path / "bad"), "--preview-format", "gif"])
    assert bad.exit_code == 1 and "choose one of: mp4, mkv, mov, webm, png" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_importing_the_data_package_does_not_import_torch():
    check = "import sys, v2vcli.data.prepare, v2vcli.data; print('torch' in sys.modules)"
    imported = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "False"
