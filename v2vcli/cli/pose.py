"""`v2v pose`: body keypoints per frame (poses.json) and the rendered pose video (pose.mp4).

Also the --person and --detail options that `prepare`, `generate` and `dance` share with it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import (
    INPUTS_HELP,
    Json,
    Overwrite,
    PoseBackend,
    PoseModel,
    PreviewFormat,
    Quiet,
    Workers,
    run_on_inputs,
)
from v2vcli.preprocess.pose_backend import DEFAULT_NUM_POSES, DETECTION_CONFIDENCE

Person = typer.Option(
    "auto", "--person", "-p",
    help="The person to follow: auto (the most prominent: size x frames present), largest, left, right, center "
         "(among the main people), or a track id from poses.json's \"people\" (`v2v pose --all-people` labels them).")
DETAIL_HELP = ("What to find besides the body: body (nothing more, fastest), hands (21 points each) or full "
               "(hands and the 478-point face mesh), for backends that have them (mediapipe).")
Detail = typer.Option("full", "--detail", help=DETAIL_HELP)
# A model must be driven at the detail of the maps it was trained on: `v2v prepare` draws bodies alone.
ModelDetail = typer.Option("body", "--detail", help=DETAIL_HELP + " Use the detail of the maps the model was "
                                                                  "trained on (`v2v prepare` draws bodies).")


def pose(
    videos: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    output: Path = typer.Option(None, "--output", "-o", help="Output folder (default: VIDEO's name + _pose)."),
    overlay: bool = typer.Option(False, "--overlay", help="Draw the poses over the input instead of on black."),
    no_smooth: bool = typer.Option(False, "--no-smooth", help="Keep the raw keypoints (no smoothing over time)."),
    num_poses: int = typer.Option(DEFAULT_NUM_POSES, "--num-poses", "-n", min=1,
                                  help="The most people to find per frame."),
    person: str = Person,
    all_people: bool = typer.Option(False, "--all-people", help="Draw everyone found, labelled with their ids, "
                                                                 "not only the person followed."),
    detection_confidence: float = typer.Option(
        DETECTION_CONFIDENCE, "--detection-confidence", min=0.0, max=1.0,
        help="Score a new person must reach to be found (lower finds more, and more false ones)."
    ),
    detail: str = Detail,
    pose_backend: str = PoseBackend,
    pose_model: Path = PoseModel,
    preview_format: str = PreviewFormat,
    workers: int = Workers,
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Find keypoints (mediapipe: 33 on the body, 21 per hand, 478 on the face) in every frame; write
    OUT/poses.json and OUT/pose.mp4.

    poses.json holds, per frame, every person's landmarks (x, y in pixels, z, visibility, presence) with
    their track ids, or null where nobody is found, and each frame's time; pose.mp4 draws the person
    followed (--person) as colour-coded limbs at the input's size and fps.
    """
    from functools import partial

    from v2vcli.preprocess.pose import PoseConfig, default_output, run_pose

    config = PoseConfig(backend=pose_backend, model=pose_model, num_poses=num_poses, smooth=not no_smooth,
                        min_detection_confidence=detection_confidence, detail=detail)
    job = partial(run_pose, config=config, person=person, all_people=all_people, overlay=overlay,
                  overwrite=overwrite, quiet=quiet, preview_format=preview_format)

    def line(result) -> str:
        followed = "everyone" if all_people else f"person {result.person}" if result.person is not None else "nobody"
        return (f"{result.output}: {result.frames_with_person}/{result.frames} frames with a person "
                f"({result.people} found, drawn: {followed}), {result.seconds:.1f} s "
                f"({result.frames_per_second or 0:.1f} frames/s)")

    run_on_inputs(videos, output, job, default_output, workers, quiet, json_output, line)


def register(app: typer.Typer) -> None:
    app.command()(pose)
