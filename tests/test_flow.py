"""Optical flow: accuracy on known motion, occlusion, colour coding, on-disk layout, and `v2v flow`."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data
from typer.testing import CliRunner

from v2vcli.cli.app import app
from v2vcli.errors import BadInput
from v2vcli.flow import (
    METHODS,
    compute_flow,
    flow_between,
    flow_to_color,
    occlusion_mask,
    read_flow,
    read_flow_folder,
    warp,
    write_flow,
)
from v2vcli.io.video import VideoWriter, probe_video

runner = CliRunner()


def photo(size: int = 128) -> np.ndarray:
    return cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """`image` moved by (dx, dy) pixels with bilinear interpolation, so image(p) = result(p + (dx, dy))."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    height, width = image.shape[:2]
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple:
    """A 6-frame 64x48 clip of the photo panning right 1 px a frame."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    image = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)
    with VideoWriter(path, 24) as writer:
        for index in range(6):
            writer.write(np.ascontiguousarray(shifted(image, index, 0)[24:72, 16:80]))
    return path, 6


@pytest.mark.parametrize("dx, dy", [(1.3, 0.0), (1.3, -0.7)])
def test_dis_medium_recovers_a_subpixel_shift_in_the_interior(dx, dy):
    image = photo()
    flow = flow_between(image, shifted(image, dx, dy), "dis-medium")
    assert flow.shape == (128, 128, 2) and flow.dtype == np.float32
    interior = flow[16:-16, 16:-16]
    error = np.hypot(interior[..., 0] - dx, interior[..., 1] - dy)
    assert error.max() < 0.5
    assert np.median(error) < 0.15


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_finds_the_direction_of_motion(method):
    image = photo(96)
    flow = flow_between(image, shifted(image, 2.0, 1.0), method)
    median = np.median(flow[12:-12, 12:-12].reshape(-1, 2), axis=0)
    np.testing.assert_allclose(median, [2.0, 1.0], atol=0.3)


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(BadInput, match="dis-fast, dis-medium, farneback"):
        flow_between(photo(32), photo(32), "raft")


def test_warping_with_the_flow_rebuilds_the_first_frame():
    first = photo().astype(np.float32)
    second = shifted(photo(), 2.5, -1.5).astype(np.float32)
    rebuilt = warp(second, flow_between(first.astype(np.uint8), second.astype(np.uint8)))
    before = np.abs(second - first)[16:-16, 16:-16].mean()
    after = np.abs(rebuilt - first)[16:-16, 16:-16].mean()
    assert after < before / 4


def test_occlusion_flags_the_background_a_moving_object_reveals():
    background = photo()
    patch = cv2.resize(data.chelsea(), (48, 40), interpolation=cv2.INTER_AREA)
    first, second = background.copy(), background.copy()
    first[40:80, 30:78] = patch
    second[40:80, 36:84] = patch  # the patch moves 6 px right and uncovers x in [30, 36)
    pair = next(compute_flow([first, second], "dis-medium", backward=True))
    revealed = pair.occlusion_backward[42:78, 30:36]
    far = np.ones((128, 128), bool)
    far[30:90, 20:96] = False
    assert revealed.mean() > 0.6
    assert pair.occlusion_backward[far].mean() < 0.1
    assert pair.occlusion_backward[44:76, 46:76].mean() < 0.1  # the patch itself is matched
    assert pair.occlusion_forward[42:78, 78:84].mean() > 0.4  # background it covers
    # Consistent flows flag nothing but what leaves the frame.
    still = np.zeros((16, 16, 2), np.float32)
    assert not occlusion_mask(still, still).any()
    assert occlusion_mask(still + [2, 0], still - [2, 0])[:, -2:].all()


def test_compute_flow_streams_n_minus_1_pairs_equal_to_flow_between():
    frames = [shifted(photo(64), index * 0.5, 0) for index in range(4)]
    pairs = list(compute_flow(iter(frames), "dis-fast"))
    assert [pair.index for pair in pairs] == [0, 1, 2]
    assert pairs[0].backward is None and pairs[0].occlusion_forward is None
    np.testing.assert_allclose(pairs[1].forward, flow_between(frames[1], frames[2], "dis-fast"), atol=1e-5)


def test_flow_to_color_hue_follows_direction_and_still_is_white():
    def color(vector):
        return flow_to_color(np.broadcast_to(np.float32(vector), (2, 2, 2)).copy(), max_magnitude=3)[0, 0]

    assert color((0, 0)).tolist() == [255, 255, 255]
    assert color((3, 0)).tolist() == [255, 0, 0]
    assert color((-3, 0)).tolist() == [0, 255, 255]
    assert flow_to_color(np.zeros((5, 7, 2), np.float32)).shape == (5, 7, 3)


def test_float16_storage_keeps_subpixel_precision(tmp_path):
    flow = np.random.default_rng(0).uniform(-40, 40, (8, 9, 2)).astype(np.float32)
    write_flow(tmp_path / "000000.npy", flow)
    assert np.load(tmp_path / "000000.npy").dtype == np.float16
    np.testing.assert_allclose(read_flow(tmp_path / "000000.npy"), flow, atol=0.02)


def test_cli_writes_n_minus_1_fields_masks_and_a_preview(clip, tmp_path):
    video, frames = clip
    output = tmp_path / "out"
    result = runner.invoke(app, ["flow", str(video), "-o", str(output), "--backward", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["frames"] == frames and summary["flow_fields"] == frames - 1
    assert summary["preview_frames"] == frames - 1 and summary["pairs_per_second"] > 0
    for folder, suffix in [("flow", "npy"), ("flow_backward", "npy"), ("occlusion", "png"),
                           ("occlusion_backward", "png")]:
        assert sorted(path.name for path in (output / folder).iterdir()) == [
            f"{index:06d}.{suffix}" for index in range(frames - 1)]
    fields = list(read_flow_folder(output))
    assert fields[0].shape == (48, 64, 2)
    assert np.median(fields[2][8:-8, 8:-8, 0]) == pytest.approx(1.0, abs=0.3)  # the clip pans 1 px a frame
    assert probe_video(output / "flow.mp4").frame_count == frames - 1
    assert json.loads((output / "flow.json").read_text())["method"] == "dis-medium"
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_cli_refuses_an_existing_output_and_replaces_it_with_overwrite(clip, tmp_path):
    video, frames = clip
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["flow", str(video), "-o", str(output), "-m", "dis-fast", "--quiet"])
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert (output / "keep.txt").read_text() == "mine"
    result = runner.invoke(app, ["flow", str(video), "-o", str(output), "-m", "dis-fast", "--quiet",
                                 "--overwrite", "--no-preview"])
    assert result.exit_code == 0, result.output
    assert not (output / "keep.txt").exists() and not (output / "flow.mp4").exists()
    assert len(list((output / "flow").iterdir())) == frames - 1


def test_cli_unknown_method_fails_in_one_line_without_output(clip, tmp_path):
    video, _ = clip
    result = runner.invoke(app, ["flow", str(video), "-o", str(tmp_path / "out"), "--method", "flownet2"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: unknown flow method 'flownet2'; choose one of: dis-fast, dis-medium, farneback"]
    assert list(tmp_path.iterdir()) == []


def test_undecodable_video_is_one_clear_line_and_no_output(tmp_path):
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    output = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "v2vcli", "flow", str(video), "-o", str(output), "--quiet"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {video}") and "Traceback" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.mp4"]
