"""Segmentation backends and flow methods come from registries their classes fill when defined; command
results print as JSON through one function, with `fps` meaning a frame rate only."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.cli.options import print_json
from v2vcli.flow import read_flow_folder
from v2vcli.flow.compute import FLOW_METHODS, FlowMethod
from v2vcli.preprocess.labels import class_table
from v2vcli.preprocess.segment import ALIASES, BACKENDS, SegmentConfig, backend_name, backends_help, make_backend
from v2vcli.preprocess.segment_backends import SegmentBackend
from v2vcli.results import Result

runner = CliRunner()


@pytest.fixture()
def halves_backend():
    class Halves(SegmentBackend):
        """Left half background, right half person."""

        name = "halves"
        summary = "left and right"
        aliases = ("split",)
        classes = class_table({0: "background", 1: "person"})

        def __init__(self, **_):
            pass

        def scores(self, frame, timestamp_ms):
            right = (np.arange(frame.shape[1]) >= frame.shape[1] // 2).astype(np.float32)
            person = np.broadcast_to(right, frame.shape[:2])
            return np.stack([1 - person, person], axis=2)

    yield Halves
    del BACKENDS["halves"], ALIASES["split"]


def test_a_segmentation_backend_registers_itself_with_its_aliases(halves_backend, short_clip, tmp_path):
    assert ALIASES["mediapipe"] == "selfie" and backend_name("split") == "halves"
    assert "halves (left and right; 'split' is its older name)" in backends_help()
    assert "selfie (a face close to the camera; 'mediapipe' is its older name)" in backends_help()
    with make_backend(SegmentConfig(backend="split")) as backend:
        assert isinstance(backend, halves_backend)
    result = runner.invoke(app, ["segment", str(short_clip), "-o", str(tmp_path / "out"), "-b", "split", "-q",
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["backend"] == "halves" and summary["class_fractions"] == {"background": 0.5, "person": 0.5}


@pytest.fixture()
def still_method():
    class Still(FlowMethod):
        """Sees no motion at all."""

        name = "still"
        summary = "no motion"

        def gray_flow(self, first, second):
            return np.zeros((*first.shape, 2), np.float32)

    yield Still
    del FLOW_METHODS["still"]


def test_a_flow_method_registers_itself(still_method, short_clip, tmp_path):
    result = runner.invoke(app, ["flow", str(short_clip), "-o", str(tmp_path / "out"), "--method", "still",
                                 "--no-preview", "-q", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["method"] == "still" and summary["flow_fields"] == 11 and summary["pairs_per_second"] > 0
    assert all(not field.any() for field in read_flow_folder(tmp_path / "out"))
    unknown = runner.invoke(app, ["flow", str(short_clip), "-o", str(tmp_path / "x"), "--method", "raft"])
    assert unknown.exit_code == 1
    assert "choose one of: dis-fast, dis-medium, farneback, still" in unknown.stderr


def test_results_print_as_json_through_one_function(capsys):
    from dataclasses import dataclass

    @dataclass
    class Made(Result):
        output: Path
        fps: Fraction
        size: tuple[int, int]
        nested: SegmentConfig

    made = Made(Path("out/video.mp4"), Fraction(30000, 1001), (64, 48), SegmentConfig(backend="selfie"))
    assert made["output"] == Path("out/video.mp4")
    with pytest.raises(KeyError):
        made["frames_per_second"]
    print_json(made)
    printed = json.loads(capsys.readouterr().out)
    assert printed["output"] == "out/video.mp4" and printed["fps"] == pytest.approx(29.97, abs=0.001)
    assert printed["size"] == [64, 48] and printed["nested"]["backend"] == "selfie"
