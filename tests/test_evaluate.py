"""`v2v eval`: warping error, flicker, PSNR and SSIM on small lossless clips of a moving textured patch, and the
pose error on synthetic keypoints and on a real photo of a person."""

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
from v2vcli.evaluate import COLUMNS, evaluate_videos, metrics, pose_error, run_evaluation
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


# ------------------------------------------------------------------------------------------- pose error

POSE_SIZE = (200, 300)  # (W, H) of the synthetic frames below


def standing_person(shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A synthetic (33, 5) pose of someone standing in a 200x300 frame: every joint visible and present,
    along a vertical line from the nose (y 40) to the feet (y 280), left joints right of right ones."""
    landmarks = np.zeros((33, 5), np.float32)
    landmarks[:, 0] = 100 + np.where(np.arange(33) % 2 == 1, 20.0, -20.0) + shift[0]
    landmarks[:, 1] = np.linspace(40, 280, 33) + shift[1]
    landmarks[:, 3:] = 0.99
    return landmarks


def test_pose_error_is_the_mean_joint_distance_over_the_person_size():
    condition = standing_person()[None]
    diagonal = np.hypot(40, 240)  # the bounding box of the condition's joints
    row = pose_error.frame_pose_error(condition, standing_person((3.0, 4.0))[None], POSE_SIZE)
    assert row["pose_error_pixels"] == pytest.approx(5.0)
    assert row["pose_error_normalized"] == pytest.approx(5.0 / diagonal)
    assert row["pose_error"] == pytest.approx(5.0 / diagonal)
    assert row["pose_detected"] == 1.0 and row["pose_joints"] == 33
    exact = pose_error.frame_pose_error(condition, condition.copy(), POSE_SIZE)
    assert exact["pose_error"] == 0.0 and exact["pose_error_pixels"] == 0.0


def test_a_person_not_found_scores_the_cap_and_a_far_one_is_capped():
    condition = standing_person()[None]
    missed = pose_error.frame_pose_error(condition, None, POSE_SIZE)
    assert missed["pose_error"] == pose_error.ERROR_CAP == 1.0 and missed["pose_detected"] == 0.0
    assert missed["pose_error_pixels"] is None and missed["pose_error_normalized"] is None
    far = pose_error.frame_pose_error(condition, standing_person((0.0, 500.0))[None], (200, 1000))
    assert far["pose_error_normalized"] > 1.0 and far["pose_error"] == 1.0 and far["pose_detected"] == 1.0
    # Nobody in the condition: nothing to compare, whatever is found.
    assert set(pose_error.frame_pose_error(None, condition, POSE_SIZE).values()) == {None}


def test_only_joints_visible_in_both_and_inside_the_frame_count():
    condition = standing_person()
    condition[:10, 3] = 0.2  # the condition map did not draw these: not compared
    condition[30:, 1] = 310.0  # below the 300 px frame: mediapipe's guess, not drawn either
    detected = standing_person((0.0, 2.0))
    detected[10:12, 4] = 0.1  # not present in the detection
    detected[12, :2] += 100.0  # one visible joint far off
    row = pose_error.frame_pose_error(condition[None], detected[None], POSE_SIZE)
    assert row["pose_joints"] == 33 - 10 - 3 - 2
    assert row["pose_error_pixels"] == pytest.approx((17 * 2.0 + np.hypot(100.0, 102.0)) / 18)
    # The closest of several detected people is the one compared.
    others = np.stack([standing_person((60.0, 0.0)), detected])
    assert pose_error.frame_pose_error(condition[None], others, POSE_SIZE) == row


def test_face_and_hand_errors_are_distances_over_the_size_of_the_part():
    parts = pose_error.part_joints("mediapipe", 33)
    assert np.flatnonzero(parts["face"]).tolist() == list(range(11))  # nose, eyes, ears, mouth
    assert np.flatnonzero(parts["hand"]).tolist() == list(range(15, 23))  # wrists and the coarse hands
    condition = standing_person()
    detected = condition.copy()
    detected[:11, :2] += (3.0, 4.0)  # the face 5 px off, the rest exact
    row = pose_error.frame_pose_error(condition[None], detected[None], POSE_SIZE, parts)
    face_size = np.hypot(40, 75)  # the bounding box of the condition's 11 face points
    assert row["face_error_pixels"] == pytest.approx(5.0)
    assert row["face_error"] == pytest.approx(5.0 / face_size)
    assert row["hand_error"] == 0.0 and row["hand_error_pixels"] == 0.0
    # nobody found: the part counts as missed (the cap), with no distance
    missed = pose_error.frame_pose_error(condition[None], None, POSE_SIZE, parts)
    assert missed["face_error"] == missed["hand_error"] == 1.0 and missed["face_error_pixels"] is None
    # a face the condition does not show is not scored at all
    faceless = condition.copy()
    faceless[:11, 3] = 0.0
    unscored = pose_error.frame_pose_error(faceless[None], detected[None], POSE_SIZE, parts)
    assert unscored["face_error"] is None and unscored["hand_error"] == 0.0


def test_face_psnr_and_ssim_measure_the_face_region_alone():
    from v2vcli.evaluate.face_region import FACE_REGION_SCALE, FaceRegions, face_fidelity

    condition = standing_person()
    regions = FaceRegions([condition[None], None], POSE_SIZE, "mediapipe")
    x0, y0, x1, y1 = regions.box(0, POSE_SIZE)
    assert x1 - x0 == pytest.approx(75 * FACE_REGION_SCALE, abs=1) and y1 - y0 == pytest.approx(x1 - x0, abs=1)
    face = condition[:11, :2]
    assert (face[:, 0] >= x0).all() and (face[:, 0] < x1).all() and (face[:, 1] >= y0).all() and (face[:, 1] < y1).all()
    assert regions.box(1, POSE_SIZE) is None  # nobody in that frame
    # at half the size the keypoints are scaled, as for the pose error
    assert regions.box(0, (100, 150)) == pytest.approx((x0 / 2, y0 / 2, x1 / 2, y1 / 2), abs=1)
    real = cv2.resize(astronaut(), POSE_SIZE, interpolation=cv2.INTER_AREA) // 2
    generated = real.copy()
    generated[y0:y1, x0:x1] += 10  # 10 levels off in the face region, exact elsewhere
    scores = face_fidelity(generated, real, (x0, y0, x1, y1))
    assert scores["face_psnr"] == pytest.approx(10 * np.log10(255**2 / 100))
    assert scores["face_psnr"] < metrics.psnr(generated, real) - 5  # the whole frame hides it
    assert scores["face_ssim"] < 1.0 and face_fidelity(real, real, (x0, y0, x1, y1))["face_ssim"] == 1.0
    assert face_fidelity(generated, real, None) == {"face_psnr": None, "face_ssim": None}


def half(frames):
    return [cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
            for frame in frames]


@pytest.fixture(scope="module")
def person_videos(tmp_path_factory):
    """A lossless clip of the astronaut (a real photo of a person) moving, its poses.json from `v2v pose`,
    and "generated" versions of it at half its size: the same frames, mirrored ones, and blurred ones."""
    from v2vcli.preprocess.pose import run_pose

    folder = tmp_path_factory.mktemp("person")
    photo = cv2.resize(astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    frames = [cv2.warpAffine(photo, np.float32([[1, 0, 2 * index], [0, 1, index]]), (256, 256),
                             borderMode=cv2.BORDER_REFLECT) for index in range(6)]
    source = write_clip(folder / "source.mp4", frames)
    run_pose(source, folder / "pose", quiet=True)
    return {
        "poses": folder / "pose" / "poses.json",
        "same": write_clip(folder / "same.mp4", half(frames)),
        "mirrored": write_clip(folder / "mirrored.mp4", half([frame[:, ::-1] for frame in frames])),
        "blurred": write_clip(folder / "blurred.mp4", half([cv2.GaussianBlur(frame, (0, 0), 24) for frame in frames])),
        "short": write_clip(folder / "short.mp4", half(frames[:4])),
    }


def test_pose_error_finds_the_right_pose_a_wrong_one_and_none(person_videos):
    poses = person_videos["poses"]
    same = evaluate_videos(person_videos["same"], poses=poses)
    mirrored = evaluate_videos(person_videos["mirrored"], poses=poses)["summary"]
    blurred = evaluate_videos(person_videos["blurred"], poses=poses)["summary"]
    summary = same["summary"]
    assert same["poses"] == str(poses) and same["pose_error_cap"] == 1.0 and same["pose_detection_confidence"] == 0.7
    assert summary["pose_frames"] == 6 and summary["pose_detected"] == 1.0
    # The keypoints were found at 256 px and are compared at 128: scaled, a few pixels apart at most.
    assert summary["pose_error_pixels"] < 3.0 and summary["pose_error"] < 0.05
    assert summary["pose_joints"] >= 10
    # Mirrored: a person is there, but left and right are swapped and the body is elsewhere.
    assert mirrored["pose_detected"] == 1.0 and mirrored["pose_error"] > 0.1 > 3 * summary["pose_error"]
    # A blur shows nobody: every frame counts as a miss rather than being left out.
    assert blurred["pose_detected"] == 0.0 and blurred["pose_error"] == 1.0 and blurred["pose_frames"] == 6
    assert blurred["pose_error_pixels"] is None


def test_cli_eval_poses_reports_the_pose_error_and_the_reference_floor(person_videos, tmp_path):
    arguments = ["eval", str(person_videos["mirrored"]), "--poses", str(person_videos["poses"]), "--quiet",
                 "--reference", str(person_videos["same"])]
    result = CliRunner().invoke(app, [*arguments, "--json", "-o", str(tmp_path / "json")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert summary["pose_error"] > 0.1 > summary["pose_error_reference"]
    assert summary["pose_detected_reference"] == 1.0 and summary["pose_frames"] == 6
    with open(tmp_path / "json" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert all(float(row["pose_error"]) > float(row["pose_error_reference"]) for row in rows)
    table = CliRunner().invoke(app, [*arguments, "-o", str(tmp_path / "table")])
    assert table.exit_code == 0, table.output
    assert "pose error" in table.stdout and "pose found again" in table.stdout and "reference's own" in table.stdout
    assert all(line in table.stdout for line in ("face PSNR", "face keypoint error", "hand keypoint error"))
    assert summary["face_frames"] == 6 and summary["face_error"] > summary["face_error_reference"]


def test_cli_eval_detection_confidence_gates_who_is_found(person_videos, tmp_path):
    """--detection-confidence reaches the detector: the person found in every frame at the default is found
    in none when a new detection must score 0.99, and the summary says which threshold was used."""
    arguments = ["eval", str(person_videos["same"]), "--poses", str(person_videos["poses"]), "--quiet", "--json"]
    result = CliRunner().invoke(app, [*arguments, "--detection-confidence", "0.99", "-o", str(tmp_path / "strict")])
    assert result.exit_code == 0, result.output
    strict = json.loads(result.stdout)
    assert strict["pose_detection_confidence"] == 0.99
    assert strict["summary"]["pose_detected"] == 0.0 and strict["summary"]["pose_error"] == 1.0


def test_eval_with_poses_and_a_reference_scores_the_face(person_videos):
    poses, same = person_videos["poses"], person_videos["same"]
    exact = evaluate_videos(same, reference=same, poses=poses)["summary"]
    blurred = evaluate_videos(person_videos["blurred"], reference=same, poses=poses)["summary"]
    assert exact["face_frames"] == blurred["face_frames"] == 6  # the astronaut's face in every frame
    assert exact["face_psnr"] == metrics.PSNR_CAP and exact["face_ssim"] == 1.0
    assert exact["face_error"] < 0.1 and exact["face_error_reference"] < 0.1
    # a blur loses the face (and the person): a face PSNR and SSIM far below identical, the face missed
    assert blurred["face_psnr"] < 20.0 and blurred["face_ssim"] < 0.8 and blurred["face_error"] == 1.0


def test_cli_eval_poses_for_another_frame_count_is_one_error_line(person_videos, tmp_path):
    output = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", str(person_videos["short"]), "--poses", str(person_videos["poses"]),
                                      "-o", str(output), "--quiet"])
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "6 frames" in result.stderr and "4 frames" in result.stderr
    assert not output.exists()
    missing = CliRunner().invoke(app, ["eval", str(person_videos["short"]), "--poses", str(tmp_path / "nope.json"),
                                       "-o", str(output)])
    assert missing.exit_code == 1 and "nope.json: no such file" in missing.stderr and not output.exists()


# ----------------------------------------------------------------------------- benchmarks/quality.py


@pytest.mark.slow
@pytest.mark.real
def test_quality_benchmark_quick_run_writes_every_figure_and_the_strip(footage, tmp_path, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    import quality

    video = footage("sports2d")
    monkeypatch.chdir(root)  # training runs `python -m v2vcli` in the checkout this test imports
    work = tmp_path / "work"
    results = quality.main(["--quick", "--video", str(video), "--work", str(work), "--steps", "2"])
    evaluation = results["evaluation"]
    assert evaluation["size"] == [128, 128]
    heldout, training = evaluation["parts"]["heldout"], evaluation["parts"]["training"]
    assert heldout["pose_frames"] == quality.QUICK["frames"] - quality.QUICK["train_frames"]
    assert training["pose_frames"] == quality.QUICK["train_frames"]
    for variant in quality.VARIANTS:
        row = heldout["variants"][variant]
        assert 0.0 <= row["pose_error"] <= 1.0 and 0.0 <= row["pose_detected"] <= 1.0 and row["psnr"] > 5.0
    assert heldout["warp_error_vs_frame_by_frame"] > 0.0
    # The real frames show the man on the box: the detector finds him again in (almost) every frame.
    assert heldout["real_video"]["pose_detected_reference"] >= 0.8
    assert heldout["real_video"]["pose_error_reference"] < 0.2
    assert set(results["timings"]) == set(quality.STAGES)
    assert json.loads((work / "results.json").read_text())["settings"]["steps"] == 2
    strip = cv2.imread(str(work / "strip.png"))
    assert strip.shape == (4 * 256, 110 + 5 * 256, 3)  # real, condition, full, no-flow; 5 frames at 2x
