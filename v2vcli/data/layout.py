"""Finding and validating a training set on disk: v2v's own layout and NVIDIA vid2vid's.

The v2v layout is specified in v2vcli/data/dataset.py (module docstring) and docs/training.md. A folder
whose parts do not agree is refused with one BadInput line naming the first few mismatches.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from v2vcli.conditions import condition_named, condition_names
from v2vcli.config import preset
from v2vcli.errors import BadInput
from v2vcli.flow.storage import BACKWARD_DIR, field_files, flow_field_shape

DATASET_VERSION = 1
DATASET_FILE = "dataset.json"
# The parts of a sequence folder (v2vcli/data/dataset.py). The flow is stored as `v2v flow --backward`
# stores its backward fields: the field under i warps frame i onto frame i+1.
FRAMES_DIR = "frames"
LABELS_DIR = "labels"
MASKS_DIR = "masks"
FLOW_DIR = BACKWARD_DIR
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_REPORTED = 3


@dataclass
class SequenceFiles:
    """One video of the training set. flows[i] (if any) warps frame i onto frame i+1 (N-1 files)."""

    name: str
    frames: list[Path]
    labels: list[Path]
    masks: list[Path] | None = None
    flows: list[Path] | None = None
    instances: list[Path] | None = None

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class DatasetInfo:
    """What a dataset folder holds. size is (width, height) of its frames."""

    root: Path
    layout: str
    condition: str
    num_classes: int
    size: tuple[int, int]
    fps: float
    sequences: list[SequenceFiles]
    pose_stats: dict | None = None
    segmentation: dict | None = None  # the backend settings `v2v prepare` made the labels with
    # dataset.json's entry named after the condition: how the maps were made (pose backend, edge rule, face options)
    condition_record: dict | None = None
    extra: dict = field(default_factory=dict)

    @property
    def has_instances(self) -> bool:
        return all(sequence.instances for sequence in self.sequences)

    @property
    def has_masks(self) -> bool:
        return all(sequence.masks for sequence in self.sequences)

    @property
    def label_channels(self) -> int:
        """Channels of the label tensor: one-hot classes or RGB, plus one for instance edges."""
        return condition_named(self.condition).channels(self.num_classes) + int(self.has_instances)

    @property
    def frame_count(self) -> int:
        return sum(len(sequence) for sequence in self.sequences)


def fitted_size(size: tuple[int, int], max_side: int, multiple: int) -> tuple[int, int]:
    """(W, H) `size` scaled to fit `max_side` (never up), each side rounded down to a multiple of `multiple`
    (at least one multiple): the training size of a dataset of `size` (v2vcli.data.dataset.choose_size)."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return (max(multiple, int(width * scale) // multiple * multiple),
            max(multiple, int(height * scale) // multiple * multiple))


def preset_size(size: tuple[int, int], preset_name: str) -> tuple[int, int]:
    """The (W, H) `v2v train --preset preset_name` trains a video of `size` at: what `v2v prepare` writes by
    default, so that training reads the frames at the size it trains without resizing them."""
    config = preset(preset_name)
    return fitted_size(size, config.data.max_side, config.model.size_multiple)


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


def image_header(path: Path) -> tuple[int, int, int]:
    """(width, height, channels) of an image: read from a PNG's header, decoding only other formats."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        channels = {0: 1, 2: 3, 3: 0, 4: 2, 6: 4}.get(head[25], 0)  # 0: palette, the ids are not the pixels
        return width, height, channels
    from v2vcli.io.frames import read_image

    image = read_image(path)
    return image.shape[1], image.shape[0], 1 if image.ndim == 2 else image.shape[2]


class Problems:
    """Collects mismatches; `raise_if_any` reports the first few in one line."""

    def __init__(self, root: Path):
        self.root = root
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = "; ".join(self.items[:MAX_REPORTED])
        more = f"; and {len(self.items) - MAX_REPORTED} more" if len(self.items) > MAX_REPORTED else ""
        raise BadInput(f"{self.root}: dataset does not match: {shown}{more}")


def open_dataset(root: Path | str, num_classes: int | None = None) -> DatasetInfo:
    """Read and validate a dataset folder (v2v layout if it has dataset.json, else NVIDIA's train_A/train_B)."""
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: dataset folder not found")
    if (root / DATASET_FILE).is_file():
        info = _open_v2v(root)
        if num_classes is not None and info.condition == "segment":
            info.num_classes = num_classes
        return info
    if (root / "train_A").is_dir() or (root / "train_B").is_dir():
        return _open_vid2vid(root, num_classes)
    raise BadInput(f"{root}: not a dataset: no dataset.json (v2v prepare) and no train_A/ + train_B/ (vid2vid)")


def _open_v2v(root: Path) -> DatasetInfo:
    source = root / DATASET_FILE
    try:
        meta = json.loads(source.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"{source}: not readable JSON ({error})") from None
    _check_meta(meta, source)
    width, height = (int(value) for value in meta["size"])
    problems = Problems(root)
    sequences = []
    for entry in meta["sequences"]:
        folder = root / entry["name"]
        frames, labels = image_files(folder / FRAMES_DIR), image_files(folder / LABELS_DIR)
        masks = image_files(folder / MASKS_DIR) or None
        flows = field_files(folder / FLOW_DIR) or None
        expected = int(entry["frames"])
        if not folder.is_dir():
            problems.add(f"{entry['name']}/ is missing")
            continue
        for kind, files, count in ((FRAMES_DIR, frames, expected), (LABELS_DIR, labels, expected),
                                   (MASKS_DIR, masks, expected), (FLOW_DIR, flows, expected - 1)):
            if files is not None and len(files) != count:
                problems.add(f"{entry['name']}/{kind} has {len(files)} files, dataset.json says {count}")
        _check_names(entry["name"], frames, labels, problems)
        if masks:
            _check_names(entry["name"], frames, masks, problems, MASKS_DIR)
        label_channels = condition_named(meta["condition"]).stored_channels
        for files, channels in ((frames, 3), (labels, label_channels), (masks, 1)):
            if files:
                _check_image(files[0], (width, height), channels, root, problems)
        if flows:
            _check_flow(flows[0], (width, height), root, problems)
        sequences.append(SequenceFiles(entry["name"], frames, labels, masks, flows))
    problems.raise_if_any()
    return DatasetInfo(root, "v2v", meta["condition"], int(meta["num_classes"]), (width, height), float(meta["fps"]),
                       sequences, meta.get("pose_stats"), meta.get("segmentation"), meta.get(meta["condition"]))


def _check_meta(meta: object, source: Path) -> None:
    if not isinstance(meta, dict):
        raise BadInput(f"{source}: expected a JSON object")
    missing = [key for key in ("version", "condition", "num_classes", "size", "fps", "sequences") if key not in meta]
    if missing:
        raise BadInput(f"{source}: missing {', '.join(missing)}")
    if meta["version"] != DATASET_VERSION:
        raise BadInput(f"{source}: version {meta['version']!r}, this v2v reads version {DATASET_VERSION}")
    if meta["condition"] not in condition_names():
        raise BadInput(f"{source}: condition {meta['condition']!r} is not one of {', '.join(condition_names())}")
    size = meta["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise BadInput(f"{source}: size must be [width, height], got {size!r}")
    if not isinstance(meta["num_classes"], int) or meta["num_classes"] < 1:
        raise BadInput(f"{source}: num_classes must be a positive integer")
    if not isinstance(meta["fps"], int | float) or meta["fps"] <= 0:
        raise BadInput(f"{source}: fps must be a positive number")
    sequences = meta["sequences"]
    if not isinstance(sequences, list) or not sequences:
        raise BadInput(f"{source}: sequences must be a non-empty list")
    for entry in sequences:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                or not isinstance(entry.get("frames"), int):
            raise BadInput(f"{source}: each sequence needs a name (string) and frames (integer), got {entry!r}")
        if entry["frames"] < 1:
            raise BadInput(f"{source}: sequence {entry['name']} has no frames")


def _check_names(sequence: str, frames: list[Path], others: list[Path], problems: Problems,
                 kind: str = LABELS_DIR) -> None:
    frame_stems = {path.stem for path in frames}
    other_stems = {path.stem for path in others}
    missing = sorted(frame_stems - other_stems)
    if missing:
        problems.add(f"{sequence}/{kind}/{missing[0]}.png is missing (frame {missing[0]} has no {kind[:-1]})")
    extra = sorted(other_stems - frame_stems)
    if extra:
        problems.add(f"{sequence}/{kind}/{extra[0]}.png has no frame")


def _check_image(path: Path, size: tuple[int, int], channels: int, root: Path, problems: Problems) -> None:
    try:
        width, height, found = image_header(path)
    except (OSError, BadInput):
        problems.add(f"{path.relative_to(root)} is not a readable image")
        return
    if (width, height) != tuple(size):
        problems.add(f"{path.relative_to(root)} is {width}x{height}, expected {size[0]}x{size[1]}")
    elif channels == 1 and found != 1:
        problems.add(f"{path.relative_to(root)} has {found or 'palette'} channels; class ids need a single-channel PNG")


def _check_flow(path: Path, size: tuple[int, int], root: Path, problems: Problems) -> None:
    try:
        shape = flow_field_shape(path)
    except (OSError, BadInput):
        problems.add(f"{path.relative_to(root)} is not a readable flow field")
        return
    if shape != (size[1], size[0], 2):
        problems.add(f"{path.relative_to(root)} has shape {shape}, expected {(size[1], size[0], 2)}")


def _open_vid2vid(root: Path, num_classes: int | None) -> DatasetInfo:
    """NVIDIA vid2vid: train_A/<seq>/ condition maps, train_B/<seq>/ frames, optional train_inst/<seq>/.
    Files pair by sorted order (their names differ, e.g. Cityscapes' _gtFine_labelIds vs _leftImg8bit)."""
    problems = Problems(root)
    folders = {part: root / f"train_{part}" for part in ("A", "B", "inst")}
    for part in ("A", "B"):
        if not folders[part].is_dir():
            raise BadInput(f"{root}: train_{part}/ is missing (NVIDIA vid2vid layout needs train_A/ and train_B/)")
    names = _sequence_names(folders["A"])
    if not names:
        raise BadInput(f"{folders['A']}: holds no images")
    has_instances = folders["inst"].is_dir()
    sequences = []
    for name in names:
        files = {part: image_files(folders[part] / name if name else folders[part]) for part in folders}
        if not files["B"]:
            problems.add(f"train_B/{name or ''} holds no frames for train_A/{name or ''}")
            continue
        for part in ("B", "inst") if has_instances else ("B",):
            if len(files[part]) != len(files["A"]):
                problems.add(f"train_{part}/{name} has {len(files[part])} images, train_A/{name} has {len(files['A'])}")
        sequences.append(SequenceFiles(name or root.name, files["B"], files["A"],
                                       instances=files["inst"] if has_instances else None))
    problems.raise_if_any()
    first_frame = image_header(sequences[0].frames[0])
    size = first_frame[:2]
    label_header = image_header(sequences[0].labels[0])
    condition = "segment" if label_header[2] in (0, 1) else "pose"
    for sequence in sequences:
        for kind, files in (("train_B", sequence.frames), ("train_A", sequence.labels)):
            found = image_header(files[0])[:2]
            if found != size:
                problems.add(f"{kind}/{sequence.name}/{files[0].name} is {found[0]}x{found[1]}, "
                             f"expected {size[0]}x{size[1]}")
    problems.raise_if_any()
    if condition == "segment" and num_classes is None:
        num_classes = _infer_num_classes(sequences)
    return DatasetInfo(root, "vid2vid", condition, num_classes or 3, size, 30.0, sequences)


def _sequence_names(folder: Path) -> list[str]:
    """Subfolder names, or [""] when the folder holds the images of a single sequence itself."""
    subfolders = sorted(path.name for path in folder.iterdir() if path.is_dir())
    if subfolders:
        return subfolders
    return [""] if image_files(folder) else []


def _infer_num_classes(sequences: list[SequenceFiles], samples: int = 32) -> int:
    """Largest class id + 1 over up to `samples` label maps spread over the dataset (--num-classes overrides)."""
    from v2vcli.io.frames import read_image

    labels = [path for sequence in sequences for path in sequence.labels]
    picks = np.linspace(0, len(labels) - 1, min(samples, len(labels))).round().astype(int)
    return int(max(read_image(labels[index]).max() for index in picks)) + 1
