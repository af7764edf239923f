"""Model files: the committed ones match their README checksums; lookup order; one clear line on a miss."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from v2vcli import weights
from v2vcli.errors import MissingModel
from v2vcli.training.checkpoint import CHECKSUM_KEY, load_tensor_file, tensors_sha256
from v2vcli.weights import find_weight_file, weight_dirs

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty, separate folders for each place find_weight_file looks; returns them by name."""
    folders = {name: tmp_path / name for name in ("env", "cwd", "project", "cache", "given", "package")}
    for folder in folders.values():
        folder.mkdir()
    (folders["project"] / "pyproject.toml").write_text("")
    monkeypatch.setenv("V2V_WEIGHTS", str(folders["env"]))
    monkeypatch.chdir(folders["cwd"])
    monkeypatch.setattr(weights, "_PROJECT_ROOT", folders["project"])
    monkeypatch.setattr(weights, "_BUNDLED", folders["package"] / "weights_data")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folders["cache"]))
    return {
        "env": folders["env"],
        "cwd": folders["cwd"] / "weights",
        "bundled": folders["package"] / "weights_data",
        "project": folders["project"] / "weights",
        "cache": folders["cache"] / "v2v",
        "given": folders["given"],
    }


def test_committed_model_files_match_readme_checksums():
    readme = (WEIGHTS / "README.md").read_text()
    for name in ("pose_landmarker_full.task", "hand_landmarker.task", "face_landmarker.task",
                 "selfie_segmentation.tflite", "demo/generator.safetensors"):
        listed = re.search(rf"`{re.escape(name)}` \|[^\n]*`([0-9a-f]{{64}})`", readme)
        assert listed, f"weights/README.md lists no sha256 for {name}"
        assert hashlib.sha256((WEIGHTS / name).read_bytes()).hexdigest() == listed.group(1), name


def test_shipped_demo_model_records_the_checksum_of_its_tensors():
    tensors, metadata = load_tensor_file(WEIGHTS / "demo" / "generator.safetensors")  # verifies it
    assert metadata[CHECKSUM_KEY] == tensors_sha256(tensors)
    assert f"`{metadata[CHECKSUM_KEY]}`" in (WEIGHTS / "README.md").read_text()


def test_search_folders_in_documented_order(places):
    assert weight_dirs() == [places[name] for name in ("env", "cwd", "project", "cache")]
    places["bundled"].mkdir()  # as in a wheel install
    assert weight_dirs() == [places[name] for name in ("env", "cwd", "bundled", "project", "cache")]


def test_lookup_prefers_earlier_places(places):
    for name in ("cache", "project", "bundled", "cwd", "env"):
        places[name].mkdir(parents=True, exist_ok=True)
        (places[name] / "model.task").write_bytes(name.encode())
        assert find_weight_file("model.task") == places[name] / "model.task"
    given = places["given"] / "other-name.task"
    given.write_bytes(b"given")
    assert find_weight_file("model.task", given) == given
    (places["given"] / "model.task").write_bytes(b"in folder")
    assert find_weight_file("model.task", places["given"]) == places["given"] / "model.task"


def test_cache_follows_home_without_xdg(places, monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert weight_dirs()[-1] == tmp_path / "home" / ".cache" / "v2v"


def test_missing_explicit_file_is_an_error_even_when_another_exists(places):
    places["env"].joinpath("pose_landmarker_full.task").write_bytes(b"x")
    with pytest.raises(MissingModel, match="nowhere.task: model file not found"):
        find_weight_file("pose_landmarker_full.task", places["given"] / "nowhere.task")


def test_miss_says_where_it_looked_and_how_to_get_the_file(places):
    with pytest.raises(MissingModel) as caught:
        find_weight_file("pose_landmarker_full.task", option="--pose-model")
    message = str(caught.value)
    assert "\n" not in message
    for name in ("env", "cwd", "project", "cache"):
        assert str(places[name]) in message
    assert "build_mediapipe_models.py" in message and "--pose-model" in message


def test_wheel_install_reads_its_bundled_files_not_a_project_folder(places, monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "_PROJECT_ROOT", tmp_path / "site-packages")
    places["bundled"].mkdir()
    (places["bundled"] / "model.task").write_bytes(b"bundled")
    assert weight_dirs() == [places[name] for name in ("env", "cwd", "bundled", "cache")]
    assert find_weight_file("model.task") == places["bundled"] / "model.task"
