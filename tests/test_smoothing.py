"""The centred keypoint smoother for whole clips (v2vcli.preprocess.smoothing): jitter goes, motion stays, no
lag, visibility weighs, short gaps are filled. On real footage (marked real, slow) it prints the jitter
figures docs/pose.md quotes: `pytest -m real tests/test_smoothing.py -s`."""

from __future__ import annotations

import numpy as np
import pytest

from v2vcli.preprocess.smoothing import KeypointSmoothing, OneEuroFilter, OneEuroSettings, local_quadratic, smooth_track

SEGMENTS = ("still", "slow", "fast swing", "step", "swing")


def known_motion(fps: float, seed: int = 0, noise: float = 2.0):
    """A joint's true track over 12 s and what a model would report: (truth (T, 2), measured (T, 2),
    visibility (T,), segment name per frame).

    0-2 s still; 2-4 s a slow 50 px drift; 4-6 s a fast swing (2 Hz, 60 px: up to 25 px a frame at 30
    fps); 6-7 s still; 7 s a 120 px step made in 0.15 s; then still; 9-12 s a 1 Hz swing of 100 px.
    Measured = truth + Gaussian noise of `noise` px, and two stretches where the model only guesses
    (visibility 0.2, 10 px more noise)."""
    times = np.arange(int(12 * fps)) / fps

    def smoothstep(fraction):
        fraction = np.clip(fraction, 0, 1)
        return fraction * fraction * (3 - 2 * fraction)

    x = 300 + 50 * smoothstep((times - 2) / 2) + 120 * smoothstep((times - 7) / 0.15)
    x += np.where((times >= 4) & (times < 6), 60 * np.sin(2 * np.pi * 2 * (times - 4)), 0)
    x += np.where(times >= 9, 100 * np.sin(2 * np.pi * (times - 9)), 0)
    truth = np.stack([x, 200 + 0.3 * (x - 300)], axis=1)
    segment = np.select([times < 2, times < 4, times < 6, times < 7, times < 7.3, times < 9],
                        ["still", "slow", "fast swing", "still", "step", "still"], "swing")
    rng = np.random.default_rng(seed)
    measured = truth + rng.normal(0, noise, truth.shape)
    visibility = np.ones(len(times))
    guessed = ((times > 1.0) & (times < 1.3)) | ((times > 8.0) & (times < 8.2))
    visibility[guessed] = 0.2
    measured[guessed] += rng.normal(0, 10, (guessed.sum(), 2))
    return truth, measured, visibility, segment


