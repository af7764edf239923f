"""Command results: typed dataclasses with documented fields, and one way to turn any of them into JSON.

Every command's library function returns a Result (PoseResult, SegmentResult, FlowResult, PrepareResult,
GenerateResult, DanceResult, ...), as diffusers' pipelines return typed outputs. Field names keep one
meaning everywhere: `fps` is always a frame rate; throughput is `frames_per_second` (`pairs_per_second`
for flow). `--json` prints `json_ready(result)`; the summary files some commands write hold the same.
As with diffusers' outputs, `result["field"]` reads a field too.
"""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np


def json_ready(value: Any) -> Any:
    """`value` with every dataclass, Path, Fraction, tuple and numpy value turned into JSON types.

    A dataclass with its own `to_dict()` (VideoInfo) is converted by it, any other field by field.
    Paths become strings, Fractions floats, numpy scalars and arrays Python numbers and lists.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = value.to_dict() if hasattr(value, "to_dict") else fields_of(value)
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return value


def write_json(path: Path, value: Any) -> None:
    """Write `json_ready(value)` to `path`, indented, as the commands' summary files are."""
    Path(path).write_text(json.dumps(json_ready(value), indent=2) + "\n")


def rate(count: int, seconds: float) -> float | None:
    """`count` per second of wall time, to 2 decimals (None when no time was measured): a throughput."""
    return round(count / seconds, 2) if seconds > 0 else None


def fields_of(instance: Any) -> dict[str, Any]:
    """A dataclass instance's fields as a dict, one level deep (dataclasses.asdict would deep-copy)."""
    return {field.name: getattr(instance, field.name) for field in dataclasses.fields(instance)}


class Result:
    """Base of the command results (each a dataclass): `result["name"]` reads the field `name`."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON types (see `json_ready`), in their order."""
        return json_ready(fields_of(self))

    def __getitem__(self, key: str) -> Any:
        if key not in {field.name for field in dataclasses.fields(self)}:
            raise KeyError(key)
        return getattr(self, key)
