"""Saying what a damaged video loses: one `warning:` line on stderr, as ffmpeg does, once per message.

A file that decodes completely is not damaged, whatever its decoder prints on the way. A file that holds
fewer frames than it announces (cut, partly downloaded), or whose frames do not all decode, is processed
as far as it goes, and the loss is said once.
"""

from __future__ import annotations

import sys

from v2vcli.io.probe import VideoInfo

_said: set[str] = set()


def warn(message: str) -> None:
    """Print `warning: message` on stderr, once per process (a command may read a file twice)."""
    if message not in _said:
        _said.add(message)
        print(f"warning: {message}", file=sys.stderr, flush=True)


def truncation_note(info: VideoInfo) -> str | None:
    """What a probe found missing from the file, or None when it holds every frame it announces."""
    if not info.truncated:
        return None
    return (f"{info.path}: the file holds {info.frame_count} of the {info.expected_frame_count} frames "
            "its header announces (truncated file?)")


def decoding_loss(info: VideoInfo, decoded: int) -> str | None:
    """What a complete pass of the reader lost, given that `decoded` frames came out; None when nothing."""
    if info.truncated:
        return (f"{info.path}: decoding stopped at frame {decoded} of {info.expected_frame_count} (truncated "
                f"file?); using the {decoded} frames that decode")
    if info.frame_count_exact and decoded < info.frame_count:
        return (f"{info.path}: {info.frame_count - decoded} of {info.frame_count} frames could not be decoded "
                f"(damaged file?); using the {decoded} frames that decode")
    return None
