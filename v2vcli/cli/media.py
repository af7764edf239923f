"""`v2v info` and `v2v mux`: look inside a video; put an audio track on a video."""

from __future__ import annotations

from pathlib import Path

import typer

from v2vcli.cli.options import Json, Overwrite, print_json


def info(
    video: Path = typer.Argument(..., help="Video file (mp4, avi, mpg, mkv, mov, ...)."),
    json_output: bool = Json,
) -> None:
    """Show a video's size, exact frame rate, frame count, duration, codec and audio."""
    from v2vcli.io.video import probe_video

    details = probe_video(video)
    if json_output:
        print_json(details.to_dict())
        return
    fps = details.fps
    fraction = f" ({fps.numerator}/{fps.denominator})" if fps.denominator != 1 else ""
    audio = details.audio_codec or "none"
    typer.echo(
        f"{details.path}\n"
        f"  size      {details.width}x{details.height}\n"
        f"  fps       {float(fps):.3f}{fraction}\n"
        f"  frames    {details.frame_count}{'' if details.frame_count_exact else ' (estimate)'}\n"
        f"  duration  {details.duration:.3f} s\n"
        f"  codec     {details.codec}\n"
        f"  audio     {audio}"
    )


def mux(
    video: Path = typer.Argument(..., help="Video whose video stream is kept (copied, not re-encoded)."),
    audio: Path = typer.Option(..., "--audio", "-a", help="File whose first audio stream is added."),
    output: Path = typer.Option(None, "--output", "-o", help="Output mp4 [default: VIDEO.audio.mp4]."),
    overwrite: bool = Overwrite,
) -> None:
    """Put the audio of one file on the video of another (video stream copied bit for bit)."""
    from v2vcli.io.ffmpeg import mux_files

    output = output or video.with_name(f"{video.stem}.audio.mp4")
    written = mux_files(video, audio, output, overwrite=overwrite)
    typer.echo(str(written))


def register(app: typer.Typer) -> None:
    app.command()(info)
    app.command()(mux)
