"""`v2v train`: train a vid2vid model on a dataset folder; weights go to weights/NAME/."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, Quiet, print_json


def train(
    dataset: Path = typer.Argument(..., help="Dataset: a `v2v prepare` folder or NVIDIA vid2vid's train_A/train_B."),
    name: str = typer.Option(..., "--name", "-n", help="Model name; weights go to OUTPUT_DIR/NAME/."),
    preset: str = typer.Option(None, "--preset", "-p",
                               help="Model size: tiny, small, base or hd (default: tiny on a CPU, base on a GPU)."),
    steps: int = typer.Option(None, "--steps",
                              help="Training steps (clips) (default: the preset's; with --resume: as saved)."),
    size: str = typer.Option(None, "--size", help="Training size WxH (default: the dataset's, fitted to the preset)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    resume: bool = typer.Option(False, "--resume", help="Continue NAME from its newest checkpoint."),
    output_dir: Path = typer.Option(Path("weights"), "--output-dir", help="Folder that holds the models."),
    vgg: Path = typer.Option(None, "--vgg", help="VGG19 weights (torchvision layout) for the perceptual loss "
                             "(default: torchvision's file, downloaded once into the user cache)."),
    no_vgg: bool = typer.Option(False, "--no-vgg", help="Train without the VGG19 perceptual loss."),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the networks (CUDA)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (initial weights and the sample stream)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Clips per step and process (default: the preset's)."),
    save_every: int = typer.Option(None, "--save-every", help="Checkpoint every N steps (default: the preset's)."),
    sample_every: int = typer.Option(None, "--sample-every", help="Sample PNG + mp4 every N steps (0: at the end)."),
    num_classes: int = typer.Option(None, "--num-classes", help="Segmentation classes (default: found in labels)."),
    workers: int = typer.Option(None, "--workers", help="Data loading processes (default: on CUDA one per CPU core "
                                "less one, at most 8, per GPU process; 0 on a CPU, where the step uses every core)."),
    config_file: Path = typer.Option(None, "--config", help="Start from this config.json instead of a preset."),
    quiet: bool = Quiet,
    json_output: bool = Json,
    overwrite: bool = Overwrite,
) -> None:
    """Train a vid2vid model (progressive in space and time); checkpoints, log and samples in OUTPUT_DIR/NAME/.

    Several GPUs: torchrun --nproc_per_node=N -m v2vcli train DATASET --name NAME ...
    Several machines: the same on each, with --nnodes, a rendezvous and --resume (docs/training.md).
    """
    from v2vcli.config import Config, RunSettings, parse_size, preset_for_device
    from v2vcli.config import preset as preset_config
    from v2vcli.devices import resolve_device
    from v2vcli.training import train as run_training

    default_preset = preset is None and config_file is None
    if default_preset:
        preset = preset_for_device(resolve_device(device).type)
    config = Config.load(config_file) if config_file else preset_config(preset)
    if size:
        config.data.size = parse_size(size)
    if num_classes is not None:
        config.data.num_classes = num_classes
    config.train.steps, config.train.seed = steps, seed
    if batch_size is not None:
        config.train.batch_size = batch_size
    run = RunSettings(name=name, output_dir=str(output_dir), dataset=str(dataset), device=device,
                      default_preset=default_preset, compile=compile_model,
                      num_workers=workers,
                      vgg=not no_vgg, vgg_path=str(vgg) if vgg else None,
                      save_every=save_every, sample_every=sample_every, resume=resume, overwrite=overwrite,
                      quiet=quiet or json_output)
    result = run_training(config, run)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return
    if json_output:
        print_json(dataclasses.asdict(result))
    elif not quiet:
        typer.echo(str(result.checkpoint or result.model))


def register(app: typer.Typer) -> None:
    app.command()(train)
