"""Evaluate a generated video, streaming: temporal warping error, flicker, PSNR/SSIM against a reference,
and the pose error against the condition's keypoints (v2vcli.evaluate.pose_error); with both, PSNR/SSIM
in the face region (v2vcli.evaluate.face_region).

Only the current and the previous frame of each video are held (plus the readers' small decode
queues), so memory stays bounded whatever the length.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.evaluate import metrics
from v2vcli.evaluate.face_region import FaceRegions, face_fidelity
from v2vcli.evaluate.pose_error import ERROR_CAP, PoseScorer, load_condition_poses
from v2vcli.evaluate.pose_error import FRAME_FIELDS as POSE_FIELDS
from v2vcli.flow.compute import STILL_MOTION  # px of self-flow below which a pixel counts as static (no guide)
from v2vcli.io.video import VideoInfo, VideoReader, probe_video
from v2vcli.preprocess.pose_backend import DETECTION_CONFIDENCE
from v2vcli.progress import track
from v2vcli.results import Result

FLOW_METHOD = "dis-medium"
STATIC_THRESHOLD = 2.0  # levels of blurred guide change below which a pixel counts as static
STATIC_BLUR = 1.0  # sigma of the blur that keeps encoder noise from counting as change

# One row per frame; the temporal columns of row t describe the pair (t-1, t) and are None in row 0.
COLUMNS = (
    "frame",
    "warp_error",
    "warp_error_absolute",
    "warp_error_reference",
    "visible_fraction",
    "flicker",
    "flicker_reference",
    "static_fraction",
    "psnr",
    "ssim",
    "face_psnr",
    "face_ssim",
    *POSE_FIELDS,
    *(f"{field}_reference" for field in POSE_FIELDS),
)


class _Flow:
    """The flow of the guide video, both ways, from one reusable estimator (v2vcli.flow)."""

    def __init__(self, method: str = FLOW_METHOD):
        from v2vcli.flow.compute import make_estimator

        self._estimate = make_estimator(method)

    def both_ways(self, current: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(backward t -> t-1, forward t-1 -> t) for RGB uint8 frames; float32 (H, W, 2) each."""
        return self._estimate.both_ways(current, previous)


def _check_same_shape(generated: VideoInfo, other: VideoInfo) -> None:
    if (generated.width, generated.height) != (other.width, other.height):
        raise BadInput(
            f"{generated.path} is {generated.width}x{generated.height} but {other.path} is "
            f"{other.width}x{other.height}; the videos must have the same size"
        )
    if generated.frame_count != other.frame_count:
        raise BadInput(
            f"{generated.path} has {generated.frame_count} frames but {other.path} has "
            f"{other.frame_count} frames; the videos must have the same frame count"
        )


def _lockstep(readers: list[VideoReader]) -> Iterator[tuple[np.ndarray, ...]]:
    """Frames of all readers together; BadInput if one ends before the others (a count was wrong)."""
    iterators = [iter(reader) for reader in readers]
    while True:
        items = [next(iterator, None) for iterator in iterators]
        if all(item is None for item in items):
            return
        if any(item is None for item in items):
            ended = [str(reader.path) for reader, item in zip(readers, items, strict=True) if item is None]
            going = [str(reader.path) for reader, item in zip(readers, items, strict=True) if item is not None]
            raise BadInput(f"{', '.join(ended)} ended before {', '.join(going)}; the frame counts differ")
        yield tuple(items)


