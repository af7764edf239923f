"""`v2v segment`: semantic label maps for every frame of a video."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, Quiet, print_json


def segment(
    video: Path = typer.Argument(..., help="Input video."),
    output: Path = typer.Option(
        None, "--output", "-o", help="Output folder (default: VIDEO_STEM.segment next to VIDEO)."
    ),
    backend: str = typer.Option("mediapipe", "--backend", "-b", help="mediapipe, segformer or detectron2."),
    model: str = typer.Option(
        None, "--model", "-m",
        help="mediapipe: .tflite file (default: selfie_segmentation.tflite from the weights folders); "
             "segformer: model folder or hub id; detectron2: config .yaml.",
    ),
    weights: Path = typer.Option(None, "--weights", help="detectron2: weights file (else the config's)."),
    threshold: float = typer.Option(0.5, "--threshold", help="mediapipe: person probability above which a pixel "
                                                             "is labelled person (0..1)."),
    smooth: float = typer.Option(
        0.0, "--smooth", help="Temporal smoothing strength along the optical flow, 0 (off) to <1; 0.5 is a "
                              "good start. Cuts flicker, adds the flicker rate to --json."),
    overlay: bool = typer.Option(False, "--overlay", help="Blend the preview on the input instead of black."),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="Write the OUT/segment.mp4 preview."),
    device: str = typer.Option("auto", "--device", help="segformer/detectron2: auto, cpu, cuda or cuda:N."),
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Label maps per frame: OUT/labels/000000.png (uint8 class ids), OUT/classes.json (id, name, colour),
    OUT/segment.mp4 colour preview. With --json, the summary includes the flicker rate (the fraction of
    still pixels whose class changes between frames)."""
    from v2vcli.preprocess.segment import SegmentConfig, export_segmentation

    config = SegmentConfig(backend=backend, model=model, weights=str(weights) if weights else None,
                           threshold=threshold, smooth=smooth, device=device)
    output = output or video.with_name(f"{video.stem}.segment")
    summary = export_segmentation(video, output, config, overlay_input=overlay, overwrite=overwrite, quiet=quiet,
                                  measure_flicker=json_output, preview=preview)
    if json_output:
        print_json(summary)
    elif not quiet:
        typer.echo(f"{summary['label_images']} label maps ({summary['fps']} frames/s) -> {output}")


def register(app: typer.Typer) -> None:
    app.command()(segment)
