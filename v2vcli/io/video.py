"""Streaming video reading and writing: frames are RGB uint8 arrays of shape (H, W, 3).

Memory stays bounded whatever the video's length: the reader keeps a small queue of decoded frames
(decoding overlaps with the caller's work), the writer pipes each frame to ffmpeg as it comes.
"""

from __future__ import annotations

import queue
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput, V2VError
from v2vcli.io import ffmpeg
from v2vcli.io.outputs import atomic_path, remove, temporary_sibling

PREVIEW_PRESET = "veryfast"


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. `frame_count_exact` is False when the count is fps x duration."""

    path: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    frame_count_exact: bool
    duration: float
    codec: str
    has_audio: bool
    audio_codec: str | None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["fps"] = float(self.fps)
        data["fps_fraction"] = f"{self.fps.numerator}/{self.fps.denominator}"
        return data


def probe_video(path: Path | str, exact: bool = True) -> VideoInfo:
    """Describe a video file. With `exact`, the frame count comes from demuxing the whole stream
    (fast, no decoding); otherwise it is estimated from the duration."""
    path = Path(path)
    header = ffmpeg.probe(path)
    fps = header["fps"]
    if fps is None or fps <= 0:
        raise BadInput(f"{path}: the video stream has no frame rate")
    duration = header["duration"] or 0.0
    if exact:
        frame_count, demuxed_seconds = ffmpeg.count_frames(path)
        duration = duration or demuxed_seconds
    else:
        frame_count = round(duration * fps)
    if frame_count == 0:
        raise BadInput(f"{path}: the video stream has no frames")
    return VideoInfo(
        path=str(path),
        width=header["width"],
        height=header["height"],
        fps=fps,
        frame_count=frame_count,
        frame_count_exact=exact,
        duration=duration,
        codec=header["codec"],
        has_audio=header["audio_codec"] is not None,
        audio_codec=header["audio_codec"],
    )


class VideoReader:
    """Iterate over the frames of a video file as RGB uint8 arrays (H, W, 3).

    A background thread decodes up to `prefetch` frames ahead. A file that ends early or fails to
    decode raises BadInput when the iteration reaches the problem.
    """

    def __init__(self, path: Path | str, prefetch: int = 8, info: VideoInfo | None = None):
        self.path = Path(path)
        self.info = info or probe_video(self.path)
        self.prefetch = prefetch

    def __len__(self) -> int:
        return self.info.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        frames: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        stderr = tempfile.TemporaryFile()
        process = subprocess.Popen(
            [ffmpeg.ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(self.path),
             "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        thread = threading.Thread(target=self._decode, args=(process, frames, stop), daemon=True)
        thread.start()
        try:
            while (item := frames.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
            process.wait()
            stderr.seek(0)
            message = stderr.read().decode(errors="replace")
            if process.returncode != 0:
                raise BadInput(f"{self.path}: cannot decode ({ffmpeg.last_error_line(message)})")
        finally:
            stop.set()
            if process.poll() is None:
                process.kill()
            while thread.is_alive():
                try:
                    frames.get_nowait()
                except queue.Empty:
                    thread.join(0.05)
            process.wait()
            stderr.close()

    def _decode(self, process: subprocess.Popen, frames: queue.Queue, stop: threading.Event) -> None:
        height, width = self.info.height, self.info.width
        frame_bytes = width * height * 3
        try:
            while not stop.is_set():
                buffer = bytearray(frame_bytes)
                view = memoryview(buffer)
                filled = 0
                while filled < frame_bytes:
                    count = process.stdout.readinto(view[filled:])
                    if not count:
                        break
                    filled += count
                if filled == 0:
                    break
                if filled < frame_bytes:
                    raise BadInput(f"{self.path}: the last frame is incomplete (truncated file?)")
                frames.put(np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3))
        except BaseException as error:  # handed to the consumer, which raises it
            frames.put(error)
            return
        frames.put(None)


def read_frames(path: Path | str) -> Iterator[np.ndarray]:
    """The frames of a video file, one at a time, as RGB uint8 arrays (H, W, 3)."""
    return iter(VideoReader(path))


class VideoWriter:
    """Write RGB uint8 frames (H, W, 3) to an mp4, atomically.

    The file appears under its final name only when `close()` succeeds; on error (or an exception
    inside a `with` block) nothing is left behind. Default: H.264 yuv420p at constant quality `crf`
    (0-51, lower is better; 18 is visually lossless for most footage). yuv420p needs even sizes, so an
    odd width or height is padded by one replicated column or row. `lossless=True` writes RGB H.264
    at qp 0 (exact pixels, any size) for intermediates. `preset` is x264's speed/size trade-off
    (PREVIEW_PRESET for previews: about 3x less CPU than "medium" at the same quality, larger files).
    `audio_from` names a file whose first audio stream is put on the video (a file without audio
    leaves it silent).
    """

    def __init__(
        self,
        path: Path | str,
        fps: Fraction | float,
        crf: int = 18,
        lossless: bool = False,
        audio_from: Path | str | None = None,
        preset: str = "medium",
    ):
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
        if not 0 <= crf <= 51:
            raise BadInput(f"quality (crf) must be between 0 and 51, not {crf}")
        self.crf = crf
        self.lossless = lossless
        self.preset = preset
        self.audio_from = Path(audio_from) if audio_from else None
        self.frames_written = 0
        self.size: tuple[int, int] | None = None
        self._temporary = temporary_sibling(self.path)
        self._process: subprocess.Popen | None = None
        self._stderr = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def _start(self, width: int, height: int) -> None:
        self.size = (width, height)
        if self.lossless:
            codec = ["-c:v", "libx264rgb", "-qp", "0", "-pix_fmt", "rgb24", "-preset", self.preset]
        else:
            codec = ["-c:v", "libx264", "-crf", str(self.crf), "-pix_fmt", "yuv420p", "-preset", self.preset]
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [ffmpeg.ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
             "-r", f"{self.fps.numerator}/{self.fps.denominator}", "-i", "-",
             *codec, "-movflags", "+faststart", "-f", "mp4", str(self._temporary)],
            stdin=subprocess.PIPE,
            stderr=self._stderr,
        )

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame (H, W, 3); every frame must have the first one's size."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise V2VError(f"frames must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if not self.lossless:
            frame = pad_to_even(frame)
        height, width = frame.shape[:2]
        if self._process is None:
            self._start(width, height)
        elif (width, height) != self.size:
            raise V2VError(f"frame size {width}x{height} differs from the first frame's {self.size[0]}x{self.size[1]}")
        try:
            self._process.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        except BrokenPipeError:
            self.abort()
            raise V2VError(f"{self.path}: the encoder stopped ({self._error_message()})") from None
        self.frames_written += 1

    def write_all(self, frames: Iterable[np.ndarray]) -> int:
        for frame in frames:
            self.write(frame)
        return self.frames_written

    def close(self) -> None:
        """Finish encoding and move the file to its final name (muxing the audio if asked)."""
        if self._process is None:
            raise BadInput(f"{self.path}: no frames to write")
        self._process.stdin.close()
        if self._process.wait() != 0:
            message = self._error_message()
            self.abort()
            raise V2VError(f"{self.path}: encoding failed ({message})")
        self._stderr.close()
        try:
            with atomic_path(self.path) as final:
                if self.audio_from is not None and ffmpeg.audio_codec(self.audio_from):
                    ffmpeg.mux_audio(self._temporary, self.audio_from, final, self.frames_written / float(self.fps))
                else:
                    self._temporary.replace(final)
        finally:
            remove(self._temporary)

    def abort(self) -> None:
        """Stop the encoder and remove the partial file."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        remove(self._temporary)

    def _error_message(self) -> str:
        if self._stderr is None or self._stderr.closed:
            return "no message"
        self._stderr.seek(0)
        return ffmpeg.last_error_line(self._stderr.read().decode(errors="replace"))


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Replicate the last row/column so both sides are even (yuv420p subsamples colour by 2)."""
    height, width = frame.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return frame
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