@dataclass
class EvalResult(Result):
    """What `v2v eval` measured (its --json and summary.json hold every field but `rows`).

    generated, reference, condition, poses: the inputs (None where not given). flow_source: the video
    whose flow warps the frames ("reference", "condition" or "generated"); flow_method. warp_error_kind:
    "relative to the reference" or "absolute". frames, width, height: of the generated video; fps: its
    frame rate. static_threshold (with a guide video) or still_motion (without): what counts as static.
    psnr_cap; pose_error_cap and pose_detection_confidence (with poses). summary: metric -> its value over
    the video (None where it does not apply), pose_frames and face_frames. rows: one dict per frame with
    the keys of COLUMNS (in metrics.csv, not in the JSON). outputs: the report folder and each file
    written, warnings: what was said on stderr (run_evaluation only). Errors are in 8-bit levels (0-255),
    PSNR in dB, SSIM in [-1, 1] (docs/eval.md).
    """

    generated: str
    reference: str | None
    condition: str | None
    poses: str | None
    flow_source: str
    flow_method: str
    warp_error_kind: str
    frames: int
    width: int
    height: int
    fps: float
    static_threshold: float | None
    still_motion: float | None
    psnr_cap: float
    pose_error_cap: float | None
    pose_detection_confidence: float | None
    summary: dict[str, Any]
    rows: list[dict] = field(repr=False)
    outputs: dict[str, str | None] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON types, without the per-frame rows (metrics.csv holds them)."""
        data = super().to_dict()
        del data["rows"]
        return data


def _clean(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def evaluate_videos(
    generated: Path | str,
    reference: Path | str | None = None,
    condition: Path | str | None = None,
    static_threshold: float = STATIC_THRESHOLD,
    quiet: bool = True,
    poses: Path | str | None = None,
    pose_model: Path | str | None = None,
    detection_confidence: float = DETECTION_CONFIDENCE,
) -> EvalResult:
    """Measure the temporal consistency (and, with a reference, the fidelity) of a generated video.

    The optical flow of the guide video (the reference, else the condition video, else the generated
    video itself) between frames t and t-1 warps generated frame t-1 onto frame t. Returns an EvalResult:
    `summary` (one number per metric, None where it does not apply), `rows` (one dict per frame with
    the keys of COLUMNS), and what was measured how (its fields).
    Errors are in 8-bit levels (0-255), PSNR in dB (capped), SSIM in [-1, 1]; docs/eval.md defines them.
    With `poses` (the condition's poses.json), poses are detected on every generated (and reference)
    frame and compared with the condition's: the pose_*, face_error* and hand_error* columns, in [0, 1]
    and pixels at the generated size (v2vcli.evaluate.pose_error; a new person is found at a score of
    `detection_confidence`), `pose_frames` in the summary, and
    `poses` in the result; with a reference too, face_psnr and face_ssim in each frame's face region
    (v2vcli.evaluate.face_region) and `face_frames` (the frames that have one) in the summary.
    BadInput when a file cannot be read, when both reference and condition are given, or when the
    videos (or the poses) differ in size or frame count.
    """
    generated = Path(generated)
    if reference is not None and condition is not None:
        raise BadInput(
            f"both a reference ({reference}) and a condition video ({condition}) given; the flow comes from "
            "one guide: pass the reference (it also gives PSNR and SSIM) or the condition video"
        )
    guide_path = Path(reference or condition) if (reference or condition) else None
    flow_source = "reference" if reference is not None else "condition" if condition is not None else "generated"
    info = probe_video(generated)
    header, condition_poses = None, None
    if poses is not None:  # checked before any decoding starts
        header, condition_poses = load_condition_poses(poses, info.frame_count, generated)
    readers = [VideoReader(generated, prefetch=2, info=info)]
    if guide_path is not None:
        guide_info = probe_video(guide_path)
        _check_same_shape(info, guide_info)
        readers.append(VideoReader(guide_path, prefetch=2, info=guide_info))

    with contextlib.ExitStack() as scorers:
        pose_scorers = {}
        faces = None
        if condition_poses is not None:
            condition_size = (header["width"], header["height"])
            faces = FaceRegions(condition_poses, condition_size, header["backend"]) if reference is not None else None
            for video in ("generated", "reference") if reference is not None else ("generated",):
                pose_scorers[video] = scorers.enter_context(
                    PoseScorer(condition_poses, condition_size, info.fps, pose_model, header["backend"],
                               detection_confidence))
        rows = _frame_rows(readers, info, reference is not None, static_threshold, pose_scorers, faces, quiet)

    summary = {column: _mean([row[column] for row in rows]) for column in COLUMNS if column != "frame"}
    # Pooled over all static pixels, so a pair with a sliver of static area weighs little.
    for column in ("flicker", "flicker_reference"):
        pooled = [(row[column], row["static_fraction"]) for row in rows if row["flicker"] is not None]
        if summary[column] is not None:
            summary[column] = sum(value * weight for value, weight in pooled) / sum(weight for _, weight in pooled)
    summary["pose_frames"] = sum(row["pose_error"] is not None for row in rows) if poses is not None else None
    summary["face_frames"] = sum(row["face_psnr"] is not None for row in rows) if faces is not None else None
    return EvalResult(
        generated=str(generated),
        reference=str(reference) if reference is not None else None,
        condition=str(condition) if condition is not None else None,
        poses=str(poses) if poses is not None else None,
        flow_source=flow_source,
        flow_method=FLOW_METHOD,
        warp_error_kind="relative to the reference" if reference is not None else "absolute",
        frames=len(rows),
        width=info.width,
        height=info.height,
        fps=float(info.fps),
        static_threshold=static_threshold if guide_path is not None else None,
        still_motion=STILL_MOTION if guide_path is None else None,
        psnr_cap=metrics.PSNR_CAP,
        pose_error_cap=ERROR_CAP if poses is not None else None,
        pose_detection_confidence=detection_confidence if poses is not None else None,
        summary=summary,
        rows=rows,
    )


def _frame_rows(readers: list[VideoReader], info: VideoInfo, has_reference: bool, static_threshold: float,
                pose_scorers: dict[str, PoseScorer], faces: FaceRegions | None, quiet: bool) -> list[dict]:
    """One row of COLUMNS per frame of the generated video (readers[0]) guided by readers[1], if any;
    `faces` (with a reference and poses) gives the face region of each frame."""
    has_guide = len(readers) > 1
    flow = _Flow()
    pixels = info.width * info.height
    rows: list[dict] = []
    previous: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
    frames = track(_lockstep(readers), len(readers[0]), "evaluating", quiet=quiet)
    for index, items in enumerate(frames):
        frame = items[0]
        guide = items[1] if has_guide else frame
        real = guide if has_reference else None
        # Blurred once per frame; the next pair reuses it as its previous frame.
        guide_blurred = metrics.blur(guide, STATIC_BLUR) if has_guide else None
        row = dict.fromkeys(COLUMNS)
        row["frame"] = index
        if real is not None:
            row["psnr"] = metrics.psnr(frame, real)
            row["ssim"] = metrics.ssim(frame, real)
            if faces is not None:
                row.update(face_fidelity(frame, real, faces.box(index, (info.width, info.height))))
        if "generated" in pose_scorers:
            row.update(pose_scorers["generated"](frame))
        if "reference" in pose_scorers:
            row.update({f"{key}_reference": value for key, value in pose_scorers["reference"](real).items()})
        if previous is not None:
            previous_frame, previous_guide, previous_blurred = previous
            backward, forward = flow.both_ways(guide, previous_guide)
            visible = metrics.visible_mask(backward, forward)
            residual = metrics.warp_residual(frame, previous_frame, backward)
            row["warp_error_absolute"] = _clean(metrics.masked_mean_abs(residual, visible))
            row["warp_error"] = row["warp_error_absolute"]
            if real is not None:
                real_residual = metrics.warp_residual(real, previous_guide, backward)
                row["warp_error"] = _clean(metrics.masked_mean_abs(residual - real_residual, visible))
                row["warp_error_reference"] = _clean(metrics.masked_mean_abs(real_residual, visible))
            row["visible_fraction"] = float(np.count_nonzero(visible)) / pixels
            if has_guide:
                static = metrics.frame_change(guide_blurred, previous_blurred) < static_threshold
            else:
                static = metrics.still_mask(backward, visible, STILL_MOTION)
            row["static_fraction"] = int(np.count_nonzero(static)) / pixels
            row["flicker"] = _clean(metrics.flicker(frame, previous_frame, static))
            if real is not None:
                row["flicker_reference"] = _clean(metrics.flicker(real, previous_guide, static))
        previous = (frame, guide, guide_blurred)
        rows.append(row)
    return rows


def run_evaluation(
    generated: Path | str,
    reference: Path | str | None = None,
    condition: Path | str | None = None,
    output: Path | str | None = None,
    static_threshold: float = STATIC_THRESHOLD,
    overwrite: bool = False,
    quiet: bool = False,
    poses: Path | str | None = None,
    pose_model: Path | str | None = None,
    detection_confidence: float = DETECTION_CONFIDENCE,
) -> EvalResult:
    """`evaluate_videos` (with the pose error when `poses` is given), then write metrics.csv, summary.json
    and metrics.png into the folder `output` (default: GENERATED's stem + "_eval" beside it), atomically.
    Returns the result with `outputs` (the folder and each file written) and `warnings` (e.g. no plot
    without matplotlib)."""
    from v2vcli.evaluate.report import default_output, write_report
    from v2vcli.io.outputs import check_output

    generated = Path(generated)
    if not generated.is_file():
        raise BadInput(f"{generated}: no such file")
    for path in (reference, condition, poses):
        if path is not None and not Path(path).is_file():
            raise BadInput(f"{path}: no such file")
    output = Path(output) if output is not None else default_output(generated)
    inputs = [Path(path) for path in (generated, reference, condition, poses) if path is not None]
    check_output(output, inputs, overwrite)
    result = evaluate_videos(generated, reference, condition, static_threshold=static_threshold, quiet=quiet,
                             poses=poses, pose_model=pose_model, detection_confidence=detection_confidence)
    result.outputs, result.warnings = write_report(result, output)
    return result
