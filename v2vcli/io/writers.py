"""Video outputs chosen by the output path, behind one writer interface (VideoWriter).

| path                                      | writer            | video                                       |
| `.mp4`, `.mkv`                            | H264Writer        | H.264 yuv420p (yuv444p: an odd side), x264  |
|                                           |                   | or NVENC (`encoder`, v2vcli.io.encoders)    |
| `.mov`                                    | ProResWriter      | ProRes 422 HQ, yuv422p10le (4444: odd width)|
| `.webm`                                   | Vp9Writer         | VP9 yuv420p                                 |
| no suffix, an existing folder, ending `/` | FrameFolderWriter | 000000.png, 000001.png, ...                 |

Every output keeps the frames' exact size and is written under a temporary name, renamed when complete and
removed on error. Audio (`audio_from`) goes where the container takes it (see v2vcli.io.containers).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np

from v2vcli.errors import BadInput, V2VError
from v2vcli.io import ffmpeg
from v2vcli.io.containers import container_for
from v2vcli.io.encoders import NVENC, X264, check_encoder, h264_encoder
from v2vcli.io.mux import mux_audio
from v2vcli.io.outputs import CloseOrAbort, atomic_path, check_output, commit, remove, temporary_sibling

PREVIEW_PRESET = "veryfast"
FOLDER = ""  # the registry key of frame folders
WRITERS: dict[str, type[VideoWriter]] = {}


def writer_class(path: Path | str) -> type[VideoWriter]:
    """The writer for an output path: by its suffix; a frame folder for a path ending in "/", an existing
    folder or a path without a suffix. BadInput listing the supported suffixes for any other."""
    suffix = Path(path).suffix.lower()
    if str(path).endswith(("/", os.sep)) or (suffix not in WRITERS and Path(path).is_dir()):
        return WRITERS[FOLDER]
    if suffix not in WRITERS:
        videos = ", ".join(sorted(key for key in WRITERS if key != FOLDER))
        raise BadInput(f"{path}: cannot write {suffix} files; outputs are videos ({videos}) or a folder of "
                       "PNG frames (a path without a suffix)")
    return WRITERS[suffix]


def check_video_output(output: Path | str, inputs: Iterable[Path] = (), overwrite: bool = False) -> Path:
    """`check_output` for a video output, which must also have a format v2v writes: checked before any
    work, so a wrong suffix is not found out after a model has loaded and a pose pass has run."""
    writer_class(output)
    return check_output(Path(output), inputs, overwrite)


class VideoWriter(CloseOrAbort):
    """Write RGB uint8 frames (H, W, 3) to `path`, atomically, in the format its suffix names.

    `VideoWriter(path, fps, ...)` makes the writer `writer_class(path)` names. Use it as a context manager
    (or call `close()`): the output appears under its final name only when complete; an error (or an
    exception inside the `with` block) leaves nothing. `crf` is the constant quality of H.264 (0-51) and
    VP9 (0-63), lower is better; 18 is visually lossless for most footage. `lossless=True` keeps exact
    pixels (for intermediates). `preset` is x264's speed/size trade-off (PREVIEW_PRESET for previews).
    `audio_from` names a file whose first audio stream is put on the video (a file without audio, or a
    frame folder, leaves it silent). `encoder` (auto, x264, nvenc) chooses H.264's encoder (see
    v2vcli.io.encoders); other formats have one encoder each. After the first frame, `codec` names the
    ffmpeg encoder at work ("png" for a frame folder).
    """

    suffixes: ClassVar[tuple[str, ...]] = ()
    max_crf: ClassVar[int] = 51

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        WRITERS.update(dict.fromkeys(cls.suffixes, cls))

    def __new__(cls, path: Path | str, *args, **kwargs) -> VideoWriter:
        return super().__new__(writer_class(path) if cls is VideoWriter else cls)

    def __init__(
        self,
        path: Path | str,
        fps: Fraction | float,
        crf: int = 18,
        lossless: bool = False,
        audio_from: Path | str | None = None,
        preset: str = "medium",
        encoder: str = "x264",
    ):
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
        if not 0 <= crf <= self.max_crf:
            raise BadInput(f"quality (crf) must be between 0 and {self.max_crf}, not {crf}")
        self.crf = crf
        self.lossless = lossless
        self.preset = preset
        self.encoder = check_encoder(encoder)
        self.codec: str | None = None
        self.audio_from = Path(audio_from) if audio_from else None
        self.frames_written = 0
        self.size: tuple[int, int] | None = None
        self._temporary = temporary_sibling(self.path)


    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame (H, W, 3); every frame must have the first one's size."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise V2VError(f"frames must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        height, width = frame.shape[:2]
        if self.size is None:
            self.size = (width, height)
            self._start(width, height)
        elif (width, height) != self.size:
            raise V2VError(f"frame size {width}x{height} differs from the first frame's {self.size[0]}x{self.size[1]}")
        self._write(np.ascontiguousarray(frame))
        self.frames_written += 1

    def write_all(self, frames: Iterable[np.ndarray]) -> int:
        for frame in frames:
            self.write(frame)
        return self.frames_written

    def close(self) -> None:
        """Finish the output and move it to its final name."""
        if self.size is None:
            raise BadInput(f"{self.path}: no frames to write")
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Stop writing and remove the partial output."""
        remove(self._temporary)

    def _start(self, width: int, height: int) -> None:
        raise NotImplementedError

    def _write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError


