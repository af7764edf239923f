"""What a video file holds, as v2v reads it: the upright size, a constant frame rate, the frames really there."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.io import ffmpeg
from v2vcli.io.demux import average_rate, index_video


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds.

    width, height: the size the frames are read at, upright as players show them (the stored size turned by
    `rotation`). rotation: the display rotation the file asks for, degrees counter-clockwise as ffmpeg prints
    it (0, 90, 180 or 270; the reader applies it). fps: the constant rate that plays every frame in the
    source's duration; for a constant-rate file the header's exact rate (30000/1001). variable_frame_rate:
    the file's own frame intervals differ (a phone recording); frame_timestamps() gives them. frame_count:
    frames the file holds (demuxed, not decoded); `frame_count_exact` is False when it is duration x fps.
    duration: seconds of video, first frame to the end of the last. truncated: the file ends before the
    frames its header announces (cut or partly downloaded); expected_frame_count is then that announced
    number (header duration x fps), else None.
    """

    path: str
    width: int
    height: int
    rotation: int
    fps: Fraction
    variable_frame_rate: bool
    frame_count: int
    frame_count_exact: bool
    duration: float
    truncated: bool
    expected_frame_count: int | None
    codec: str
    has_audio: bool
    audio_codec: str | None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["fps"] = float(self.fps)
        data["fps_fraction"] = f"{self.fps.numerator}/{self.fps.denominator}"
        return data


def upright_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    """The displayed (width, height) of a stored picture that players turn by `rotation` degrees.

    ffmpeg turns a picture by a quarter turn within a degree of 90 or 270 (transpose), any other angle
    keeps the size (180 is a flip both ways; odd angles are rotated inside the same frame).
    """
    quarter_turn = min(abs(rotation - 90), abs(rotation - 270)) < 1
    return (height, width) if quarter_turn else (width, height)


def probe_video(path: Path | str, exact: bool = True) -> VideoInfo:
    """Describe a video file. With `exact`, frames, rate and duration come from demuxing the whole stream
    (fast, no decoding); otherwise from the header alone (the count is then duration x fps)."""
    path = Path(path)
    header = ffmpeg.probe(path)
    header_rates = [header["fps"], header["tbr"]]
    width, height = upright_size(header["width"], header["height"], header["rotation"])
    header_duration = header["duration"] or 0.0
    truncated, expected = False, None
    if exact:
        index = index_video(path)
        frame_count, variable = index.frame_count, index.variable_frame_rate
        header_rate = next((rate for rate in header_rates if rate), None)
        announced = round(header_duration * header_rate) if header_rate else 0
        # Only the demuxer's complaints mean missing data; decoders' chatter about a file that decodes does not.
        truncated = bool(index.input_errors) and announced > frame_count + 1
        expected = announced if truncated else None
        # What is left of a cut file has holes where reordered frames were lost: its timing is the header's.
        fps = header_rate if truncated else average_rate(index, header_rates)
        duration = float(index.duration) or header_duration
    else:
        fps = next((rate for rate in header_rates if rate), None)
        variable = False
        duration = header_duration
        frame_count = round(duration * fps) if fps else 0
    if not fps or fps <= 0:
        raise BadInput(f"{path}: the video stream has no frame rate")
    if frame_count == 0:
        raise BadInput(f"{path}: the video stream has no frames")
    return VideoInfo(
        path=str(path),
        width=width,
        height=height,
        rotation=header["rotation"],
        fps=fps,
        variable_frame_rate=variable,
        frame_count=frame_count,
        frame_count_exact=exact,
        duration=duration,
        truncated=truncated,
        expected_frame_count=expected,
        codec=header["codec"],
        has_audio=header["audio_codec"] is not None,
        audio_codec=header["audio_codec"],
    )


def frame_timestamps(path: Path | str) -> np.ndarray:
    """float64 (N,): the presentation time in seconds of each frame the file holds, in the order the reader
    yields them (the file's own timeline: the first frame is usually at 0). For a variable-rate video these
    are the real instants; the reader's frames are otherwise evenly spaced at VideoInfo.fps."""
    return index_video(path).timestamps()
