"""Several inputs in one command: files, folders and patterns, worker processes, one line per failed file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import encode, moving_photo
from typer.testing import CliRunner

from v2vcli.batch import Call, Failure, Inputs, default_workers, expand_inputs, output_paths, run_calls
from v2vcli.cli import app
from v2vcli.errors import BadInput
from v2vcli.progress import forwarded, track


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """A folder of two different short clips (96x64, 8 frames) and a file that is not a video."""
    folder = tmp_path_factory.mktemp("clips")
    for name, shift in (("walk", 3.0), ("run", 7.0)):
        encode(folder / f"{name}.mp4", moving_photo(96, 64, 8, seed_shift=shift), 96, 64, "24",
               ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (folder / "notes.txt").write_text("not a video")
    return folder


@pytest.fixture
def bad_video(tmp_path) -> Path:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video")
    return path


def v2v(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command as a user runs it (stderr as a terminal-less user sees it, worker processes and all)."""
    return subprocess.run([sys.executable, "-m", "v2vcli", *arguments], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)


# Which files the arguments name, and where their outputs go.

def test_files_folders_and_patterns_name_their_videos_once(clips, tmp_path):
    walk, run = clips / "walk.mp4", clips / "run.mp4"
    (clips / ".hidden.mp4").write_bytes(b"")  # hidden files (partial outputs among them) are not inputs
    assert expand_inputs([walk]) == Inputs([walk], several=False)
    assert expand_inputs([clips]) == Inputs([run, walk], several=True)
    assert expand_inputs([str(clips / "w*.mp4")]) == Inputs([walk], several=True)
    assert expand_inputs([walk, clips, str(clips / "*")]).files == [walk, run]
    missing = tmp_path / "missing.mp4"  # named as it is: its own job says it is missing
    assert expand_inputs([missing, walk]).files == [missing, walk]
    with pytest.raises(BadInput, match="no video file matches"):
        expand_inputs([str(tmp_path / "*.mov")])
    with pytest.raises(BadInput, match="no video files in this folder"):
        expand_inputs([tmp_path])


def test_several_outputs_go_in_the_named_folder_by_stem_made_unique(tmp_path):
    one, two, three = Path("a/take.mp4"), Path("b/take.mov"), Path("b/other.mp4")
    default = lambda video: video.with_name(f"{video.stem}.flow")  # noqa: E731
    assert output_paths(Inputs([one], False), tmp_path / "out", default) == [tmp_path / "out"]
    assert output_paths(Inputs([one], False), None, default) == [Path("a/take.flow")]
    outputs = output_paths(Inputs([one, two, three], True), tmp_path / "out", default)
    assert outputs == [tmp_path / "out" / "take", tmp_path / "out" / "take_2", tmp_path / "out" / "other"]
    assert (tmp_path / "out").is_dir()
    assert output_paths(Inputs([Path("x/a.mp4"), Path("x/a.mov")], True), None, default) == \
        [Path("x/a.flow"), Path("x/a.flow_2")]


def test_default_workers_follow_the_cores_and_the_files():
    cores = len(os.sched_getaffinity(0))
    assert default_workers(1) == 1
    assert default_workers(100) == cores


# The runner.

def test_a_worker_that_dies_fails_its_file_alone():
    outcomes = run_calls([Call("crash.mp4", os._exit, (9,)), Call("fine.mp4", abs, (-3,)),
                          Call("wrong.mp4", int, ("x",))], workers=2, quiet=True)
    assert outcomes[0] == Failure("crash.mp4", "the worker process stopped (exit code 9)")
    assert outcomes[1] == 3
    assert outcomes[2].error.startswith("ValueError: invalid literal") and "Traceback" in outcomes[2].traceback


def test_progress_is_forwarded_instead_of_drawn():
    reports = []
    with forwarded(lambda description, done, total: reports.append((description, done, total))):
        assert list(track(range(5), 5, "frames of a.mp4")) == [0, 1, 2, 3, 4]
        assert list(track(range(3), 3, "quiet", quiet=True)) == [0, 1, 2]
    assert reports[0] == ("frames of a.mp4", 0, 5) and reports[-1] == ("frames of a.mp4", 5, 5)
    assert all(description != "quiet" for description, _, _ in reports)


# The commands.

@pytest.fixture(scope="module")
def flows_alone(clips, tmp_path_factory) -> Path:
    """The flow of each clip, run alone: folder/NAME."""
    folder = tmp_path_factory.mktemp("alone")
    for name in ("walk", "run"):
        single = CliRunner().invoke(app, ["flow", str(clips / f"{name}.mp4"), "-o", str(folder / name),
                                          "--no-preview", "--quiet"])
        assert single.exit_code == 0, single.output
    return folder


