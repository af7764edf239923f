"""Trained models by name or path: weights/NAME/ (a training run, or a lone generator.safetensors)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from v2vcli.errors import BadInput, MissingModel, first_line
from v2vcli.weights import weight_dirs

GENERATOR_FILE = "generator.safetensors"


@dataclass
class ModelEntry:
    """A model found on disk: where, and what its config says."""

    name: str
    path: Path
    preset: str
    condition: str | None
    size: list[int] | None
    label_channels: int
    step: int | None


def model_file(folder: Path) -> Path | None:
    """The file or folder `load_generator` takes for a model folder, or None when it holds no model."""
    from v2vcli.training.checkpoint import latest_checkpoint

    if (folder / GENERATOR_FILE).is_file():
        return folder / GENERATOR_FILE
    return latest_checkpoint(folder) if folder.is_dir() else None


def describe(name: str, path: Path) -> ModelEntry:
    """Read a model's config without loading its weights."""
    from safetensors import safe_open

    from v2vcli.config import Config

    generator = path if path.is_file() else path / GENERATOR_FILE
    try:
        with safe_open(str(generator), framework="pt") as handle:
            metadata = handle.metadata() or {}
        config = Config.from_json(metadata["config"], str(generator))
    except Exception as error:  # any unreadable model is reported, not fatal to the listing
        raise BadInput(f"{generator}: not a readable v2v generator ({first_line(error)})") from None
    step = None
    state = path / "state.json" if path.is_dir() else None
    if state is not None and state.is_file():
        step = json.loads(state.read_text()).get("step")
    return ModelEntry(name, path, config.preset, config.data.condition, config.data.size,
                      config.model.label_channels, step)


def list_models() -> list[ModelEntry]:
    """Every model under the weights folders (v2vcli.weights lookup order); the first of a name wins."""
    found: dict[str, ModelEntry] = {}
    for folder in weight_dirs():
        if not folder.is_dir():
            continue
        for candidate in sorted(p for p in folder.iterdir() if p.is_dir()):
            path = model_file(candidate)
            if path is not None and candidate.name not in found:
                try:
                    found[candidate.name] = describe(candidate.name, path)
                except BadInput:
                    continue
    return list(found.values())


def find_model(name_or_path: str | Path) -> Path:
    """A model's file or checkpoint folder from a path, or a name under the weights folders."""
    path = Path(name_or_path)
    if path.exists():
        found = model_file(path) if path.is_dir() else path
        if found is None:
            raise MissingModel(f"{path}: holds no trained model (no {GENERATOR_FILE} or checkpoint-*/)")
        return found
    for folder in weight_dirs():
        found = model_file(folder / str(name_or_path))
        if found is not None:
            return found
    names = ", ".join(entry.name for entry in list_models()) or "none"
    raise MissingModel(f"no model named {name_or_path!r}; models found: {names} "
                       f"(train one with `v2v train DATASET --name {name_or_path}`)")
