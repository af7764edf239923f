"""Edge maps: Canny with video-wide thresholds and flow-guided hysteresis (v2vcli/preprocess/edges.py):
where the edges are, the threshold rule, and that the maps hold still where the scene does."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from skimage import data

from v2vcli.errors import BadInput
from v2vcli.io.video import read_frames
from v2vcli.preprocess.edges import (
    MIN_HIGH,
    EdgeDetector,
    EdgeFlickerMeter,
    EdgeThresholds,
    blurred_gray,
    edge_frames,
    estimate_thresholds,
    gradient_magnitude,
    measure_flicker,
)


def square(size: int = 64, left: int = 20, top: int = 20, side: int = 24) -> np.ndarray:
    """RGB uint8 (size, size, 3): a light square on a dark background."""
    frame = np.full((size, size, 3), 40, np.uint8)
    frame[top:top + side, left:left + side] = 200
    return frame


def outline_distance(size: int, left: int, top: int, side: int) -> np.ndarray:
    """float32 (size, size): each pixel's distance to the square's outline."""
    outline = np.full((size, size), 255, np.uint8)
    cv2.rectangle(outline, (left, top), (left + side - 1, top + side - 1), 0, 1)
    return cv2.distanceTransform(outline, cv2.DIST_L2, 3)


def photo(size: int = 128) -> np.ndarray:
    return cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)


def test_edges_outline_a_square_and_nothing_else():
    frame = square()
    edges = EdgeDetector(estimate_thresholds([frame]))(frame)
    assert edges.shape == (64, 64) and edges.dtype == np.uint8 and set(np.unique(edges)) == {0, 255}
    distance = outline_distance(64, 20, 20, 24)
    assert distance[edges > 0].max() <= 1.5  # every edge pixel on the outline (within a pixel)
    near_edge = cv2.dilate(edges, np.ones((3, 3), np.uint8)) > 0
    assert near_edge[distance == 0].mean() > 0.9  # and the outline drawn nearly all round


def test_thresholds_are_the_documented_percentile_of_the_whole_video():
    dim = (photo() * 0.3).astype(np.uint8)
    bright = photo()
    thresholds = estimate_thresholds([dim, bright])
    magnitudes = np.concatenate([gradient_magnitude(blurred_gray(frame)).ravel() for frame in (dim, bright)])
    assert abs(thresholds.high - np.percentile(magnitudes, 90)) <= 1.0  # one histogram bin
    assert thresholds.low == pytest.approx(0.4 * thresholds.high) and thresholds.blur == 1.0
    # One rule for the video, between what each frame alone would get.
    assert estimate_thresholds([dim]).high < thresholds.high < estimate_thresholds([bright]).high


def test_a_flat_video_gets_the_floor_and_no_edges_and_no_frames_is_an_error():
    flat = np.full((32, 32, 3), 90, np.uint8)
    noisy = np.clip(flat + np.random.default_rng(0).normal(0, 1.5, flat.shape), 0, 255).astype(np.uint8)
    thresholds = estimate_thresholds([flat, noisy])
    assert thresholds.high == MIN_HIGH
    assert not EdgeDetector(thresholds, temporal=False)(noisy).any()
    with pytest.raises(BadInput, match="no frames"):
        estimate_thresholds([])
    with pytest.raises(BadInput, match="0 < low <= high"):
        EdgeThresholds(low=50, high=20)


def test_video_thresholds_keep_still_edges_that_per_frame_thresholds_lose():
    """A still photo on the left; on the right, a sharp checkerboard comes and goes. Thresholds chosen per
    frame jump with it and the photo's weaker edges blink; the video's thresholds leave them alone."""
    background = photo()
    board = np.kron((np.indices((8, 8)).sum(axis=0) % 2) * 255, np.ones((8, 8))).astype(np.uint8)
    frames = []
    for index in range(6):
        frame = np.concatenate([background, background], axis=1)
        if index % 2:
            frame[32:96, 160:224] = board[..., None]
        frames.append(frame)
    still = np.zeros((128, 256), bool)
    still[:, :120] = True  # the photo's half, away from the board
    video = EdgeDetector(estimate_thresholds(frames), temporal=False)
    per_frame = [EdgeDetector(estimate_thresholds([frame]), temporal=False)(frame) for frame in frames]
    video_meter, per_frame_meter = EdgeFlickerMeter(), EdgeFlickerMeter()
    for previous, current in itertools.pairwise([video(frame) for frame in frames]):
        video_meter.add(previous, current, still)
    for previous, current in itertools.pairwise(per_frame):
        per_frame_meter.add(previous, current, still)
    assert video_meter.rate == 0.0
    assert per_frame_meter.rate > 0.1


def test_flow_hysteresis_keeps_edges_from_blinking_in_a_noisy_still_video():
    """Camera noise over a still photo: edges near a threshold blink without hysteresis, much less with it."""
    rng = np.random.default_rng(1)
    frames = [np.clip(photo() + rng.normal(0, 6, (128, 128, 3)), 0, 255).astype(np.uint8) for _ in range(10)]
    thresholds = estimate_thresholds(frames)
    still = np.ones((128, 128), bool)
    meters = {}
    for temporal in (False, True):
        meters[temporal] = EdgeFlickerMeter()
        for previous, current in itertools.pairwise(edge_frames(frames, thresholds, temporal=temporal)):
            meters[temporal].add(previous, current, still)
    assert meters[True].appear_rate < 0.5 * meters[False].appear_rate
    assert meters[True].rate < meters[False].rate
    assert meters[True].density < 1.3 * meters[False].density  # steadier, not just more edges


def test_edges_follow_what_moves_and_leave_with_what_goes():
    """A square moving 3 px a frame, then gone: the previous edges are carried along the flow and kept only
    where the gradient still has a ridge, so the outline follows the square and vanishes with it."""
    detector = EdgeDetector(EdgeThresholds(low=40, high=100))
    for index in range(8):
        left = 8 + 3 * index
        edges = detector(square(left=left, top=20))
        distance = outline_distance(64, left, 20, 24)
        assert distance[edges > 0].max() <= 1.5, f"frame {index}: an edge off the square's outline"
    assert not detector(np.full((64, 64, 3), 40, np.uint8)).any()


def test_edge_flicker_meter_tells_shifted_edges_from_blinking_ones():
    previous = np.zeros((4, 8), np.uint8)
    previous[:, 2] = 255  # a vertical line...
    current = np.zeros((4, 8), np.uint8)
    current[:, 3] = 255  # ...one pixel to the right
    current[0, 7] = 255  # and a new, isolated edge pixel
    meter = EdgeFlickerMeter()
    meter.add(previous, current, np.ones((4, 8), bool))
    assert meter.rate == 1.0  # every edge pixel changed
    assert meter.appear_rate == pytest.approx(1 / 9)  # but only one came out of nowhere
    assert meter.density == pytest.approx(5 / 32)
    still = np.ones((4, 8), bool)
    still[:, 6:] = False  # where the scene moved, a change is not flicker
    meter = EdgeFlickerMeter()
    meter.add(previous, current, still)
    assert meter.appear_rate == 0.0 and meter.rate == 1.0


@pytest.mark.real
@pytest.mark.slow
def test_on_a_real_close_up_hysteresis_cuts_blinking_edges(footage):
    """talking-head, 48 frames at 640x360: measured 0.016 of still edge pixels blink with hysteresis,
    0.064 without (docs/edges.md), with about as many edges."""
    frames = list(itertools.islice(read_frames(footage("talking-head")), 48))
    thresholds = estimate_thresholds(frames)
    plain = measure_flicker(frames, edge_frames(frames, thresholds, temporal=False))
    temporal = measure_flicker(frames, edge_frames(frames, thresholds))
    assert 0.02 < plain.density < 0.15  # a face and hair drawn, not noise and not nothing
    assert temporal.appear_rate < 0.5 * plain.appear_rate
    assert temporal.density < 1.3 * plain.density