@pytest.mark.parametrize("how, workers", [("files", 1), ("folder", 2), ("pattern", 1)])
def test_flow_on_several_inputs_matches_each_run_alone(clips, flows_alone, tmp_path, how, workers):
    arguments = {"files": [str(clips / "walk.mp4"), str(clips / "run.mp4")], "folder": [str(clips)],
                 "pattern": [str(clips / "*.mp4")]}[how]
    result = CliRunner().invoke(app, ["flow", *arguments, "-o", str(tmp_path / "flows"), "--no-preview",
                                      "--workers", str(workers), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["failures"] == [] and len(summary["results"]) == 2
    for name in ("walk", "run"):
        fields = sorted((tmp_path / "flows" / name / "flow").glob("*.npy"))
        assert len(fields) == 7
        for path in fields:
            assert np.array_equal(np.load(path), np.load(flows_alone / name / "flow" / path.name)), path


def test_one_bad_file_among_good_ones(clips, bad_video, tmp_path):
    done = v2v("flow", str(clips / "walk.mp4"), str(bad_video), str(clips / "run.mp4"), "-o", "flows",
               "--no-preview", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert [line for line in lines if line.startswith("error:")] == [lines[0]]
    assert str(bad_video) in lines[0] and "not a media file" in lines[0]
    assert lines[-1] == "1 of 3 failed"
    for name in ("walk", "run"):
        assert len(list((tmp_path / "flows" / name / "flow").glob("*.npy"))) == 7
    assert not (tmp_path / "flows" / "broken").exists()
    assert sorted(path.name for path in (tmp_path / "flows").iterdir()) == ["run", "walk"]  # no partial left


def test_one_input_behaves_as_before(clips, tmp_path):
    """-o names the output itself, and a bad input is one error line and exit 1, without a count."""
    result = CliRunner().invoke(app, ["flow", str(clips / "walk.mp4"), "-o", str(tmp_path / "walk"), "--quiet",
                                      "--no-preview", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["output"] == str(tmp_path / "walk")
    failed = CliRunner().invoke(app, ["flow", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x")])
    assert failed.exit_code == 1 and failed.output.count("error:") == 1 and "failed" not in failed.output


def test_zero_workers_is_a_usage_error(clips):
    result = CliRunner().invoke(app, ["segment", str(clips), "--workers", "0"])
    assert result.exit_code == 2


def test_prepare_names_every_unreadable_video_and_writes_nothing(clips, bad_video, tmp_path):
    other = bad_video.with_name("empty.mov")
    other.write_bytes(b"")
    result = CliRunner().invoke(app, ["prepare", str(clips), str(bad_video), str(other), "-o",
                                      str(tmp_path / "dataset"), "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines[:2]] == [str(bad_video), str(other)]
    assert lines[-1] == f"2 of 4 failed; {tmp_path / 'dataset'} was not written"
    assert not (tmp_path / "dataset").exists()


@pytest.mark.slow
def test_prepare_in_workers_makes_the_sequences_each_video_makes_alone(clips, tmp_path):
    from v2vcli.data.layout import open_dataset

    options = ["--condition", "segment", "--no-flow", "--quiet"]
    result = CliRunner().invoke(app, ["prepare", str(clips / "*.mp4"), "-o", str(tmp_path / "both"),
                                      "--workers", "2", *options])
    assert result.exit_code == 0, result.output
    both = open_dataset(tmp_path / "both")
    assert [sequence.name for sequence in both.sequences] == ["run", "walk"]
    for name in ("run", "walk"):
        alone = tmp_path / name
        single = CliRunner().invoke(app, ["prepare", str(clips / f"{name}.mp4"), "-o", str(alone), *options])
        assert single.exit_code == 0, single.output
        for part in ("frames", "labels", "masks"):
            files = sorted((alone / name / part).iterdir())
            assert len(files) == 8
            for path in files:
                assert path.read_bytes() == (tmp_path / "both" / name / part / path.name).read_bytes(), path


@pytest.mark.slow
@pytest.mark.parametrize("target", ["ctrl-c", "kill-int"])
def test_interrupted_workers_leave_nothing(tmp_path, target):
    from test_interrupt import Command, assert_interrupted, looped, partial_outputs

    examples = Path(__file__).resolve().parent.parent / "examples"
    first = looped(examples / "target.mp4", 5, tmp_path / "first.mp4")
    second = looped(examples / "source.mp4", 3, tmp_path / "second.mp4")
    command = Command(["pose", str(first), str(second), "-o", "poses", "--workers", "2"], tmp_path)
    command.wait_until(lambda: len(partial_outputs(tmp_path / "poses", "first"))
                       and len(partial_outputs(tmp_path / "poses", "second")), "both outputs begun")
    command.interrupt(target)
    assert_interrupted(command, tmp_path, "error: interrupted; no partial output was kept")
    assert list((tmp_path / "poses").iterdir()) == []
