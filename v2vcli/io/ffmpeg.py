"""The ffmpeg executable (bundled by imageio-ffmpeg): running it, reading its log, probing headers, muxing audio."""

from __future__ import annotations

import re
import signal
import subprocess
from fractions import Fraction
from functools import cache
from pathlib import Path

from v2vcli.errors import BadInput, V2VError

# Every run logs at info with each line tagged by its level ("[error] ..."): error lines can then be told
# from chatter, and a run that caught a signal says so ("Exiting normally, received signal 2.", info level).
LOG_ARGS = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info"]


@cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg executable that ships inside the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str]) -> str:
    """Run ffmpeg with `args` (no stdin) and return its log; raise V2VError with ffmpeg's last error."""
    result = subprocess.run([ffmpeg_exe(), *LOG_ARGS, *args], capture_output=True, text=True, errors="replace")
    raise_if_killed(result.returncode, result.stderr, "ffmpeg")
    if result.returncode != 0:
        raise V2VError(f"ffmpeg failed: {last_error(result.stderr)}")
    return result.stderr


_LOG_LINE = re.compile(r"^(?P<context>(?:\[[^\]]*\] )*)\[(?P<level>[a-z]+)\] (?P<message>.*)$")
_ERROR_LEVELS = {"panic", "fatal", "error"}


def error_lines(log: str, context: str = "") -> list[str]:
    """The messages ffmpeg logged at error level or worse, optionally only those whose context starts with
    `context` (e.g. "[in#" for the demuxer, as opposed to the decoder's "[h264 @ ...]")."""
    found = []
    for line in log.splitlines():
        match = _LOG_LINE.match(line.strip())
        if match and match["level"] in _ERROR_LEVELS and match["context"].startswith(context):
            found.append(match["message"].strip())
    return found


def last_error(log: str) -> str:
    """ffmpeg's last error message, else its last line (for logs without level tags)."""
    if errors := error_lines(log):
        return errors[-1]
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


_CAUGHT_SIGNAL = re.compile(r"^(?:\[[^\]]*\] )*Exiting normally, received signal (\d+)\.\s*$", re.MULTILINE)


def raise_if_killed(returncode: int, log: str, doing: str) -> None:
    """Report an ffmpeg child that a signal stopped, instead of blaming its input or output.

    ffmpeg dies from most signals (returncode -N) but catches SIGINT and SIGTERM: it then stops early and says
    "received signal N" at info level. Its exit status is 255 when the signal came while it was working, but
    one that came while it was still opening its input makes that open fail, and ffmpeg exits with the
    open's error (183, "Invalid data found") or even 0: the line, not the status, tells. SIGINT becomes
    KeyboardInterrupt, which the command line reports as an interruption; another signal a V2VError.
    """
    number = -returncode if returncode < 0 else None
    if caught := _CAUGHT_SIGNAL.search(log):
        number = int(caught.group(1))
    if number is None:
        return
    if number == signal.SIGINT:
        raise KeyboardInterrupt
    try:
        name = f" ({signal.Signals(number).name})"
    except ValueError:
        name = ""
    raise V2VError(f"the ffmpeg process {doing} was killed by signal {number}{name}")


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:(\d+)[^:]*: Video: (\w+).*?, (\d+)x(\d+)")
_FPS = re.compile(r", ([\d.]+)(k?) (fps|tbr)")
_AUDIO = re.compile(r"Stream #0:\d+[^:]*: Audio: (\w+)")
_UNDECODABLE = re.compile(r"Video: [^,]+, none\b")
_ROTATION = re.compile(r"Display Matrix: rotation of (-?[\d.]+) degrees")
_NTSC_RATES = (24, 30, 48, 60, 120, 240)


def parse_fps(text: str) -> Fraction:
    """ffmpeg prints rates rounded ("29.97"); recover the exact NTSC fractions (30000/1001)."""
    value = float(text)
    for base in _NTSC_RATES:
        ntsc = Fraction(base * 1000, 1001)
        if abs(value - float(ntsc)) < 0.006:
            return ntsc
    return Fraction(text).limit_denominator(1001)


def read_header(path: Path) -> str:
    """ffmpeg's description of a media file's streams; BadInput when it is not a readable media file."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if path.is_dir():
        raise BadInput(f"{path}: is a directory, not a media file")
    if path.stat().st_size == 0:
        raise BadInput(f"{path}: empty file")
    # `ffmpeg -i` alone exits non-zero ("no output file") but prints the stream headers first.
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
    )
    raise_if_killed(result.returncode, result.stderr, f"reading {path}")
    if "Input #0" not in result.stderr:
        raise BadInput(f"{path}: not a media file ffmpeg can read ({last_error(result.stderr)})")
    return result.stderr


def probe(path: Path) -> dict:
    """What ffmpeg's header says of a video file: video codec, stored size, the rates it prints (`fps`, the
    average it states, and `tbr`, its guess of the base rate; either may be None), display rotation,
    duration and audio codec.

    `rotation` is the display matrix's angle as ffmpeg prints it (counter-clockwise, so `-display_rotation 90`
    reads 90), normalized to [0, 360). Raises BadInput when the path is not a readable file with a video stream.
    """
    header = read_header(path)
    video = _VIDEO.search(header)
    if video is None:
        raise BadInput(f"{path}: has no video stream")
    stream = header[video.start() :]
    stream_line = stream.splitlines()[0]
    if _UNDECODABLE.search(stream_line):
        # ffmpeg decodes the first frames to learn the pixel format; none of them decoded.
        raise BadInput(f"{path}: no frame of the video stream can be decoded (ffmpeg finds no pixel format)")
    next_stream = stream.find("Stream #", 1)
    stream_block = stream if next_stream < 0 else stream[:next_stream]
    rates = {"fps": None, "tbr": None}
    for value, kilo, kind in _FPS.findall(stream_line):
        rates[kind] = parse_fps(value) * (1000 if kilo else 1)
    rotation = 0
    if turn := _ROTATION.search(stream_block):
        rotation = round(float(turn.group(1))) % 360
    duration = None
    if match := _DURATION.search(header):
        hours, minutes, seconds = match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return {
        "codec": video.group(2),
        "width": int(video.group(3)),
        "height": int(video.group(4)),
        "fps": rates["fps"],
        "tbr": rates["tbr"],
        "rotation": rotation,
        "duration": duration,
        "audio_codec": audio_codec(path, header),
    }


def audio_codec(path: Path, header: str | None = None) -> str | None:
    """Codec name of the file's first audio stream, or None when it has none."""
    audio = _AUDIO.search(header if header is not None else read_header(path))
    return audio.group(1) if audio else None
