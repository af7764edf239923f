"""`v2v generate`, `v2v dance`, `v2v models`: make videos with trained models."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, PoseBackend, PoseModel, Quiet, print_json, show
from v2vcli.cli.pose import ModelDetail, Person
from v2vcli.cli.segment import MODEL_HELP, SegmentWeights, Smooth, backend_option, threshold_option
from v2vcli.conditions.base import names_help

Device = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N (auto: CUDA when present).")
Crf = typer.Option(18, "--crf", help="H.264 quality, 0-51 (lower is better).")
Encoder = typer.Option("auto", "--encoder", help="H.264 encoder: auto (NVENC when this machine's GPU encodes "
                                                  "with it, else x264), x264 or nvenc.")
Compile = typer.Option(False, "--compile", help="torch.compile the per-frame step: a one-off wait, then faster "
                                                "frames (long videos).")
CudaGraphs = typer.Option(False, "--cuda-graphs", help="Replay the per-frame step as a CUDA graph (CUDA only; "
                                                       "compiles it too): the fastest for long videos.")
OUTPUT_HELP = ("Output video (.mp4, .mkv, .mov, .webm) or a folder of PNG frames (a path without a suffix) "
               "[default: {default}].")


def generate(
    condition: Path = typer.Argument(..., help="pose.mp4 or poses.json (`v2v pose`), a folder of condition "
                                               "map PNGs (labels/), or a raw video with --from."),
    model: str = typer.Option(..., "--model", "-m", help="Model name (see `v2v models`) or path."),
    output: Path = typer.Option(None, "--output", "-o", help=OUTPUT_HELP.format(default="CONDITION_generated.mp4")),
    source: str = typer.Option(None, "--from", help=f"Make the model's condition maps of a raw video first: "
                                                    f"{names_help()}."),
    audio: Path = typer.Option(None, "--audio", "-a", help="File whose audio goes on the result "
                                                           "(default: the condition video's own)."),
    fps: float = typer.Option(24.0, "--fps", help="Frame rate for a label folder (videos keep theirs)."),
    device: str = Device,
    crf: int = Crf,
    encoder: str = Encoder,
    compile_step: bool = Compile,
    cuda_graphs: bool = CudaGraphs,
    pose_backend: str = PoseBackend,
    pose_model: Path = PoseModel,
    person: str = Person,
    detail: str = ModelDetail,
    backend: str = backend_option(None, "the one the model's dataset was made with, else pose"),
    segment_model: str = typer.Option(None, "--segment-model", help=MODEL_HELP),
    weights: Path = SegmentWeights,
    threshold: float = threshold_option(None, "the dataset's, else 0.5"),
    smooth: float = Smooth,
    face_edges: bool = typer.Option(None, "--face-edges/--no-face-edges", show_default=False, help=(
        "With --from face: draw the edges outside the face (default: as the model's dataset did).")),
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Turn condition maps (poses, segmentation labels, edge maps, face sketches) into a video with a
    trained model. A pose.mp4 is rendered again from the poses.json beside it, as training rendered its
    maps (the video's compression shifts limb colours). The segmentation options apply to --from segment."""
    from v2vcli.inference.generate import GenerateConfig, generate_video

    output = output or condition.with_name(f"{condition.stem}_generated.mp4")
    config = GenerateConfig(model=model, source=source, audio=str(audio) if audio else None, device=device, fps=fps,
                            segment_backend=backend, segment_model=segment_model,
                            segment_weights=str(weights) if weights else None, segment_threshold=threshold,
                            segment_smooth=smooth, face_edges=face_edges, pose_backend=pose_backend,
                            pose_model=str(pose_model) if pose_model else None, person=person,
                            pose_detail=detail, crf=crf, encoder=encoder, compile=compile_step,
                            cuda_graphs=cuda_graphs, overwrite=overwrite, quiet=quiet)
    result = generate_video(condition, output, config)
    show(result, json_output, result.output)


def dance(
    source: Path = typer.Option(..., "--source", "-s", help="Video of the moves to copy."),
    target: str = typer.Option("demo", "--target", "-t", help="Model of the person who dances (name or path)."),
    output: Path = typer.Option(None, "--output", "-o", help=OUTPUT_HELP.format(default="SOURCE_TARGET.mp4")),
    side: bool = typer.Option(False, "--side-by-side", help="Write source | pose | result side by side."),
    device: str = Device,
    crf: int = Crf,
    encoder: str = Encoder,
    compile_step: bool = Compile,
    cuda_graphs: bool = CudaGraphs,
    pose_backend: str = PoseBackend,
    pose_model: Path = PoseModel,
    person: str = Person,
    detail: str = ModelDetail,
    overwrite: bool = Overwrite,
    quiet: bool = Quiet,
    json_output: bool = Json,
) -> None:
    """Motion transfer: the target model performs the source video's moves (those of one person of it,
    --person), with the source's audio."""
    from v2vcli.inference.dance import DanceConfig
    from v2vcli.inference.dance import dance as run_dance

    output = output or source.with_name(f"{source.stem}_{Path(target).name}.mp4")
    config = DanceConfig(target=target, device=device, side_by_side=side, crf=crf, overwrite=overwrite,
                         pose_backend=pose_backend, pose_model=str(pose_model) if pose_model else None, person=person,
                         pose_detail=detail, encoder=encoder, compile=compile_step, cuda_graphs=cuda_graphs,
                         quiet=quiet)
    result = run_dance(source, output, config)
    show(result, json_output, result.output)


def models(json_output: bool = Json) -> None:
    """List the trained models found under the weights folders."""
    from v2vcli.inference.models import list_models
    from v2vcli.weights import weight_dirs

    found = list_models()
    if json_output:
        print_json(found)
        return
    if not found:
        typer.echo("no models found in: " + ", ".join(str(folder) for folder in weight_dirs()))
        return
    for entry in found:
        size = "x".join(map(str, entry.size)) if entry.size else "?"
        step = f", step {entry.step}" if entry.step is not None else ""
        typer.echo(f"{entry.name:16} {entry.condition or '?':8} {size:>9}  preset {entry.preset}{step}  {entry.path}")


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(dance)
    app.command()(models)
