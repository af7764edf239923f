"""Where v2v finds model files: an explicit path, $V2V_WEIGHTS, ./weights, the installed package's
bundled weights, the source tree's weights/, the cache.

The repository's `weights/` folder is the source of truth; building a wheel copies its model files into
the package as `v2vcli/weights_data/` (setup.py), so an installed v2v finds them from any folder. An
editable install has no bundled copy and reads the source tree's `weights/` instead.

Nothing is downloaded: a file that is in none of these places is a MissingModel error that says where
it looked and how to get the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from v2vcli.errors import MissingModel

# The repository root, when v2v runs from a source tree or an editable install (a wheel has no weights/).
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The model files a wheel carries (copied from weights/ at build time; absent in a source tree).
_BUNDLED = Path(__file__).resolve().parent / "weights_data"

# Files that weights/build_mediapipe_models.py writes, so a miss can say how to rebuild them.
BUILT_BY_SCRIPT = ("pose_landmarker_full.task", "hand_landmarker.task", "face_landmarker.task",
                   "selfie_segmentation.tflite")


def cache_dir() -> Path:
    """The per-user folder for model files: $XDG_CACHE_HOME/v2v, or ~/.cache/v2v."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "v2v"


def project_weights_dir() -> Path | None:
    """The `weights/` folder beside the v2vcli package in a source tree, or None in a wheel install."""
    if (_PROJECT_ROOT / "pyproject.toml").is_file():
        return _PROJECT_ROOT / "weights"
    return None


def bundled_weights_dir() -> Path | None:
    """The model files installed with the v2vcli package (a wheel install), or None (source tree)."""
    return _BUNDLED if _BUNDLED.is_dir() else None


def weight_dirs() -> list[Path]:
    """The folders searched for model files, in order (absolute paths, no duplicates, may not exist)."""
    candidates = []
    if os.environ.get("V2V_WEIGHTS"):
        candidates.append(Path(os.environ["V2V_WEIGHTS"]).expanduser())
    candidates.append(Path("weights"))
    if (bundled := bundled_weights_dir()) is not None:
        candidates.append(bundled)
    if (project := project_weights_dir()) is not None:
        candidates.append(project)
    candidates.append(cache_dir())
    folders: list[Path] = []
    for folder in candidates:
        folder = folder.absolute()
        if folder.resolve() not in {known.resolve() for known in folders}:
            folders.append(folder)
    return folders


def find_weight_file(filename: str, explicit: Path | str | None = None, *, option: str | None = None) -> Path:
    """Return the path of model file `filename`.

    `explicit` (a file, or a folder holding `filename`) wins and is never second-guessed: when it is
    given and missing, that is the error. Otherwise the first of `weight_dirs()` holding the file.
    `option` names the command-line option that sets `explicit` (e.g. "--pose-model"), for the message.
    Raises MissingModel with one line: where it looked and how to get the file.
    """
    if explicit is not None:
        explicit = Path(explicit).expanduser()
        path = explicit / filename if explicit.is_dir() else explicit
        if path.is_file():
            return path
        raise MissingModel(f"{path}: model file not found")
    folders = weight_dirs()
    for folder in folders:
        if (folder / filename).is_file():
            return folder / filename
    how = []
    if filename in BUILT_BY_SCRIPT:
        how.append("build it with `python weights/build_mediapipe_models.py` (see weights/README.md)")
    else:
        how.append("copy it into one of those folders")
    if option:
        how.append(f"pass {option} PATH")
    looked = ", ".join(str(folder) for folder in folders)
    hint = "" if os.environ.get("V2V_WEIGHTS") else " ($V2V_WEIGHTS is not set)"
    raise MissingModel(f"{filename}: model file not found in {looked}{hint}; {' or '.join(how)}")
