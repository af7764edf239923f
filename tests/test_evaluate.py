"""`v2v eval`: warping error, flicker, PSNR and SSIM on small lossless clips of a moving textured patch."""

from __future__ import annotations

import csv
import json
import sys

import cv2
import numpy as np
import pytest
from skimage.data import astronaut
from skimage.metrics import structural_similarity
from typer.testing import CliRunner

from v2vcli.cli.app import app
from v2vcli.errors import BadInput
from v2vcli.evaluate import COLUMNS, evaluate_videos, metrics, run_evaluation
from v2vcli.io.video import VideoWriter

FRAMES = 10
SIZE = 96


def clip_frames(frames: int = FRAMES, size: int = SIZE, noise: float = 0.0, seed: int = 0) -> list[np.ndarray]:
    """A static textured background with the astronaut's face moving over it, 3 px right and 1 px down a frame."""
    image = astronaut()
    background = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    side = size * 3 // 8
    patch = cv2.resize(image[60:260, 140:340], (side, side), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    result = []
    for index in range(frames):
        frame = background.copy()
        x, y = 4 + 3 * index, size // 4 + index
        frame[y:y + side, x:x + side] = patch
        if noise:
            frame = np.clip(frame + rng.normal(0.0, noise, frame.shape), 0, 255).astype(np.uint8)
        result.append(frame)
    return result


def write_clip(path, frames: list[np.ndarray]):
    with VideoWriter(path, 24, lossless=True) as writer:
        writer.write_all(frames)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "clean": write_clip(folder / "clean.mp4", clip_frames()),
        "noisy": write_clip(folder / "noisy.mp4", clip_frames(noise=8.0)),
        "small": write_clip(folder / "small.mp4", clip_frames(size=64)),
        "short": write_clip(folder / "short.mp4", clip_frames(frames=FRAMES - 2)),
    }