def smoothed_joint(measured: np.ndarray, visibility: np.ndarray, fps: float,
                   found: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """smooth_track on one joint's (T, 2) track: (smoothed (T, 2), present (T,))."""
    landmarks = np.zeros((len(measured), 1, 5))
    landmarks[:, 0, :2], landmarks[:, 0, 3], landmarks[:, 0, 4] = measured, visibility, 1.0
    found = np.ones(len(measured), dtype=bool) if found is None else found
    smoothed, present = smooth_track(landmarks, found, fps)
    return smoothed[:, 0, :2].astype(np.float64), present


def jitter(track: np.ndarray) -> float:
    """Mean size of the frame-to-frame acceleration (second difference) of a (T, 2) track, pixels/frame^2."""
    return float(np.linalg.norm(track[2:] - 2 * track[1:-1] + track[:-2], axis=-1).mean())


def rms(errors: np.ndarray) -> float:
    return float(np.sqrt((errors**2).mean()))


def one_euro(track: np.ndarray, fps: float, scale: float = 200.0) -> np.ndarray:
    """The causal filter live frames get, on a (T, 2) track."""
    smoother = OneEuroFilter(OneEuroSettings(min_cutoff=1.0, beta=40.0))
    return np.array([smoother(index / fps, point, scale=scale) for index, point in enumerate(track)])


@pytest.mark.parametrize("fps", [24, 30, 60])
def test_jitter_falls_40_percent_with_at_most_1_px_added_error(fps):
    """The known-motion track: jitter at least 40% lower, and in every segment (the fast ones included) the
    RMS distance to the truth grows by at most 1 px (it falls in most)."""
    truth, measured, visibility, segment = known_motion(fps)
    smoothed, _ = smoothed_joint(measured, visibility, fps)
    assert jitter(smoothed) <= 0.6 * jitter(measured)
    seen = visibility > 0.5
    for name in SEGMENTS:
        frames = (segment == name) & seen
        added = rms(np.linalg.norm(smoothed - truth, axis=1)[frames]) - rms(
            np.linalg.norm(measured - truth, axis=1)[frames])
        assert added <= 1.0, (name, added)
    # Where the joint stands still, the jitter almost all goes.
    still = segment[1:-1] == "still"
    accelerations = np.linalg.norm(smoothed[2:] - 2 * smoothed[1:-1] + smoothed[:-2], axis=-1)
    raw_accelerations = np.linalg.norm(measured[2:] - 2 * measured[1:-1] + measured[:-2], axis=-1)
    assert accelerations[still & seen[1:-1]].mean() <= 0.3 * raw_accelerations[still & seen[1:-1]].mean()


def test_no_lag_on_a_step_or_a_fast_swing():
    fps = 30.0
    # A joint jumping 100 px between frames 59 and 60: crossed half-way there, symmetric around it.
    step = np.zeros((120, 2))
    step[60:, 0] = 100.0
    smoothed, _ = smoothed_joint(step, np.ones(120), fps)
    assert smoothed[59, 0] < 50 < smoothed[60, 0]
    assert smoothed[59, 0] + smoothed[60, 0] == pytest.approx(100, abs=0.5)
    # A noisy 2 Hz swing: the smoothed track keeps the measured phase (the causal one lags).
    times = np.arange(240) / fps
    truth = np.stack([60 * np.sin(2 * np.pi * 2 * times), np.zeros_like(times)], axis=1)
    measured = truth + np.random.default_rng(1).normal(0, 2.0, truth.shape)
    smoothed, _ = smoothed_joint(measured, np.ones(240), fps)

    def lag(track):
        """The swing's delay in frames: its phase against the truth's (sin and cos projections)."""
        angle = 2 * np.pi * 2 * times[10:-10]
        phase = np.arctan2(-np.dot(track[10:-10, 0], np.cos(angle)), np.dot(track[10:-10, 0], np.sin(angle)))
        return phase / (2 * np.pi * 2) * fps

    # No delay beyond what the noise itself puts in the measured phase; the causal filter's is 0.17 frame.
    assert abs(lag(smoothed) - lag(measured)) < 0.02 and lag(one_euro(measured, fps)) > 0.1


def test_low_visibility_guesses_do_not_pull_visible_points():
    """Ten frames where the model guesses (visibility 0.1) 30 px off: the visible frames beside them stay
    on the joint."""
    truth = np.full((80, 2), 100.0)
    measured = truth + np.random.default_rng(2).normal(0, 1.0, truth.shape)
    visibility = np.ones(80)
    measured[40:50, 0] += 30
    visibility[40:50] = 0.1
    smoothed, _ = smoothed_joint(measured, visibility, 30)
    beside = np.r_[34:40, 50:56]
    assert np.abs(smoothed[beside] - truth[beside]).max() < 2.0
    # Without the visibility weights the guesses would drag their neighbours off.
    unweighted, _ = smoothed_joint(measured, np.ones(80), 30)
    assert np.abs(unweighted[beside] - truth[beside]).max() > 3.0


def test_short_gaps_are_filled_and_long_ones_stay_empty():
    fps = 30.0  # gaps up to 0.2 s = 6 frames are filled
    track = np.stack([np.arange(100) * 2.0, np.full(100, 50.0)], axis=1)  # a steady walk, 2 px a frame
    found = np.ones(100, dtype=bool)
    found[20:24] = False  # 4 frames
    found[60:70] = False  # 10 frames
    smoothed, present = smoothed_joint(track, np.ones(100), fps, found)
    assert present[20:24].all() and not present[60:70].any() and present[found].all()
    np.testing.assert_allclose(smoothed[20:24], track[20:24], atol=0.01)  # interpolated on the walk
    assert np.isnan(smoothed[60:70]).all()
    assert KeypointSmoothing().fill_frames(fps) == 6 and KeypointSmoothing().fill_frames(24) == 5


def test_local_quadratic_keeps_a_parabola_and_narrows_its_noise_with_width():
    times = np.arange(50, dtype=np.float64)
    parabola = (0.3 * times**2 - 4 * times + 7)[:, None, None]
    weights = np.random.default_rng(3).uniform(0.1, 1.0, (50, 1))
    for half_width in (1, 3, 6):
        estimates, _ = local_quadratic(parabola, weights, half_width)
        np.testing.assert_allclose(estimates[1:-1], parabola[1:-1], atol=1e-6)  # the ends: 2 samples for h=1
    variances = [local_quadratic(parabola, np.ones((50, 1)), half_width)[1][25, 0] for half_width in (2, 4, 8)]
    assert variances[0] > variances[1] > variances[2]
    # A window with fewer than three samples cannot hold a quadratic: the weighted mean, infinite variance.
    sparse = np.zeros((50, 1))
    sparse[[10, 12]] = 1.0
    estimates, variance = local_quadratic(parabola, sparse, 2)
    assert estimates[11, 0, 0] == pytest.approx((parabola[10, 0, 0] + parabola[12, 0, 0]) / 2)
    assert np.isinf(variance[11, 0])


def still_and_moving(raw: np.ndarray, fps: float, body: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the accelerations of a person's track (T, K, 5) (frames 1..T-2): (measurable, still, moving)
    bool (T - 2, body points). Measurable: the point is seen (visibility and presence >= 0.5) in the three
    frames. A reference track (the raw one fitted over 0.3 s each side) gives each point's speed in person
    sizes a frame; still: below 0.005 in every frame within 0.25 s; moving: at least 0.02."""
    from numpy.lib.stride_tricks import sliding_window_view

    from v2vcli.preprocess.tracking import person_box

    found = ~np.isnan(raw[:, 0, 0])
    points = np.nan_to_num(raw[:, body])
    seen = (points[..., 3] >= 0.5) & (points[..., 4] >= 0.5) & found[:, None]
    measurable = seen[2:] & seen[1:-1] & seen[:-2]
    weights = np.where(found[:, None], np.clip(points[..., 3], 0.05, 1.0) ** 2, 0.0)
    reference, _ = local_quadratic(points[..., :2], weights, max(1, round(0.3 * fps)))
    size = np.mean([person_box(person)[1] for person in points[found]])
    speed = np.linalg.norm(np.gradient(reference, axis=0), axis=-1) / size
    span = max(1, round(0.25 * fps))
    peak = sliding_window_view(np.pad(speed, ((span, span), (0, 0)), mode="edge"), 2 * span + 1, axis=0).max(-1)
    return measurable, measurable & (peak[1:-1] < 0.005), measurable & (speed[1:-1] >= 0.02)


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize("clip", ["sports2d", "talking-head"])
def test_jitter_on_real_footage_falls_40_percent(footage, clip):
    """The person followed in real clips: their body points' jitter with the centred smoother against the
    raw keypoints and against the causal One Euro filter (the smoothing files had before)."""
    from v2vcli.io.video import VideoReader, probe_video
    from v2vcli.preprocess.pose import PeopleFinder, PoseConfig
    from v2vcli.preprocess.tracking import body_indices

    path = footage(clip)
    info = probe_video(path)
    config = PoseConfig()
    with PeopleFinder(info.fps, (info.width, info.height), config) as finder:
        for frame in VideoReader(path, info=info):
            finder(frame)
    smoothed_clip = finder.people()
    person = smoothed_clip.choose("auto")
    fps, body = float(info.fps), body_indices(finder.clip.layout)

    def track(clip_people):
        frames = clip_people.tracks[person]
        first = min(frames)
        array = np.full((max(frames) - first + 1, clip_people.layout.count, 5), np.nan)
        for index, keypoints in frames.items():
            array[index - first] = keypoints
        return array

    raw, smoothed = track(finder.clip), track(smoothed_clip)
    live = raw.copy()
    smoother = OneEuroFilter(config.live_smoothing)
    for index, keypoints in enumerate(raw):
        if not np.isnan(keypoints[0, 0]):
            live[index, :, :2] = smoother(index / fps, keypoints[:, :2],
                                          scale=float(np.ptp(keypoints[:, :2], axis=0).mean()))
    measurable, still, moving = still_and_moving(raw, fps, body)
    figures = {}
    for name, keypoints in (("raw", raw), ("one euro", live), ("centred", smoothed)):
        xy = keypoints[:, body, :2]
        accelerations = np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=-1)
        figures[name] = [float(accelerations[mask].mean()) if mask.any() else float("nan")
                         for mask in (measurable, still, moving)]
    print(f"\n{clip}: person {person}, {len(raw)} frames, {fps:.3f} fps; mean acceleration px/frame^2 "
          f"(all, still, moving; {measurable.sum()}, {still.sum()}, {moving.sum()} points): {figures}")
    assert figures["centred"][0] <= 0.6 * figures["raw"][0]
    assert figures["centred"][0] <= 0.6 * figures["one euro"][0]
