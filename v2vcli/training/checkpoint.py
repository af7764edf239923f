"""Model files: safetensors tensors + JSON, written atomically, checked on load; nothing executes code.

    weights/NAME/checkpoint-0001000/
        generator.safetensors       G weights (the moving average of training, when it keeps one: what
                                    generation uses); its metadata holds the full config JSON and the
                                    number of spatial scales trained so far, so this one file rebuilds
                                    the generator (load_generator)
        discriminators.safetensors  D weights
        training.safetensors        optimizer moments, RNG states and, with a weight average, the trained
                                    G weights ("generator.NAME") that training resumes from (tensors)
        config.json                 the full config (the same as in generator.safetensors)
        state.json                  step, optimizer scalars, grad-scaler state, last losses, and the
                                    size and SHA-256 of every file above (written last)

A checkpoint folder is written under a temporary name and renamed when complete, so a run killed at any
moment leaves either the whole checkpoint or none. On load every file is checked against state.json:
a truncated or modified file is refused with one line naming it.

Every safetensors file v2v writes also carries the checksum of its own tensors in its metadata, under
"tensors_sha256" (tensors_sha256 below), because a generator file travels alone (weights/demo/, a copy
handed to someone) without the state.json that guards it in a checkpoint. Loading recomputes it from the
tensors read and refuses a mismatch as "model file damaged or modified". Files written before v2v
recorded it (no "tensors_sha256" key) load as before, unchecked; re-saving their tensors adds it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from v2vcli.config import Config
from v2vcli.errors import BadInput, MissingModel
from v2vcli.io.outputs import atomic_path
from v2vcli.training.average import LIVE_PREFIX
from v2vcli.training.distributed import unwrap

CHECKPOINT_FORMAT = 1
CHECKSUM_KEY = "tensors_sha256"
PATTERN = re.compile(r"^checkpoint-(\d+)$")
TENSOR_FILES = ("generator.safetensors", "discriminators.safetensors", "training.safetensors")
TRAINED_SCALES_KEY = "scales_trained"


@dataclass
class Checkpoint:
    path: Path
    config: Config
    state: dict
    generator: dict[str, torch.Tensor]
    discriminators: dict[str, torch.Tensor]
    training: dict[str, torch.Tensor]

    @property
    def step(self) -> int:
        return int(self.state["step"])

    @property
    def live_generator(self) -> dict[str, torch.Tensor]:
        """The generator weights training continues from: the trained ones kept beside a weight average,
        else the model file's."""
        live = {name[len(LIVE_PREFIX):]: tensor for name, tensor in self.training.items()
                if name.startswith(LIVE_PREFIX)}
        return live or self.generator


def checkpoint_name(step: int) -> str:
    return f"checkpoint-{step:07d}"


def list_checkpoints(run_dir: Path | str) -> list[Path]:
    """Complete checkpoints of a run, oldest first (folders with a state.json)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in run_dir.iterdir()
             if (match := PATTERN.match(path.name)) and (path / "state.json").is_file()]
    return [path for _, path in sorted(found)]


def latest_checkpoint(run_dir: Path | str) -> Path | None:
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def remove_partial(run_dir: Path) -> None:
    """Drop the temporary folders a killed run may have left (never a complete checkpoint)."""
    for path in Path(run_dir).glob(".checkpoint-*.partial-*"):
        shutil.rmtree(path, ignore_errors=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over a file's tensors, independent of the file's layout: for each tensor in name order,
    the UTF-8 bytes of "NAME\\0DTYPE\\0SHAPE\\0" (DTYPE as torch names it without "torch.", e.g. float32;
    SHAPE the sizes joined by commas, empty for a scalar), then its raw bytes in C order as safetensors
    stores them (little-endian). Hex digest, 64 characters."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        dtype = str(tensor.dtype).removeprefix("torch.")
        digest.update(f"{name}\0{dtype}\0{','.join(map(str, tensor.shape))}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())  # bytes as stored, whatever the dtype
    return digest.hexdigest()


def save_tensor_file(tensors: dict[str, torch.Tensor], path: Path | str, metadata: dict[str, str]) -> None:
    """Write `tensors` to the safetensors file `path` with `metadata` and the tensors' checksum."""
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata={**metadata, CHECKSUM_KEY: tensors_sha256(tensors)})


