"""What a model is conditioned on: one registered class per condition type.

A condition type (pose, segment, edges, face) says, in one place, everything the stages need to know
of its maps:

- `prepare`: how a sequence's maps are made from its frames (`map_maker`: a MapMaker fed the frames in
  order) and what dataset.json records about them (`dataset_record`);
- storage: the channels of a map PNG (`stored_channels`: 1 for class ids or edges, 3 for renderings),
  whether the maps are class ids (resized nearest, one-hot encoded) and whether a mirrored map is
  still a valid one (`flippable`);
- the network: its input channels (`channels`) and the encoding (`encode`: uint8 maps -> float tensor),
  one for training and generation alike (v2vcli/data/conditions.py), and a colour preview (`preview`);
- `generate --from NAME`: how a raw video becomes maps at the model's size (`video_maps`).

A subclass that sets `name` registers itself (as the pose backends do); `condition_named(name)` gives
the registered instance and fails with one line listing the names. Adding a condition type is one
subclass in a module listed in BUILTIN (or any module imported before the registry is read).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from v2vcli.errors import BadInput

if TYPE_CHECKING:
    import torch

    from v2vcli.data.prepare import PrepareConfig
    from v2vcli.inference.generate import GenerateConfig, LoadedModel
    from v2vcli.io.probe import VideoInfo
    from v2vcli.preprocess.segment import SegmentConfig

BUILTIN = ("pose", "segment", "edges", "face")  # the modules under v2vcli/conditions/ of the built-in types
_REGISTERED: dict[str, Condition] = {}


class MapMaker:
    """Makes the condition maps of one sequence for `v2v prepare` (a context: `close()` frees its models).

    `add(index, frame)` takes the frames in order, RGB uint8 (H, W, 3) at the dataset's size (as
    decoded, at the video's own size, when `reads_source`; the maps and masks it returns are still at
    the dataset's size), and returns (the frame's map, or None when the maps are made after the last
    frame; the person mask bool (H, W) when `gives_masks`, else None). With `deferred`,
    `finish(frames)` then yields every frame's map in order; `frames()` reads the stored frames back in
    order (for makers whose rule needs the whole video first, as edges' thresholds do).

    classes: the class list a segmentation labels ([{"id", "name"}]), else None. poses, person: for
    pose maps, the keypoints (K, 5) of the person drawn per frame (None where absent) and their track
    id; empty and None otherwise.
    """

    deferred: bool = False
    gives_masks: bool = False
    reads_source: bool = False

    def __init__(self) -> None:
        self.classes: list[dict] | None = None
        self.poses: list[np.ndarray | None] = []
        self.person: int | None = None

    def add(self, index: int, frame: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        raise NotImplementedError

    def finish(self, frames) -> Iterator[np.ndarray]:
        return iter(())

    def close(self) -> None:
        """Free the models; safe to call twice."""


@dataclass
class VideoMaps:
    """The maps `generate --from` made of a raw video: an iterator of maps at the model's size, and the
    SegmentConfig that labelled them (segment only, reported by `v2v generate --json`)."""

    maps: Iterator[np.ndarray]
    segmentation: SegmentConfig | None = None


class Condition:
    """One condition type (see the module docstring). Subclasses set `name` (registering an instance),
    `summary` (one line for help texts) and the storage attributes, and implement `map_maker` and
    `video_maps`; the defaults encode a uint8 rendering (H, W) or (H, W, 3) as floats in [-1, 1]."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    stored_channels: ClassVar[int] = 3
    class_ids: ClassVar[bool] = False
    flippable: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            _REGISTERED[cls.name] = cls()

    def channels(self, num_classes: int) -> int:
        """The network's input channels for maps of this type (`num_classes`: dataset.json's)."""
        return self.stored_channels

    def encode(self, maps: np.ndarray, num_classes: int) -> torch.Tensor:
        """Stacked maps (T, H, W) or (T, H, W, 3) uint8 as stored -> (T, C, H, W) float in [-1, 1]."""
        import torch

        single = self.stored_channels == 1
        if not (maps.ndim == 3 if single else maps.ndim == 4 and maps.shape[3] == 3):
            shape = "(T, H, W)" if single else "(T, H, W, 3)"
            raise BadInput(f"{self.name} condition maps must be {shape}, got shape {maps.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(maps)).float() / 127.5 - 1
        return tensor[:, None] if single else tensor.permute(0, 3, 1, 2)

    def preview(self, labels: torch.Tensor, num_classes: int) -> np.ndarray:
        """Encoded maps (T, C, H, W) -> RGB uint8 (T, H, W, 3) to look at (training samples)."""
        images = labels[:, :self.stored_channels].float().clamp(-1, 1).add(1).mul(127.5).round().byte()
        return images.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).cpu().numpy()

    def check_map(self, condition_map: np.ndarray, path: Path) -> np.ndarray:
        """A map read from a PNG, returned as it is; BadInput naming `path` when its channels are wrong."""
        if (condition_map.ndim == 2) != (self.stored_channels == 1):
            kind = "single-channel" if self.stored_channels == 1 else "RGB"
            raise BadInput(f"{path}: a {self.name} model needs {kind} {self.name} maps")
        return condition_map

    def map_maker(self, config: PrepareConfig, size: tuple[int, int], fps) -> MapMaker:
        """The MapMaker of one sequence of `size` (W, H) at `fps`, for `v2v prepare` with `config`."""
        raise NotImplementedError

    def dataset_record(self, config: PrepareConfig, classes: list[dict] | None,
                       poses: list[np.ndarray | None]) -> dict:
        """dataset.json's entries about the maps: "num_classes" and how the maps were made. `classes`,
        `poses`: what the MapMakers found (their last `classes`; every sequence's `poses`)."""
        return {"num_classes": self.stored_channels}

    def video_maps(self, video: Path, info: VideoInfo, model: LoadedModel, config: GenerateConfig) -> VideoMaps:
        """`generate --from NAME`: the maps of a raw `video`, made as `v2v prepare` made the model's."""
        raise NotImplementedError


def video_frames(video: Path, info: VideoInfo, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The frames of `video`, RGB uint8 (H, W, 3), resized to `size` (W, H) as `v2v prepare` resizes a
    video's frames: the frames an edge or face map of the dataset was made from."""
    from v2vcli.io.frames import fit_to_size
    from v2vcli.io.video import VideoReader

    return (fit_to_size(frame, size) for frame in VideoReader(video, info=info))


def _load_builtin() -> None:
    """Import the built-in condition modules (each registers its class), in the order help texts list them."""
    import importlib

    for module in BUILTIN:
        importlib.import_module(f"v2vcli.conditions.{module}")


def condition_types() -> dict[str, Condition]:
    """Every registered condition type by name (pose, segment, edges, face, and any added)."""
    _load_builtin()
    return dict(_REGISTERED)


def condition_names() -> list[str]:
    return list(condition_types())


def condition_named(name: str) -> Condition:
    """The registered condition type `name`; BadInput listing the names for an unknown one."""
    types = condition_types()
    if name not in types:
        raise BadInput(f"unknown condition {name!r}; choose one of: {', '.join(types)}")
    return types[name]


def names_help() -> str:
    """'pose (...), segment (...), ...': the condition types for help texts."""
    return ", ".join(f"{name} ({kind.summary})" for name, kind in condition_types().items())
