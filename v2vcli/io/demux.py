"""The demux pass: which frames a video file holds and when each one is shown, read without decoding.

ffmpeg copies the first video stream's packets into its framecrc muxer: one line per packet with its dts,
pts, duration, size and flags. A packet counts as a frame when it holds data (AVI's empty "repeat the
previous frame" chunks do not), is not flagged discard (an mp4 edit list cut it: decoders drop its frame)
and is not flagged corrupt (the file ends inside it). Packets before the first keyframe count too
(`-copyinkf`): whether they decode is the decoder's say, and the reader reports those that do not.
Sorting the pts gives presentation order.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.io import ffmpeg

FLAG_CORRUPT = 0x2
FLAG_DISCARD = 0x4
# Intervals may differ by timestamp rounding (29.97 fps in a 1 ms time base: 33, 33, 34 ms) or by a phone's
# jitter; a frame rate is called variable when an interval is off the median by more than this fraction.
VARIABLE_TOLERANCE = 0.1


@dataclass(frozen=True)
class StreamIndex:
    """The frames of a video stream. `pts`: int64 (N,) in `time_base` units, sorted (presentation order).
    `end`: where the last frame stops showing. `input_errors`: what the demuxer (not a decoder) reported:
    data the file announces but does not hold."""

    time_base: Fraction
    pts: np.ndarray
    end: int
    input_errors: tuple[str, ...]

    @property
    def frame_count(self) -> int:
        return len(self.pts)

    @property
    def duration(self) -> Fraction:
        """Seconds from the first frame's start to the last frame's end (0 without frames)."""
        return (self.end - int(self.pts[0])) * self.time_base if len(self.pts) else Fraction(0)

    def timestamps(self) -> np.ndarray:
        """float64 (N,): each frame's presentation time in seconds on the file's timeline."""
        return self.pts * float(self.time_base)

    @property
    def variable_frame_rate(self) -> bool:
        """True when the intervals between frames are not all the same (beyond timestamp rounding)."""
        if len(self.pts) < 3:
            return False
        intervals = np.diff(self.pts)
        median = float(np.median(intervals))
        # Rounding moves an interval by up to a tick, unless a frame lasts one tick (AVI: the time base is
        # the frame rate), where any difference is real.
        allowed = max(VARIABLE_TOLERANCE * median, 1 if median > 1 else 0)
        return bool(np.abs(intervals - median).max() > allowed)


def index_video(path: Path | str) -> StreamIndex:
    """Read the first video stream's packets (no decoding). BadInput when ffmpeg cannot demux it at all."""
    path = Path(path)
    result = subprocess.run(
        [ffmpeg.ffmpeg_exe(), *ffmpeg.LOG_ARGS, "-i", str(path), "-map", "0:v:0", "-c", "copy", "-copyinkf",
         "-f", "framecrc", "-"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    ffmpeg.raise_if_killed(result.returncode, result.stderr, f"reading {path}")
    time_base, pts, ends = Fraction(1), [], []
    for line in result.stdout.splitlines():
        if line.startswith("#tb 0:"):
            time_base = Fraction(line.split(":", 1)[1].strip())
        elif not line.startswith("#"):
            _, _, stamp, duration, size, _, *flags = (field.strip() for field in line.split(","))
            flag_bits = int(flags[0].removeprefix("F="), 16) if flags else 0
            if int(size) > 0 and not flag_bits & (FLAG_CORRUPT | FLAG_DISCARD):
                pts.append(int(stamp))
                ends.append(int(stamp) + int(duration))
    if not pts and (result.returncode != 0 or ffmpeg.error_lines(result.stderr)):
        raise BadInput(f"{path}: cannot read any frame of the video stream ({ffmpeg.last_error(result.stderr)})")
    order = np.sort(np.asarray(pts, dtype=np.int64))
    end = max(ends, default=0)
    if len(order) >= 2 and end <= order[-1]:
        # Containers without packet durations (Matroska often): the last frame lasts as long as the one before.
        end = int(order[-1] + (order[-1] - order[-2]))
    return StreamIndex(time_base, order, end, tuple(ffmpeg.error_lines(result.stderr, context="[in#")))


def average_rate(index: StreamIndex, header_rates: list[Fraction | None]) -> Fraction:
    """The constant rate at which every frame of `index` plays in the stream's duration.

    One of the header's rates (exact, e.g. 30000/1001) when it keeps the duration to within one frame;
    else the simplest fraction (denominator up to 1001) that keeps it to within half a frame; else the
    exact frame count / duration.
    """
    count, duration = index.frame_count, index.duration
    if duration <= 0:
        return next((rate for rate in header_rates if rate), Fraction(0))
    exact = Fraction(count) / duration

    def error_in_frames(rate: Fraction) -> Fraction:
        return abs(count / rate - duration) * rate

    for rate in header_rates:
        if rate and error_in_frames(rate) <= 1:
            return rate
    for denominator in range(1, 1002):
        rate = exact.limit_denominator(denominator)
        if rate > 0 and error_in_frames(rate) <= Fraction(1, 2):
            return rate
    return exact
