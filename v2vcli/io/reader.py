"""Streaming video reading: frames are RGB uint8 arrays of shape (H, W, 3), upright, every one the file holds.

One ffmpeg process decodes into a pipe and a thread keeps a few frames ready, so decoding overlaps the
caller's work and memory stays flat whatever the video's length.
"""

from __future__ import annotations

import queue
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.io import ffmpeg
from v2vcli.io.damage import decoding_loss, warn
from v2vcli.io.probe import VideoInfo, probe_video


class VideoReader:
    """Iterate over the frames of a video file as RGB uint8 arrays (H, W, 3) of `info.height` x `info.width`.

    Frames come upright (ffmpeg applies the display rotation, as players do) and all of them, in
    presentation order (`-fps_mode passthrough`: none duplicated or dropped, whatever the timestamps).
    `len(reader)` is the count the file holds; after a complete pass `frames_read` is the count that
    decoded. A file that stops early or has frames that do not decode yields what decodes and says what
    was lost in one `warning:` line on stderr; one where nothing decodes raises BadInput. An ffmpeg process
    stopped by Ctrl-C raises KeyboardInterrupt, by another signal V2VError.
    """

    def __init__(self, path: Path | str, prefetch: int = 8, info: VideoInfo | None = None):
        self.path = Path(path)
        self.info = info or probe_video(self.path)
        self.prefetch = prefetch
        self.frames_read: int | None = None

    def __len__(self) -> int:
        return self.info.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        frames: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        log = tempfile.TemporaryFile()
        # `-s`: the decoded size is known in advance (upright); a stream that changes size mid-way is scaled
        # to it rather than misread.
        process = subprocess.Popen(
            [ffmpeg.ffmpeg_exe(), *ffmpeg.LOG_ARGS, "-i", str(self.path), "-map", "0:v:0", "-fps_mode", "passthrough",
             "-s", f"{self.info.width}x{self.info.height}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            stdout=subprocess.PIPE,
            stderr=log,
            # Its own process group: a terminal's Ctrl-C reaches v2v alone, which stops its children itself.
            process_group=0,
        )
        thread = threading.Thread(target=self._decode, args=(process, frames, stop), daemon=True)
        thread.start()
        decoded = 0
        try:
            while (item := frames.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                decoded += 1
                yield item
            process.wait()
            log.seek(0)
            self._finish(process.returncode, log.read().decode(errors="replace"), decoded)
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
            log.close()

    def _finish(self, returncode: int, log: str, decoded: int) -> None:
        """After the last frame: blame a signal, not the file; refuse a file where nothing decodes; say losses."""
        ffmpeg.raise_if_killed(returncode, log, f"decoding {self.path}")
        if decoded == 0:
            raise BadInput(f"{self.path}: cannot decode any frame ({ffmpeg.last_error(log)})")
        self.frames_read = decoded
        if loss := decoding_loss(self.info, decoded):
            warn(loss)

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
                if filled < frame_bytes:  # the end, or a decoder that died mid-frame (its exit status says)
                    break
                frames.put(np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3))
        except BaseException as error:  # handed to the consumer, which raises it
            frames.put(error)
            return
        frames.put(None)


def read_frames(path: Path | str) -> Iterator[np.ndarray]:
    """The frames of a video file, one at a time, as RGB uint8 arrays (H, W, 3)."""
    return iter(VideoReader(path))
