"""`v2v pose`: body keypoints per frame (poses.json) and the rendered pose video (pose.mp4)."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, PoseBackend, PoseModel, PreviewFormat, Quiet, show


def pose(
    video: Path = typer.Argument(..., help="Input video."),
    output: Path = typer.Option(None, "--output", "-o", help="Output folder (default: VIDEO's name + _pose)."),
    overlay: bool = typer.Option(False, "--overlay", help="Draw the poses over the input instead of on black."),
    no_smooth: bool = typer.Option(False, "--no-smooth", help="Keep the raw keypoints (no One Euro smoothing)."),
    num_poses: int = typer.Option(1, "--num-poses", "-n", min=1, help="The most people to find per frame."),
    detection_confidence: float = typer.Option(
        0.7, "--detection-confidence", min=0.0, max=1.0,
        help="Score a new person must reach to be found (lower finds more, and more false ones)."
    ),
    pose_backend: str = PoseBackend,
    pose_model: Path = PoseModel,
    preview_format: str = PreviewFormat,
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Find body keypoints (mediapipe: 33 landmarks) in every frame; write OUT/poses.json and OUT/pose.mp4.

    poses.json holds, per frame, each person's landmarks (x, y in pixels, z, visibility, presence) or
    null where nobody is found, and each frame's time; pose.mp4 draws them as colour-coded limbs at the
    input's size and fps.
    """
    from v2vcli.preprocess.pose import PoseConfig, run_pose

    config = PoseConfig(backend=pose_backend, model=pose_model, num_poses=num_poses, smooth=not no_smooth,
                        min_detection_confidence=detection_confidence)
    result = run_pose(video, output, config, overlay=overlay, overwrite=overwrite, quiet=quiet,
                      preview_format=preview_format)
    show(result, json_output, None if quiet else
         f"{result.output}: {result.frames_with_person}/{result.frames} frames with a person, "
         f"{result.seconds:.1f} s ({result.frames_per_second or 0:.1f} frames/s)")


def register(app: typer.Typer) -> None:
    app.command()(pose)
