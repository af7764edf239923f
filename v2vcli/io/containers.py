"""The video containers v2v writes, by file suffix: ffmpeg's muxer and which audio each one takes as it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from v2vcli.errors import BadInput


@dataclass(frozen=True)
class Container:
    """One container format. `audio_copy`: audio codecs put in as they are (None: any codec); other audio is
    encoded with `audio_encode`."""

    suffix: str
    muxer: str
    muxer_args: tuple[str, ...]
    audio_copy: frozenset[str] | None
    audio_encode: tuple[str, ...]

    def audio_args(self, source_codec: str) -> list[str]:
        """ffmpeg's audio codec arguments for a source whose audio is `source_codec`."""
        if self.audio_copy is None or source_codec in self.audio_copy:
            return ["-c:a", "copy"]
        return list(self.audio_encode)


_AAC = ("-c:a", "aac", "-b:a", "192k")
# faststart moves the index to the front, so players start before the whole file has arrived.
_QUICKTIME_ARGS = ("-movflags", "+faststart")

CONTAINERS: dict[str, Container] = {
    container.suffix: container
    for container in (
        Container(".mp4", "mp4", _QUICKTIME_ARGS, frozenset({"aac", "mp3"}), _AAC),
        Container(".mov", "mov", _QUICKTIME_ARGS, frozenset({"aac", "mp3"}), _AAC),
        Container(".mkv", "matroska", (), None, _AAC),
        Container(".webm", "webm", (), frozenset({"opus", "vorbis"}), ("-c:a", "libopus", "-b:a", "128k")),
    )
}


def container_for(path: Path | str) -> Container:
    """The container a video file path asks for by its suffix; BadInput naming the supported ones."""
    suffix = Path(path).suffix.lower()
    if suffix not in CONTAINERS:
        raise BadInput(f"{path}: cannot write a {suffix or 'suffix-less'} file; "
                       f"video outputs end in {', '.join(CONTAINERS)}")
    return CONTAINERS[suffix]