def load_tensor_file(path: Path | str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file, its recorded checksum verified (when it has one).

    BadInput with one line for a file that is not safetensors and for one whose tensors do not match.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise BadInput(f"{path}: not a readable safetensors file ({error})") from None
    recorded = metadata.get(CHECKSUM_KEY)
    if recorded is not None and recorded != tensors_sha256(tensors):
        raise BadInput(f"{path}: model file damaged or modified (its tensors do not match the SHA-256 "
                       "recorded in it); use an intact copy")
    return tensors, metadata


def optimizer_to_flat(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state dict into tensors (for safetensors) and JSON-able scalars."""
    state_dict = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state_dict["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def optimizer_from_flat(prefix: str, tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, tensor in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(index), {})[key] = tensor
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(run_dir: Path, step: int, config: Config, generator: torch.nn.Module,
                    discriminators: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
                    state: dict, keep_last: int, live_generator: torch.nn.Module | None = None,
                    trained_scales: int | None = None) -> Path:
    """Write checkpoint `step` atomically, then delete all but the `keep_last` newest. Returns its path.

    generator: what the model file holds (the weight average, when training keeps one); live_generator:
    the trained weights, kept for resuming when they differ from it; trained_scales: the spatial scales
    trained so far (default: all)."""
    target = Path(run_dir) / checkpoint_name(step)
    config_json = config.to_json()
    trained_scales = config.model.n_scales_spatial if trained_scales is None else trained_scales
    training_tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if live_generator is not None:
        training_tensors.update({LIVE_PREFIX + name: tensor for name, tensor in _cpu_state(live_generator).items()})
    if torch.cuda.is_available():
        for index, rng in enumerate(torch.cuda.get_rng_state_all()):
            training_tensors[f"rng.cuda.{index}"] = rng
    optimizer_meta = {}
    for name, optimizer in optimizers.items():
        tensors, meta = optimizer_to_flat(f"optimizer.{name}", optimizer)
        training_tensors.update(tensors)
        optimizer_meta[name] = meta
    with atomic_path(target) as temporary:
        temporary.mkdir()
        save_tensor_file(_cpu_state(generator), temporary / "generator.safetensors",
                         {"format": "v2v-generator", "config": config_json, "step": str(step),
                          TRAINED_SCALES_KEY: str(trained_scales)})
        save_tensor_file(_cpu_state(discriminators), temporary / "discriminators.safetensors",
                         {"format": "v2v-discriminators"})
        save_tensor_file(training_tensors, temporary / "training.safetensors", {"format": "v2v-training"})
        (temporary / "config.json").write_text(config_json + "\n")
        files = {name: {"bytes": (temporary / name).stat().st_size, "sha256": sha256(temporary / name)}
                 for name in (*TENSOR_FILES, "config.json")}
        record = {"format": CHECKPOINT_FORMAT, "step": step, "optimizers": optimizer_meta, **state,
                  TRAINED_SCALES_KEY: trained_scales, "files": files}
        (temporary / "state.json").write_text(json.dumps(record, indent=1, default=float) + "\n")
    for old in list_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().cpu().contiguous() for name, tensor in unwrap(module).state_dict().items()}


def load_checkpoint(path: Path | str) -> Checkpoint:
    """Read and verify a checkpoint folder; BadInput naming the first damaged or missing file."""
    path = Path(path)
    state_path = path / "state.json"
    if not state_path.is_file():
        raise BadInput(f"{path}: not a checkpoint (no state.json)")
    try:
        state = json.loads(state_path.read_text())
        files = state["files"]
        int(state["step"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
        raise BadInput(f"{state_path}: damaged (not the JSON a checkpoint writes)") from None
    if state.get("format") != CHECKPOINT_FORMAT:
        raise BadInput(f"{state_path}: checkpoint format {state.get('format')!r}, this v2v reads {CHECKPOINT_FORMAT}")
    for name in (*TENSOR_FILES, "config.json"):
        file = path / name
        if not file.is_file():
            raise BadInput(f"{file}: missing; the checkpoint is incomplete")
        expected = files.get(name, {})
        if file.stat().st_size != expected.get("bytes"):
            raise BadInput(f"{file}: {file.stat().st_size} bytes, the checkpoint recorded {expected.get('bytes')} "
                           "(truncated or replaced); resume from an earlier checkpoint")
        if sha256(file) != expected.get("sha256"):
            raise BadInput(f"{file}: contents do not match the checkpoint's SHA-256 (damaged or modified); "
                           "resume from an earlier checkpoint")
    config = Config.load(path / "config.json")
    tensors = {name: load_tensor_file(path / name)[0] for name in TENSOR_FILES}
    return Checkpoint(path, config, state, tensors["generator.safetensors"], tensors["discriminators.safetensors"],
                      tensors["training.safetensors"])


def resolve_checkpoint(path: Path | str) -> Path:
    """A checkpoint folder from a run folder (its newest checkpoint) or a checkpoint folder itself."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    latest = latest_checkpoint(path)
    if latest is None:
        raise MissingModel(f"{path}: no trained model here (no checkpoint-*/ with a state.json; run `v2v train`)")
    return latest


def load_generator(path: Path | str, device: str | torch.device = "cpu"):
    """(Generator in eval mode on `device`, Config) from a run folder (weights/NAME), a checkpoint folder,
    or a generator.safetensors file alone (its metadata holds the config)."""
    from v2vcli.models.generator import Generator

    path = Path(path)
    if not path.exists():
        raise MissingModel(f"{path}: no such model file or folder")
    if path.is_dir():
        checkpoint = resolve_checkpoint(path)
        verified = load_checkpoint(checkpoint)  # checks every file's checksum
        config, tensors = verified.config, verified.generator
        trained = verified.state.get(TRAINED_SCALES_KEY)
    else:
        tensors, metadata = load_tensor_file(path)
        if metadata.get("format") != "v2v-generator" or "config" not in metadata:
            raise BadInput(f"{path}: not a v2v generator (no config in its metadata)")
        config = Config.from_json(metadata["config"], str(path))
        trained = metadata.get(TRAINED_SCALES_KEY)
    generator = Generator(config.model)
    # files written before this was recorded hold a fully trained generator
    generator.trained_scales = int(trained) if trained is not None else config.model.n_scales_spatial
    try:
        generator.load_state_dict(tensors)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise BadInput(f"{path}: weights do not fit the generator its config describes ({first})") from None
    return generator.to(device).eval(), config
