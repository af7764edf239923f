"""Putting the audio of one file on the video of another, video stream copied bit for bit."""

from __future__ import annotations

from pathlib import Path

from v2vcli.errors import BadInput
from v2vcli.io.containers import Container, container_for
from v2vcli.io.ffmpeg import audio_codec, run_ffmpeg


def mux_audio(video: Path, audio_source: Path, output: Path, video_duration: float | None,
              container: Container) -> None:
    """Write `output` in `container` with the video stream of `video` (copied, display rotation included) and
    the first audio stream of `audio_source` (copied when the container takes it, else encoded), cut to the
    video's length. Packets the demuxer flags corrupt (the end of a cut file) are left out."""
    source_codec = audio_codec(audio_source)
    if source_codec is None:
        raise BadInput(f"{audio_source}: has no audio stream")
    limit = ["-t", f"{video_duration:.6f}"] if video_duration else []
    run_ffmpeg(
        ["-fflags", "+discardcorrupt", "-i", str(video), *limit, "-i", str(audio_source),
         "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *container.audio_args(source_codec),
         "-f", container.muxer, *container.muxer_args, "-y", str(output)]
    )


def mux_files(video: Path, audio_source: Path, output: Path, overwrite: bool = False) -> Path:
    """`mux_audio` for the command line: validates both inputs and the output, writes atomically in the
    container the output's suffix names. A truncated video is muxed as far as it goes, with a warning."""
    from v2vcli.io.damage import truncation_note, warn
    from v2vcli.io.outputs import atomic_path, check_output
    from v2vcli.io.probe import probe_video

    info = probe_video(video)
    container = container_for(output)
    if audio_codec(audio_source) is None:
        raise BadInput(f"{audio_source}: has no audio stream")
    check_output(output, inputs=[video, audio_source], overwrite=overwrite)
    if note := truncation_note(info):
        warn(note)
    with atomic_path(output) as partial:
        mux_audio(video, audio_source, partial, info.duration, container)
    return Path(output)
