"""`v2v prepare`: videos of the target -> a training set folder."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, PoseBackend, PoseModel, Quiet, Workers, report_failures, show
from v2vcli.cli.pose import Person
from v2vcli.cli.segment import MODEL_HELP, SegmentWeights, backend_option, threshold_option
from v2vcli.conditions.base import names_help
from v2vcli.config import PRESETS
from v2vcli.preprocess.segment import BACKENDS, DEFAULT_BACKEND, person_backends

PRESET_HELP = ("The preset you will train: the dataset is stored at its training size (longest side: "
               + ", ".join(f"{name} {values['data']['max_side']} px" for name, values in PRESETS.items()) + ").")
FACE_EDGES_HELP = ("With --condition face: also draw the Canny edges outside the face (hair, neck, clothes, "
                   "background), as vid2vid's face model does; without them the model must invent all that.")
MASK_BACKENDS_HELP = " or ".join(f"{name} ({BACKENDS[name].summary})" for name in person_backends())


def prepare(
    videos: list[Path] = typer.Argument(..., show_default=False, help=(
        "Videos of the target person or scene (one sequence each): files, folders (the videos in them) or glob "
        "patterns such as 'clips/*.mp4'.")),
    output: Path = typer.Option(..., "--output", "-o", help="Dataset folder to create."),
    condition: str = typer.Option("pose", "--condition", "-c", help=f"Condition maps: {names_help()}."),
    size: str = typer.Option(None, "--size", help="Frame size WIDTHxHEIGHT (default: the size --preset trains the "
                             "first video at: fitted into the preset's longest side, never enlarged, aspect kept, "
                             "each side rounded down to the multiple its generator needs)."),
    preset: str = typer.Option("base", "--preset", "-p", help=PRESET_HELP),
    backend: str = backend_option("pose", "pose; with --condition segment"),
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    weights: Path = SegmentWeights,
    threshold: float = threshold_option(0.5, "0.5"),
    pose_backend: str = PoseBackend,
    pose_model: Path = PoseModel,
    person: str = Person,
    masks: bool = typer.Option(True, "--masks/--no-masks", help="Write foreground masks (person segmentation)."),
    mask_backend: str = typer.Option(
        DEFAULT_BACKEND, "--mask-backend", help=f"Person segmentation of the masks: {MASK_BACKENDS_HELP}; for a "
                                                "pose dataset, pose masks every person the landmarker finds."),
    flow: bool = typer.Option(True, "--flow/--no-flow", help="Write optical flow (else training computes it)."),
    face_edges: bool = typer.Option(True, "--face-edges/--no-face-edges", help=FACE_EDGES_HELP),
    workers: int = Workers,
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Make a training set: frames, condition maps, masks, flow and pose statistics, with dataset.json."""
    from v2vcli.config import parse_size
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset

    config = PrepareConfig(
        condition=condition, size=parse_size(size) if size else None, preset=preset, segment_backend=backend,
        segment_model=model, segment_weights=str(weights) if weights else None, segment_threshold=threshold,
        pose_backend=pose_backend, pose_model=str(pose_model) if pose_model else None, person=person, masks=masks,
        mask_backend=mask_backend, flow=flow, face_edges=face_edges, overwrite=overwrite, quiet=quiet,
    )
    from v2vcli.batch import BatchFailed, expand_inputs

    try:
        result = prepare_dataset(expand_inputs(videos).files, output, config, workers)
    except BatchFailed as failed:
        report_failures(failed.failures, failed.total, failed.consequence)
    show(result, json_output, f"{result.dataset}: {result.frames} frames in {len(result.sequences)} sequence(s), "
                              f"{result.size[0]}x{result.size[1]}, condition {result.condition} ({result.seconds} s)")


def register(app: typer.Typer) -> None:
    app.command()(prepare)
