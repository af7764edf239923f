"""The compact flow of training sets (16-bit PNG, 1/32 px steps) against float16 .npy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import moving_photo

from v2vcli.errors import BadInput
from v2vcli.flow import flow_between, warp
from v2vcli.flow.storage import (
    COMPACT_STEP,
    field_files,
    flow_field_shape,
    read_flow,
    write_compact_flow,
    write_flow,
)
from v2vcli.io.frames import write_image


@pytest.fixture(scope="module")
def real_motion():
    """(two consecutive frames of a panning photo, the DIS flow between them): texture and motion of a clip."""
    first, second = list(moving_photo(192, 128, 12))[4:6]
    return first, second, flow_between(second, first)


def test_compact_field_is_within_half_a_step_at_any_motion(tmp_path):
    flow = np.random.default_rng(0).uniform(-700, 700, (9, 11, 2)).astype(np.float32)
    flow[0, 0] = (0.0, -0.01)
    write_compact_flow(tmp_path / "000000.png", flow)
    back = read_flow(tmp_path / "000000.png")
    assert back.dtype == np.float32 and back.shape == (9, 11, 2)
    assert np.abs(back - flow).max() <= COMPACT_STEP / 2 + 1e-6
    # float16 is coarser than that beyond 64 px of motion
    write_flow(tmp_path / "000000.npy", flow)
    assert np.abs(read_flow(tmp_path / "000000.npy") - flow).max() > COMPACT_STEP


def test_motion_beyond_the_range_is_clipped_not_wrapped(tmp_path):
    flow = np.float32([[[5000, -5000]]])
    write_compact_flow(tmp_path / "000000.png", flow)
    x, y = read_flow(tmp_path / "000000.png")[0, 0]
    assert x > 1000 and y < -1000


def test_compact_flow_is_smaller_and_warps_like_float16(tmp_path, real_motion):
    first, second, flow = real_motion
    write_flow(tmp_path / "000000.npy", flow)
    write_compact_flow(tmp_path / "000000.png", flow)
    assert (tmp_path / "000000.png").stat().st_size * 3 < (tmp_path / "000000.npy").stat().st_size
    computed, from_npy, from_png = (warp(first.astype(np.float32), field) for field in (
        flow, read_flow(tmp_path / "000000.npy"), read_flow(tmp_path / "000000.png")))
    # what matters for warping: the flow's own error leaves a residual of a few 8-bit levels; storing it
    # moves the warped frame by a small fraction of that and leaves the residual as it was
    residual = np.abs(computed - second).mean()
    assert 1 < residual < 10
    assert np.abs(from_png - computed).mean() < residual / 20
    for stored in (from_npy, from_png):
        assert np.abs(stored - second).mean() == pytest.approx(residual, rel=0.01)


def test_shapes_come_from_the_header_and_other_files_are_refused(tmp_path):
    write_compact_flow(tmp_path / "000000.png", np.zeros((6, 10, 2), np.float32))
    write_flow(tmp_path / "000001.npy", np.zeros((6, 10, 2), np.float32))
    assert flow_field_shape(tmp_path / "000000.png") == flow_field_shape(tmp_path / "000001.npy") == (6, 10, 2)
    write_image(tmp_path / "photo.png", np.zeros((6, 10, 3), np.uint8))
    for reader in (read_flow, flow_field_shape):
        with pytest.raises(BadInput, match="photo.png: not a flow field"):
            reader(tmp_path / "photo.png")


def test_a_folder_is_read_as_compact_when_it_holds_both_kinds(tmp_path):
    assert field_files(tmp_path / "missing") == []
    write_flow(tmp_path / "000000.npy", np.zeros((2, 2, 2), np.float32))
    assert [path.name for path in field_files(tmp_path)] == ["000000.npy"]
    write_compact_flow(tmp_path / "000000.png", np.zeros((2, 2, 2), np.float32))
    assert [path.name for path in field_files(tmp_path)] == ["000000.png"]
