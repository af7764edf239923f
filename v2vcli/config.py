"""Typed configs that flow one way: CLI -> Config -> trainer -> model; saved as JSON in every checkpoint.

A `Config` holds a `ModelConfig` (what the networks are), a `DataConfig` (what they are trained on)
and a `TrainConfig` (the hyperparameters: how they are trained). It is what a model file carries, so
it holds nothing about one invocation: where the run lives, which device and files it uses and how
often it checkpoints are `RunSettings`, given anew by every command line and never saved with the
model. A resumed run therefore takes its hyperparameters from the checkpoint and its run settings from
the command that resumes it, with no list of exceptions to maintain.

`preset(name)` gives the starting points of `v2v train --preset`; the table in docs/training.md lists
them. `Config.to_json`/`Config.from_json` round-trip exactly, and unknown keys are refused so a typo in
a hand-edited file does not pass silently; files of config version 1 (which also held the run
settings) are read by dropping those settings.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from v2vcli.errors import BadInput

CONFIG_VERSION = 2
DEFAULT_STEPS = 1000
# Checkpoint and sample cadence when neither the command line nor the preset gives one.
DEFAULT_SAVE_EVERY = 1000
DEFAULT_SAMPLE_EVERY = 500


@dataclass
class ModelConfig:
    """The generator and discriminators (vid2vid, arXiv 1808.06601).

    label_channels: channels of the condition map the generator sees (set from the dataset: the number
        of classes for one-hot segmentation, 3 for an RGB pose rendering, +1 with instance edges).
    n_frames_G: frames the generator looks at; it conditions on L = n_frames_G - 1 previous frames.
    ngf: channels of the finest generator scale; each coarser scale doubles them.
    n_scales_spatial: generator scales, coarse to fine; each finer one is a local enhancer (2x size).
    use_flow: False removes the flow/mask path (frame-by-frame generation, the paper's ablation).
    fg_separation: hallucinate the foreground with a head of its own, never warped, over the background
        (which the flow path warps): the paper's foreground-background prior. The foreground is read off
        the condition map itself, so generation needs nothing training had not: for pose, the rendered
        skeleton widened by `fg_dilation` (a fraction of the frame height); for segmentation, the classes
        in `fg_classes` (required). Off in the presets: at small scale it cost fidelity (docs/results.md).
    face: a face refiner (a small residual generator on a box around the face, v2vcli.models.face) with its
        own discriminator and loss terms (v2vcli.training.face); pose models only: the box is found from the
        face's colours in the rendering, so a model on segmentation maps (label_channels other than 3) never
        builds it. `face_size`: the box's side as a fraction of the frame height (32 px at 128);
        `face_ngf`: the refiner's channels; `face_blocks`: its residual blocks.
    coordinates: two more input channels holding each pixel's x and y in [-1, 1], beside the condition maps
        of every scale. Where a pose map is black (most of the frame) a convolutional generator sees the
        same input everywhere and cannot tell one place from another; with them it can draw a fixed
        camera's background by place (docs/results.md).
    """

    label_channels: int = 3
    output_channels: int = 3
    n_frames_G: int = 3
    ngf: int = 32
    n_downsample: int = 3
    n_blocks: int = 6
    n_blocks_local: int = 3
    n_scales_spatial: int = 1
    use_flow: bool = True
    fg_separation: bool = False
    fg_classes: list[int] | None = None
    fg_dilation: float = 0.04
    flow_gain: float = 10.0
    ndf: int = 32
    n_layers_D: int = 3
    num_D: int = 2
    n_frames_D: int = 3
    n_scales_temporal: int = 2
    face: bool = True
    face_size: float = 0.25
    face_ngf: int = 16
    face_blocks: int = 2
    coordinates: bool = True

    @property
    def n_previous(self) -> int:
        return self.n_frames_G - 1

    @property
    def size_multiple(self) -> int:
        """Training width and height must be multiples of this (every downsampling halves exactly)."""
        return 2 ** (self.n_downsample + self.n_scales_spatial - 1)


@dataclass
class DataConfig:
    """What the model trains on. `size` is [W, H] at the finest scale; None picks it from the dataset
    (scaled to fit `max_side`, rounded down to the model's size multiple). `flip` None means "flip
    segmentation datasets, not pose ones" (a mirrored pose rendering swaps its left/right colours).

    root (the dataset folder, as `RunSettings.dataset` named it), condition, num_classes,
    instance_edges, fps, pose_stats, dataset_size (the dataset's [W, H], the size its condition maps
    were rendered at) and segmentation (the backend settings that made a segment dataset's labels, so
    `generate --from segment` can label new video the same way), condition_record (dataset.json's entry
    named after the condition: how its maps were made, e.g. a face dataset's edges) are filled from the dataset when
    training starts, so a model file alone says what it was trained on and what it expects: "pose" (RGB
    rendering, 3 channels in [-1, 1]) or "segment" (num_classes one-hot channels), plus one instance-edge
    channel when instance_edges.
    """

    root: str = ""
    size: list[int] | None = None
    max_side: int = 256
    num_classes: int | None = None
    condition: str | None = None
    instance_edges: bool = False
    fps: float | None = None
    pose_stats: dict | None = None
    dataset_size: list[int] | None = None
    segmentation: dict | None = None
    condition_record: dict | None = None
    flip: bool | None = None
    scale_jitter: float = 0.1
    flow_method: str = "dis-medium"


@dataclass
class TrainConfig:
    """The training hyperparameters, saved with the model: what a resumed run keeps.

    Steps count training sequences (each batch of clips, processed chunk by chunk). `steps` None means
    the preset's default (`default_steps`) for a new run and the saved count when resuming (the one
    hyperparameter a resuming command line may change: it extends or shortens the run). The steps are
    split evenly over the spatial stages (one per generator scale, coarse first); in each stage the
    sequence length doubles from `n_frames_start` up to `n_frames_max` in equal parts. `frames_per_chunk` frames are
    generated, judged and back-propagated at a time (truncated BPTT). The `lambda_*` fields weigh the
    loss terms (v2vcli/training/terms.py; the face's: `lambda_face` for L1 + perceptual on the face box,
    `lambda_face_gan` for the face discriminator). `amp` (autocast on CUDA) stays with
    the run because the precision changes the numbers, and an exact resume needs the same ones.

    Learning rates stay at lr_G/lr_D for the first `lr_decay_start` of the steps, then fall linearly
    to 0 at the last step. `ema_decay` keeps an exponential moving average of the generator's weights
    (0 turns it off): what the model file holds and generation uses. In the first steps of a spatial
    stage that adds a finer scale (`fine_warmup` of the stage), only that new scale trains; the
    coarser ones are held as they are, so the untrained enhancer does not pull them off.
    """

    steps: int | None = None
    batch_size: int = 1
    lr_G: float = 2e-4
    lr_D: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    gan_mode: str = "lsgan"
    lambda_feat: float = 10.0
    lambda_vgg: float = 10.0
    lambda_l1: float = 0.0
    lambda_temporal: float = 1.0
    lambda_flow: float = 10.0
    lambda_warp: float = 10.0
    lambda_mask: float = 1.0
    lambda_output_warp: float = 10.0
    lambda_raw: float = 1.0
    lambda_face: float = 30.0
    lambda_face_gan: float = 1.0
    confidence_threshold: float = 0.1
    n_frames_start: int | None = None
    n_frames_max: int = 8
    frames_per_chunk: int = 4
    lr_decay_start: float = 0.5
    ema_decay: float = 0.999
    fine_warmup: float = 0.25
    seed: int = 0
    amp: bool = True


@dataclass
class RunSettings:
    """How one invocation of training runs; not saved with the model: each command line gives them.

    They belong to this machine and this invocation rather than to the model: where the run folder is
    (`output_dir`/`name`); the files read (`dataset`, recorded in DataConfig.root once read, and the
    VGG19 weights: the file at `vgg_path`, else with `vgg` torchvision's published file, fetched once
    into the user cache; where neither can be had the perceptual term is off, and the run says so);
    where and how it computes (`device`, `compile`, `num_workers`: None takes
    v2vcli.training.trainer.default_workers; `default_preset` says the config's preset is the default
    for the device, which the run's first line states); what it writes and how often (`save_every`,
    `sample_every` (0: only at the end), `log_every`, `keep_last` checkpoints), none of which changes the weights;
    what to do with an existing run (`resume`, `overwrite`); and an early stop (`stop_after`: the
    schedule still spans all `steps`). `save_every`/`sample_every` None take the preset's cadence.
    """

    name: str = "model"
    output_dir: str = "weights"
    dataset: str = ""
    device: str = "auto"
    default_preset: bool = False
    compile: bool = False
    num_workers: int | None = None
    vgg: bool = True
    vgg_path: str | None = None
    save_every: int | None = None
    sample_every: int | None = None
    log_every: int = 1
    keep_last: int = 3
    resume: bool = False
    overwrite: bool = False
    stop_after: int | None = None
    quiet: bool = False

    def with_preset_defaults(self, preset_name: str) -> RunSettings:
        """A copy whose unset cadences take the preset's (DEFAULT_* for a custom config)."""
        cadence = {"save_every": DEFAULT_SAVE_EVERY, "sample_every": DEFAULT_SAMPLE_EVERY,
                   **PRESETS.get(preset_name, {}).get("run", {})}
        return dataclasses.replace(self, **{key: value for key, value in cadence.items() if getattr(self, key) is None})


@dataclass
class Config:
    """Everything a run needs; saved as config.json next to every checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "custom"
    version: int = CONFIG_VERSION

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> Config:
        if not isinstance(data, dict):
            raise BadInput(f"{source}: expected a JSON object")
        known = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
        unknown = set(data) - set(known) - {"preset", "version"}
        if unknown:
            raise BadInput(f"{source}: unknown keys {sorted(unknown)}")
        version = data.get("version", CONFIG_VERSION)
        if version == 1:
            data = _from_version_1(data)
        elif version != CONFIG_VERSION:
            raise BadInput(f"{source}: config version {version!r}; this v2v reads versions 1 to {CONFIG_VERSION}")
        parts = {key: _build(kind, data.get(key, {}), f"{source}:{key}") for key, kind in known.items()}
        if isinstance(data.get("model"), dict):
            for name, before in ADDED_MODEL_FIELDS.items():
                if name not in data["model"]:
                    setattr(parts["model"], name, before)
        return cls(**parts, preset=str(data.get("preset", "custom")))

    @classmethod
    def from_json(cls, text: str, source: str = "config") -> Config:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise BadInput(f"{source}: not valid JSON ({error})") from None
        return cls.from_dict(data, source)

    def save(self, path: Path | str) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path | str) -> Config:
        path = Path(path)
        if not path.is_file():
            raise BadInput(f"{path}: config file not found")
        return cls.from_json(path.read_text(), str(path))


# Model parts added after model files were first saved, with the value a file saved before them means: a
# saved config lists every field of its day, so one without the key was made by a model without the part.
ADDED_MODEL_FIELDS = {"face": False, "coordinates": False}


# Version 1 saved the run settings inside the config; they are RunSettings since version 2.
VERSION_1_RUN_SETTINGS = {
    "train": ("name", "output_dir", "device", "compile", "quiet", "resume", "overwrite", "stop_after",
              "vgg_path", "save_every", "sample_every", "log_every", "keep_last"),
    "data": ("num_workers",),
}


def _from_version_1(data: dict) -> dict:
    """A version-1 config dict in the current layout: its run settings dropped, every other key kept
    (so an unknown key is still refused)."""
    data = dict(data)
    for part, names in VERSION_1_RUN_SETTINGS.items():
        if isinstance(data.get(part), dict):
            data[part] = {key: value for key, value in data[part].items() if key not in names}
    return data


def _build(kind: type, values: dict, source: str):
    if not isinstance(values, dict):
        raise BadInput(f"{source}: expected a JSON object")
    names = {item.name for item in dataclasses.fields(kind)}
    unknown = set(values) - names
    if unknown:
        raise BadInput(f"{source}: unknown keys {sorted(unknown)}")
    return kind(**values)


# Presets: model size and the training resolution each is meant for (tiny is a CPU smoke test), the
# steps a new run takes when it names none ("steps"), and the checkpoint/sample cadence that suits their
# step time (run settings, see RunSettings.with_preset_defaults). hd's clips grow to 20 frames so that its
# third temporal discriminator, which judges frames 9 apart (19 frames of video), sees whole windows.
PRESETS: dict[str, dict] = {
    "tiny": {
        "model": dict(ngf=8, n_downsample=2, n_blocks=1, n_blocks_local=1, ndf=8, n_layers_D=2, num_D=1,
                      n_scales_temporal=1, face_ngf=16, face_blocks=2),
        "data": dict(max_side=128),
        "train": dict(n_frames_max=6, frames_per_chunk=3),
        "steps": 3000,
        "run": dict(save_every=200, sample_every=100),
    },
    "small": {
        "model": dict(ngf=16, n_downsample=3, n_blocks=3, n_blocks_local=2, ndf=16, n_layers_D=3, num_D=2,
                      n_scales_temporal=2, face_ngf=32, face_blocks=3),
        "data": dict(max_side=256),
        "train": dict(n_frames_max=8, frames_per_chunk=4),
        "steps": 10000,
        "run": dict(save_every=1000, sample_every=250),
    },
    "base": {
        "model": dict(ngf=32, n_downsample=3, n_blocks=9, ndf=64, n_layers_D=3, num_D=2, n_scales_temporal=2,
                      face_ngf=64, face_blocks=4),
        "data": dict(max_side=512),
        "train": dict(n_frames_max=12, frames_per_chunk=4),
        "steps": 20000,
        "run": dict(save_every=2000, sample_every=500),
    },
    "hd": {
        "model": dict(ngf=32, n_downsample=3, n_blocks=9, n_blocks_local=3, n_scales_spatial=2, ndf=64,
                      n_layers_D=3, num_D=3, n_scales_temporal=3, face_ngf=64, face_blocks=4),
        "data": dict(max_side=1024),
        "train": dict(n_frames_max=20, frames_per_chunk=2),
        "steps": 40000,
        "run": dict(save_every=2000, sample_every=500),
    },
}
# The preset `v2v train` takes when given neither --preset nor --config, by the device it trains on: on a
# CPU the one that trains in under an hour at its default steps, on a GPU one that makes a real model.
DEVICE_PRESETS = {"cpu": "tiny", "cuda": "base"}


def preset_for_device(device_type: str) -> str:
    """The default preset for a device type ("cpu", "cuda"); the CPU's for any other."""
    return DEVICE_PRESETS.get(device_type, DEVICE_PRESETS["cpu"])


def default_steps(preset_name: str) -> int:
    """Steps of a new run that names none: the preset's, else DEFAULT_STEPS (a custom config)."""
    return int(PRESETS.get(preset_name, {}).get("steps", DEFAULT_STEPS))


def preset(name: str) -> Config:
    """The Config of a named preset; BadInput listing the valid names for an unknown one."""
    if name not in PRESETS:
        raise BadInput(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    values = PRESETS[name]
    return Config(
        model=ModelConfig(**values["model"]),
        data=DataConfig(**values["data"]),
        train=TrainConfig(**values["train"]),
        preset=name,
    )


def parse_size(text: str) -> list[int]:
    """'512x256' -> [512, 256]; BadInput for anything else."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise BadInput(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 512x256")
    return [int(parts[0]), int(parts[1])]