def test_ssim_matches_scikit_image():
    reference = cv2.resize(astronaut(), (80, 72))
    noisy = np.clip(reference + np.random.default_rng(1).normal(0, 12, reference.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(noisy, reference, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255, channel_axis=2)
    assert metrics.ssim(noisy, reference) == pytest.approx(expected, abs=1e-6)
    assert metrics.ssim(reference, reference) == pytest.approx(1.0)


def test_psnr_is_capped_for_identical_frames_and_exact_otherwise():
    frame = cv2.resize(astronaut(), (32, 32))
    assert metrics.psnr(frame, frame) == metrics.PSNR_CAP == 100.0
    brighter = frame.astype(np.float32) + 5.0
    assert metrics.psnr(brighter, frame) == pytest.approx(10 * np.log10(255**2 / 25.0))


def test_warp_residual_is_zero_where_the_flow_explains_the_motion():
    frames = clip_frames(frames=2)
    # Everything moves 3 px right and 1 px down: frame 1 at p is frame 0 at p - (3, 1).
    previous = cv2.resize(astronaut(), (SIZE, SIZE))
    current = np.roll(previous, (1, 3), axis=(0, 1))
    backward = np.zeros((SIZE, SIZE, 2), np.float32)
    backward[..., 0], backward[..., 1] = -3.0, -1.0
    visible = metrics.visible_mask(backward, -backward)
    assert not visible[:, :3].any() and not visible[0].any()  # came from outside the frame
    assert visible[1:, 3:].all()
    residual = metrics.warp_residual(current, previous, backward)
    assert metrics.masked_mean_abs(residual, visible) == 0.0
    assert metrics.warping_error(frames[1], frames[0], np.zeros_like(backward), np.ones((SIZE, SIZE), bool)) > 1.0


def test_a_video_against_itself_has_zero_warping_error_and_capped_psnr(clips):
    result = evaluate_videos(clips["clean"], reference=clips["clean"])
    summary = result["summary"]
    assert result["flow_source"] == "reference"
    assert summary["warp_error"] == 0.0
    assert summary["warp_error_absolute"] == summary["warp_error_reference"]
    # Lossless and static background: only the edges of the moving face leak into the static mask.
    assert summary["flicker"] == summary["flicker_reference"] < 0.5
    assert summary["psnr"] == 100.0 and summary["ssim"] == pytest.approx(1.0)
    assert 0.5 < summary["static_fraction"] < 1.0  # the background, not the moving face
    assert 0.8 < summary["visible_fraction"] <= 1.0
    assert len(result["rows"]) == FRAMES


def test_per_frame_noise_raises_flicker_and_warping_error(clips):
    clean = evaluate_videos(clips["clean"], reference=clips["clean"])["summary"]
    noisy = evaluate_videos(clips["noisy"], reference=clips["clean"])["summary"]
    assert noisy["flicker"] > clean["flicker"] + 5.0
    assert noisy["warp_error"] > clean["warp_error"] + 5.0
    assert noisy["warp_error_absolute"] > clean["warp_error_absolute"] + 3.0
    assert noisy["psnr"] < 35.0 and noisy["ssim"] < 0.95


def test_without_a_reference_the_generated_video_guides_itself(clips):
    clean = evaluate_videos(clips["clean"])
    noisy = evaluate_videos(clips["noisy"])
    assert clean["flow_source"] == noisy["flow_source"] == "generated"
    assert clean["warp_error_kind"] == "absolute"
    assert clean["summary"]["psnr"] is None and clean["rows"][3]["psnr"] is None
    assert noisy["summary"]["flicker"] > clean["summary"]["flicker"] + 5.0
    assert noisy["summary"]["warp_error"] > clean["summary"]["warp_error"] + 3.0


def test_a_condition_video_guides_the_flow(clips):
    # The clean clip stands in for the condition maps the noisy video was generated from.
    result = evaluate_videos(clips["noisy"], condition=clips["clean"])
    assert result["flow_source"] == "condition"
    assert result["summary"]["psnr"] is None
    assert result["summary"]["flicker"] > 5.0


@pytest.mark.parametrize("other, words", [("small", ["96x96", "64x64"]), ("short", ["10 frames", "8 frames"])])
def test_mismatched_videos_are_refused_naming_both(clips, other, words):
    with pytest.raises(BadInput) as error:
        evaluate_videos(clips["clean"], reference=clips[other])
    message = str(error.value)
    assert str(clips["clean"]) in message and str(clips[other]) in message
    assert all(word in message for word in words)


def test_reference_and_condition_together_are_refused(clips):
    with pytest.raises(BadInput, match="one guide"):
        evaluate_videos(clips["clean"], reference=clips["clean"], condition=clips["clean"])


def test_report_has_one_csv_row_per_frame_a_plot_and_a_summary(clips, tmp_path):
    output = tmp_path / "report"
    result = run_evaluation(clips["noisy"], reference=clips["clean"], output=output, quiet=True)
    assert sorted(path.name for path in output.iterdir()) == ["metrics.csv", "metrics.png", "summary.json"]
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]
    with open(output / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == FRAMES  # row t holds frame t's PSNR/SSIM and the pair (t-1, t)
    assert rows[0]["warp_error"] == "" and float(rows[0]["psnr"]) < 35.0
    assert all(float(row["warp_error"]) > 0 for row in rows[1:])
    assert (output / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((output / "summary.json").read_text())
    assert summary["summary"]["flicker"] == pytest.approx(result["summary"]["flicker"])


def test_without_matplotlib_the_plot_is_skipped_with_a_warning(clips, tmp_path, monkeypatch):
    # A None entry makes `import` raise ImportError, as if matplotlib were not installed.
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    result = run_evaluation(clips["short"], output=tmp_path / "report", quiet=True)
    assert result["outputs"]["plot"] is None and len(result["warnings"]) == 1
    assert "matplotlib" in result["warnings"][0]
    assert (tmp_path / "report" / "metrics.csv").is_file() and not (tmp_path / "report" / "metrics.png").exists()


def test_cli_eval_json_default_folder_and_overwrite(clips, tmp_path):
    generated = tmp_path / "generated.mp4"
    generated.write_bytes(clips["noisy"].read_bytes())
    runner = CliRunner()
    result = runner.invoke(app, ["eval", str(generated), "--reference", str(clips["clean"]), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["flow_source"] == "reference" and data["summary"]["flicker"] > 5.0
    assert "rows" not in data
    assert (tmp_path / "generated_eval" / "metrics.csv").is_file()

    again = runner.invoke(app, ["eval", str(generated), "--quiet"])
    assert again.exit_code == 1 and "already exists" in again.stderr

    table = runner.invoke(app, ["eval", str(generated), "--quiet", "--overwrite"])
    assert table.exit_code == 0, table.output
    assert "flow from   the generated video" in table.stdout and "flicker" in table.stdout


def test_cli_eval_mismatch_is_one_error_line_and_writes_nothing(clips, tmp_path):
    output = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", str(clips["clean"]), "-r", str(clips["small"]), "-o", str(output)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "96x96" in result.stderr and "64x64" in result.stderr
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_cli_eval_refuses_to_write_over_an_input(clips):
    result = CliRunner().invoke(app, ["eval", str(clips["clean"]), "-o", str(clips["clean"]), "--overwrite"])
    assert result.exit_code == 1 and "is an input" in result.stderr
    assert clips["clean"].stat().st_size > 0
