"""`v2v segment`: semantic label maps for every frame of a video.

The segmentation options are defined here once; `v2v generate --from segment` and `v2v prepare` use
the same ones, so a model is driven by the segmentation it was trained on.
"""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import INPUTS_HELP, Json, Overwrite, PreviewFormat, Quiet, Workers, run_on_inputs
from v2vcli.preprocess.segment import DEFAULT_BACKEND, backends_help

MODEL_HELP = ("Segmentation model: pose .task or selfie .tflite file (default: from the weights folders), "
              "segformer model folder or hub id (default: nvidia/segformer-b0-finetuned-cityscapes-1024-1024, "
              "Cityscapes' 19 classes, non-commercial licence, downloaded once into ~/.cache/v2v/hub), "
              "detectron2 config .yaml.")


def backend_option(default: str | None, shown_default: str) -> typer.models.OptionInfo:
    """--backend/-b, with `shown_default` saying in the help what `default` means."""
    return typer.Option(default, "--backend", "-b", show_default=False,
                        help=f"Segmentation backend: {backends_help()} (default: {shown_default}).")


def threshold_option(default: float | None, shown_default: str) -> typer.models.OptionInfo:
    return typer.Option(default, "--threshold", show_default=False,
                        help="pose/selfie: person probability above which a pixel is labelled person (0..1) "
                             f"(default: {shown_default}).")


SegmentWeights = typer.Option(None, "--weights", help="detectron2: weights file (else the config's).")
Smooth = typer.Option(
    0.0, "--smooth", help="Temporal smoothing strength along the optical flow, 0 (off) to <1; 0.5 is a good "
                          "start. Cuts flicker.")


def segment(
    videos: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    output: Path = typer.Option(
        None, "--output", "-o", help="Output folder (default: VIDEO_STEM.segment next to VIDEO)."
    ),
    backend: str = backend_option(DEFAULT_BACKEND, DEFAULT_BACKEND),
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    weights: Path = SegmentWeights,
    threshold: float = threshold_option(0.5, "0.5"),
    smooth: float = Smooth,
    overlay: bool = typer.Option(False, "--overlay", help="Blend the preview on the input instead of black."),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="Write the OUT/segment.mp4 preview."),
    preview_format: str = PreviewFormat,
    device: str = typer.Option("auto", "--device", help="segformer/detectron2: auto, cpu, cuda or cuda:N."),
    workers: int = Workers,
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Label maps per frame: OUT/labels/000000.png (uint8 class ids), OUT/classes.json (id, name, colour),
    OUT/segment.mp4 colour preview. With --json, the summary includes the flicker rate (the fraction of
    still pixels whose class changes between frames)."""
    from functools import partial

    from v2vcli.preprocess.segment import SegmentConfig, export_segmentation

    config = SegmentConfig(backend=backend, model=model, weights=str(weights) if weights else None,
                           threshold=threshold, smooth=smooth, device=device)
    job = partial(export_segmentation, config=config, overlay_input=overlay, overwrite=overwrite, quiet=quiet,
                  measure_flicker=json_output, preview=preview, preview_format=preview_format)
    run_on_inputs(videos, output, job, default_output, workers, quiet, json_output,
                  lambda result: f"{result.label_images} label maps ({result.frames_per_second} frames/s) -> "
                                 f"{result.output}")


def default_output(video: Path) -> Path:
    """VIDEO_STEM.segment, beside VIDEO."""
    return video.with_name(f"{video.stem}.segment")


def register(app: typer.Typer) -> None:
    app.command()(segment)
