"""The ffmpeg executable (bundled by imageio-ffmpeg): running it, probing files, muxing audio."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from functools import cache
from pathlib import Path

from v2vcli.errors import BadInput, V2VError


@cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg executable that ships inside the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str]) -> str:
    """Run ffmpeg with `args` (no stdin) and return its stderr; raise V2VError with ffmpeg's last line."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        raise V2VError(f"ffmpeg failed: {last_error_line(result.stderr)}")
    return result.stderr


def last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:(\d+)[^:]*: Video: (\w+).*?, (\d+)x(\d+)")
_FPS = re.compile(r", ([\d.]+)(k?) (fps|tbr)")
_AUDIO = re.compile(r"Stream #0:\d+[^:]*: Audio: (\w+)")
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
    if "Input #0" not in result.stderr:
        raise BadInput(f"{path}: not a media file ffmpeg can read ({last_error_line(result.stderr)})")
    return result.stderr


def probe(path: Path) -> dict:
    """What ffmpeg says of a video file: video codec, size, fps, duration, audio codec.

    Raises BadInput when the path is not a readable file with a video stream.
    """
    header = read_header(path)
    video = _VIDEO.search(header)
    if video is None:
        raise BadInput(f"{path}: has no video stream")
    stream_line = header[video.start() :].splitlines()[0]
    fps = None
    if fps_match := _FPS.search(stream_line):
        fps = parse_fps(fps_match.group(1)) * (1000 if fps_match.group(2) == "k" else 1)
    duration = None
    if match := _DURATION.search(header):
        hours, minutes, seconds = match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return {
        "codec": video.group(2),
        "width": int(video.group(3)),
        "height": int(video.group(4)),
        "fps": fps,
        "duration": duration,
        "audio_codec": audio_codec(path, header),
    }


def audio_codec(path: Path, header: str | None = None) -> str | None:
    """Codec name of the file's first audio stream, or None when it has none."""
    audio = _AUDIO.search(header if header is not None else read_header(path))
    return audio.group(1) if audio else None


def count_frames(path: Path) -> tuple[int, float]:
    """Exact frame count and duration of the first video stream, by demuxing without decoding.

    Empty packets (AVI's "repeat the previous frame" chunks) are not frames: decoders output nothing
    for them. Raises BadInput when the stream cannot be demuxed to the end (a truncated file).
    """
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path),
         "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    if result.returncode != 0:
        raise BadInput(f"{path}: cannot read the video stream ({last_error_line(result.stderr)})")
    # At `-v error` anything on stderr is a demuxing error: data the header promises is missing.
    if result.stderr.strip():
        raise BadInput(f"{path}: truncated or damaged video ({last_error_line(result.stderr)})")
    frames, end, time_base = 0, 0, Fraction(0)
    for line in result.stdout.splitlines():
        if line.startswith("#tb 0:"):
            time_base = Fraction(line.split(":", 1)[1].strip())
        elif not line.startswith("#"):
            _, _, pts, duration, size, *_ = (field.strip() for field in line.split(","))
            frames += int(size) > 0
            end = max(end, int(pts) + int(duration))
    return frames, float(end * time_base)


AUDIO_COPY_CODECS = {"aac", "mp3"}


def mux_audio(video: Path, audio_source: Path, output: Path, video_duration: float | None) -> None:
    """Write `output` with the video stream of `video` (copied bit for bit) and the first audio
    stream of `audio_source` (copied when mp4 can hold it, else encoded to AAC), cut to the video's length."""
    source_codec = audio_codec(audio_source)
    if source_codec is None:
        raise BadInput(f"{audio_source}: has no audio stream")
    audio_args = ["-c:a", "copy"] if source_codec in AUDIO_COPY_CODECS else ["-c:a", "aac", "-b:a", "192k"]
    limit = ["-t", f"{video_duration:.6f}"] if video_duration else []
    run_ffmpeg(
        ["-i", str(video), *limit, "-i", str(audio_source), "-map", "0:v:0", "-map", "1:a:0",
         "-c:v", "copy", *audio_args, "-f", "mp4", "-movflags", "+faststart", "-y", str(output)]
    )


def mux_files(video: Path, audio_source: Path, output: Path, overwrite: bool = False) -> Path:
    """`mux_audio` for the command line: validates both inputs and the output, writes atomically."""
    from v2vcli.io.outputs import atomic_path, check_output

    header = probe(video)
    if audio_codec(audio_source) is None:
        raise BadInput(f"{audio_source}: has no audio stream")
    check_output(output, inputs=[video, audio_source], overwrite=overwrite)
    _, seconds = count_frames(video)
    with atomic_path(output) as partial:
        mux_audio(video, audio_source, partial, seconds or header["duration"])
    return Path(output)
