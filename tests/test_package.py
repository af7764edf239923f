"""The installed package: a wheel built from this tree, installed (not editable) into a fresh virtualenv,
runs pose, segment and the demo dance from an empty folder with the model files it carries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ("pose_landmarker_full.task", "hand_landmarker.task", "face_landmarker.task", "selfie_segmentation.tflite",
           "demo/generator.safetensors", "README.md")

pytestmark = pytest.mark.slow


def run(command: list, **options) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, **options)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from the sdist built from this tree, as an index install would build it."""
    folder = tmp_path_factory.mktemp("dist")
    sdist = run([sys.executable, "-c", f"import setuptools.build_meta as b; print(b.build_sdist({str(folder)!r}))"],
                cwd=ROOT).stdout.strip().splitlines()[-1]
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
         "-w", folder, folder / sdist])
    return next(folder.glob("v2v-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed; returns its bin/ folder.

    Dependencies come from the running (development) environment through a .pth file that names its
    site-packages: a plain path line, so the editable install's import hook found there stays inactive.
    """
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
         "--disable-pip-version-check", wheel])
    fresh_site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    development = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (fresh_site / "v2v-development-dependencies.pth").write_text("".join(f"{path}\n" for path in development))
    return venv / "bin"


@pytest.fixture()
def empty_folder(tmp_path, example_source) -> Path:
    """An empty working folder (apart from the source clip), far from the source tree."""
    shutil.copyfile(example_source, tmp_path / "source.mp4")
    return tmp_path


def test_wheel_carries_the_model_files_and_nothing_else_of_weights(wheel):
    """Built from the sdist, so the sdist carries them too (setup.py fails the build on a missing one)."""
    with zipfile.ZipFile(wheel) as archive:
        carried = {name.removeprefix("v2vcli/weights_data/") for name in archive.namelist()
                   if name.startswith("v2vcli/weights_data/")}
        assert carried == set(BUNDLED)
        for name in BUNDLED:
            assert archive.read(f"v2vcli/weights_data/{name}") == (ROOT / "weights" / name).read_bytes(), name


def test_installed_wheel_runs_pose_segment_and_demo_dance_from_any_folder(installed, empty_folder, tmp_path):
    environment = {key: value for key, value in os.environ.items() if key not in ("V2V_WEIGHTS", "PYTHONPATH")}
    environment["XDG_CACHE_HOME"] = str(tmp_path / "empty-cache")  # no model files in a user cache either

    def v2v(*args: str) -> dict | list:
        result = run([installed / "v2v", *args, "--json"], cwd=empty_folder, env=environment)
        return json.loads(result.stdout)

    package = run([installed / "python", "-c", "import v2vcli; print(v2vcli.__file__)"], cwd=empty_folder,
                  env=environment).stdout.strip()
    assert Path(package).is_relative_to(installed.parent), f"v2vcli imported from {package}, not the wheel"
    bundled = Path(package).parent / "weights_data"

    models = v2v("models")
    assert [(entry["name"], Path(entry["path"]).parent.parent) for entry in models] == [("demo", bundled)]
    assert v2v("pose", "source.mp4", "-q")["frames_with_person"] == 96
    assert v2v("segment", "source.mp4", "-q")["label_images"] == 96
    dance = v2v("dance", "--source", "source.mp4", "--target", "demo", "-q")
    assert Path(dance["model"]) == bundled / "demo" / "generator.safetensors"
    assert dance["frames"] == 96 and dance["has_audio"] and (empty_folder / dance["output"]).is_file()
