"""`v2v info` and `v2v mux`: look inside a video; put an audio track on a video."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, print_json


def info(
    video: Path = typer.Argument(..., help="Video file (mp4, avi, mpg, mkv, mov, ...)."),
    json_output: bool = Json,
) -> None:
    """Show a video's size (upright, as players show it), rotation, frame rate, frame count, duration, codec
    and audio."""
    from v2vcli.io.damage import truncation_note, warn
    from v2vcli.io.video import probe_video

    details = probe_video(video)
    if note := truncation_note(details):
        warn(note)
    if json_output:
        print_json(details)
        return
    fps = details.fps
    fraction = f" ({fps.numerator}/{fps.denominator})" if fps.denominator != 1 else ""
    variable = ", variable in the file (this is its average)" if details.variable_frame_rate else ""
    rotation = f"  rotation  {details.rotation} degrees (frames are read upright)\n" if details.rotation else ""
    frames_note = "" if details.frame_count_exact else " (estimate)"
    if details.truncated:
        frames_note = f" (the header announces {details.expected_frame_count})"
    audio = details.audio_codec or "none"
    typer.echo(
        f"{details.path}\n"
        f"  size      {details.width}x{details.height}\n"
        f"{rotation}"
        f"  fps       {float(fps):.3f}{fraction}{variable}\n"
        f"  frames    {details.frame_count}{frames_note}\n"
        f"  duration  {details.duration:.3f} s\n"
        f"  codec     {details.codec}\n"
        f"  audio     {audio}"
    )


def mux(
    video: Path = typer.Argument(..., help="Video whose video stream is kept (copied, not re-encoded)."),
    audio: Path = typer.Option(..., "--audio", "-a", help="File whose first audio stream is added."),
    output: Path = typer.Option(None, "--output", "-o", help="Output video (.mp4, .mkv, .mov, .webm: the container "
                                                           "follows the suffix) [default: VIDEO.audio.mp4]."),
    overwrite: bool = Overwrite,
) -> None:
    """Put the audio of one file on the video of another (video stream copied bit for bit)."""
    from v2vcli.io.mux import mux_files

    output = output or video.with_name(f"{video.stem}.audio.mp4")
    written = mux_files(video, audio, output, overwrite=overwrite)
    typer.echo(str(written))


def register(app: typer.Typer) -> None:
    app.command()(info)
    app.command()(mux)
