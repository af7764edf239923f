"""The command line as a user meets it: version, help, and one clear line for every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.io.video import probe_video


def run_v2v(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "v2vcli", *args], capture_output=True, text=True)


def test_version_and_help_without_heavy_imports():
    result = run_v2v("--version")
    assert result.returncode == 0 and result.stdout.startswith("v2v ")
    check = "import sys, v2vcli.cli; print(sorted({'torch', 'cv2', 'mediapipe'} & set(sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"


def bad_inputs(tmp_path, example_target):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    audio_only = tmp_path / "tone.m4a"
    subprocess.run([sys.executable, "-c", "from v2vcli.io.ffmpeg import run_ffmpeg; import sys; "
                    "run_ffmpeg(['-i', sys.argv[1], '-vn', '-c:a', 'copy', sys.argv[2]])",
                    str(example_target), str(audio_only)], check=True)
    no_frames = tmp_path / "header-only.y4m"
    no_frames.write_text("YUV4MPEG2 W64 H48 F24:1 Ip A1:1 C420jpeg\n")
    undecodable = tmp_path / "zeroed.mp4"
    data = bytearray(example_target.read_bytes())
    start = data.index(b"mdat") + 4  # the frames' bytes, zeroed: the index is intact, no frame decodes
    size = int.from_bytes(data[start - 8 : start - 4], "big") - 8
    data[start : start + size] = bytes(size)
    undecodable.write_bytes(data)
    return {
        "no frames": (no_frames, "has no frames"),
        "frames that do not decode": (undecodable, "no frame of the video stream can be decoded"),
        "empty file": (empty, "empty file"),
        "text file named .mp4": (text, "not a media file"),
        "directory": (tmp_path, "is a directory"),
        "missing path": (tmp_path / "missing.mp4", "no such file"),
        "audio-only file": (audio_only, "has no video stream"),
    }


@pytest.mark.slow
def test_info_gives_one_line_for_bad_input(tmp_path, example_target):
    for case, (path, message) in bad_inputs(tmp_path, example_target).items():
        result = run_v2v("info", str(path))
        assert result.returncode == 1, case
        assert result.stderr.count("\n") == 1 and message in result.stderr, (case, result.stderr)
        assert "Traceback" not in result.stderr


def test_mux_refuses_bad_input_and_writes_nothing(tmp_path, example_target, silent_clip):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for case, (path, message) in bad_inputs(inputs, example_target).items():
        if case == "audio-only file":
            continue
        output = tmp_path / "out.mp4"
        result = CliRunner().invoke(app, ["mux", str(path), "--audio", str(example_target), "-o", str(output)])
        assert result.exit_code == 1, case
        assert message in result.stderr and result.stderr.count("\n") == 1, (case, result.stderr)
        assert not output.exists()
    silent = CliRunner().invoke(app, ["mux", str(example_target), "--audio", str(silent_clip),
                                      "-o", str(tmp_path / "x.mp4")])
    assert silent.exit_code == 1 and "has no audio stream" in silent.stderr


def test_a_file_cut_in_half_is_used_as_far_as_it_goes_with_one_warning(tmp_path, example_target):
    half = tmp_path / "half.mp4"
    half.write_bytes(example_target.read_bytes()[: example_target.stat().st_size // 2])
    result = run_v2v("info", str(half), "--json")
    assert result.returncode == 0, result.stderr
    held = json.loads(result.stdout)["frame_count"]
    whole = probe_video(example_target).frame_count
    assert held < whole
    assert result.stderr.startswith(f"warning: {half}: the file holds {held} of the {whole} frames")
    assert result.stderr.count("\n") == 1

    output = tmp_path / "muxed.mp4"
    result = run_v2v("mux", str(half), "--audio", str(example_target), "-o", str(output))
    assert result.returncode == 0 and result.stderr.count("\n") == 1 and "warning:" in result.stderr
    muxed = probe_video(output)
    assert muxed.frame_count == held and not muxed.truncated and muxed.has_audio


@pytest.mark.parametrize("folder", ["/proc", "missing-folder"])
def test_mux_refuses_unwritable_output_folder(tmp_path, example_target, folder):
    output = (tmp_path / folder if folder == "missing-folder" else Path(folder)) / "out.mp4"
    result = run_v2v("mux", str(example_target), "--audio", str(example_target), "-o", str(output))
    assert result.returncode == 1 and result.stderr.startswith("error: ")
    assert not output.exists()


def test_never_overwrites_an_input(tmp_path, example_target, short_clip):
    video = tmp_path / "video.mp4"
    video.write_bytes(example_target.read_bytes())
    before = video.read_bytes()
    result = run_v2v("mux", str(video), "--audio", str(short_clip), "-o", str(video), "--overwrite")
    assert result.returncode == 1 and "is an input" in result.stderr
    assert video.read_bytes() == before


def test_debug_shows_a_traceback(tmp_path):
    result = run_v2v("--debug", "info", str(tmp_path / "missing.mp4"))
    assert result.returncode != 0 and "Traceback" in result.stderr