class EncodedWriter(VideoWriter):
    """A video file: frames piped to one ffmpeg encoder writing the temporary file, then the audio muxed in."""

    def __init__(self, path: Path | str, *args, **kwargs):
        super().__init__(path, *args, **kwargs)
        self.container = container_for(self.path)
        self._process: subprocess.Popen | None = None
        self._log = None

    def codec_args(self, width: int, height: int) -> list[str]:
        """ffmpeg's video codec arguments for frames of this size."""
        raise NotImplementedError

    def _start(self, width: int, height: int) -> None:
        codec_args = self.codec_args(width, height)
        self.codec = codec_args[codec_args.index("-c:v") + 1]
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [ffmpeg.ffmpeg_exe(), *ffmpeg.LOG_ARGS, "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
             "-s", f"{width}x{height}", "-r", f"{self.fps.numerator}/{self.fps.denominator}", "-i", "-",
             *codec_args, "-f", self.container.muxer, *self.container.muxer_args,
             str(self._temporary)],
            stdin=subprocess.PIPE,
            stderr=self._log,
            # Its own process group: a terminal's Ctrl-C reaches v2v alone, which stops its children itself.
            process_group=0,
        )

    def _write(self, frame: np.ndarray) -> None:
        try:
            self._process.stdin.write(memoryview(frame).cast("B"))
        except BrokenPipeError:
            self._process.wait()
            log = self._read_log()
            self.abort()
            ffmpeg.raise_if_killed(self._process.returncode, log, f"encoding {self.path}")
            raise V2VError(f"{self.path}: the encoder stopped ({ffmpeg.last_error(log)})") from None

    def _finish(self) -> None:
        try:
            self._process.stdin.close()
        except BrokenPipeError:  # the encoder is gone; its exit status and log say why
            pass
        returncode = self._process.wait()
        log = self._read_log()
        ffmpeg.raise_if_killed(returncode, log, f"encoding {self.path}")
        if returncode != 0:
            raise V2VError(f"{self.path}: encoding failed ({ffmpeg.last_error(log)})")
        if self.audio_from is not None and ffmpeg.audio_codec(self.audio_from):
            with atomic_path(self.path) as final:
                mux_audio(self._temporary, self.audio_from, final, self.frames_written / float(self.fps),
                          self.container)
            remove(self._temporary)
        else:
            commit(self._temporary, self.path)

    def abort(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._log is not None and not self._log.closed:
            self._log.close()
        super().abort()

    def _read_log(self) -> str:
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        self._log.close()
        return text


# x264 on RGB at qp 0: exact pixels, for intermediates (High 4:4:4 Predictive; ffmpeg-based players only).
_X264_LOSSLESS = ["-c:v", "libx264rgb", "-qp", "0", "-pix_fmt", "rgb24"]


class H264Writer(EncodedWriter):
    """H.264 at constant quality `crf`. yuv420p, which every player takes, halves the colour resolution and
    so needs even sides; a frame with an odd side is encoded yuv444p (High 4:4:4) to keep its exact size.
    NVENC (`encoder`): its constant-quality mode with `crf` as the quality target (-cq, the same 0-51
    scale) at preset p4, its middle speed/quality trade-off; x264's `preset` does not apply to it."""

    suffixes = (".mp4", ".mkv")

    def codec_args(self, width: int, height: int) -> list[str]:
        if self.lossless:
            return [*_X264_LOSSLESS, "-preset", self.preset]
        pixel_format = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        if h264_encoder(self.encoder, width, height, self.lossless) == NVENC:
            profile = ["-profile:v", "high444p"] if pixel_format == "yuv444p" else []
            return ["-c:v", NVENC, "-preset", "p4", "-rc", "vbr", "-cq", str(self.crf), "-b:v", "0", *profile,
                    "-pix_fmt", pixel_format]
        return ["-c:v", X264, "-crf", str(self.crf), "-preset", self.preset, "-pix_fmt", pixel_format]


class ProResWriter(EncodedWriter):
    """ProRes 422 HQ (profile 3, 10-bit 4:2:2), the editing format; its quality is set by the profile, so
    `crf` and `preset` do not apply. FFmpeg's `prores` encoder: 6x faster than `prores_ks` at the same size
    and quality (docs/io.md), but it takes even widths only; an odd width is ProRes 4444 (profile 4, 4:4:4)
    from `prores_ks`, since 4:2:2 halves the colour columns and decoders garble the last one. Lossless:
    H.264 RGB, which a .mov holds too."""

    suffixes = (".mov",)

    def codec_args(self, width: int, height: int) -> list[str]:
        if self.lossless:
            return [*_X264_LOSSLESS, "-preset", self.preset]
        if width % 2:
            return ["-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuv444p10le"]
        return ["-c:v", "prores", "-profile:v", "3", "-pix_fmt", "yuv422p10le"]


class Vp9Writer(EncodedWriter):
    """VP9 at constant quality `crf` (0-63), libvpx's "good" deadline at its fastest speed (cpu-used 5) with
    row multithreading; `preset` does not apply. Lossless: VP9's lossless mode on planar RGB."""

    suffixes = (".webm",)
    max_crf = 63

    def codec_args(self, width: int, height: int) -> list[str]:
        speed = ["-deadline", "good", "-cpu-used", "5", "-row-mt", "1"]
        if self.lossless:
            return ["-c:v", "libvpx-vp9", "-lossless", "1", *speed, "-pix_fmt", "gbrp"]
        return ["-c:v", "libvpx-vp9", "-crf", str(self.crf), "-b:v", "0", *speed, "-pix_fmt", "yuv420p"]


class FrameFolderWriter(VideoWriter):
    """A folder of numbered PNG frames (000000.png, ...), lossless; no audio, and `fps` is not recorded."""

    suffixes = (FOLDER,)

    def _start(self, width: int, height: int) -> None:
        self.codec = "png"
        self._temporary.mkdir()

    def _write(self, frame: np.ndarray) -> None:
        from v2vcli.io.frames import FRAME_NAME, write_image

        write_image(self._temporary / FRAME_NAME.format(self.frames_written), frame)

    def _finish(self) -> None:
        commit(self._temporary, self.path)

