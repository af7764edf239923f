"""Which H.264 encoder writes a video: x264 on the CPU, or NVENC on an NVIDIA GPU.

`auto` takes NVENC when the bundled ffmpeg lists h264_nvenc AND encodes a one-frame trial with it (a
listed encoder still needs an NVIDIA driver and a GPU with free NVENC sessions), found out once a
process; x264 otherwise, and always for lossless output and odd frame sizes (NVENC's 4:2:0 needs even
sides; x264 keeps them in 4:4:4). NVENC frees the CPU cores x264 needs at high resolutions.
"""

from __future__ import annotations

import functools
import subprocess

from v2vcli.errors import BadInput
from v2vcli.io import ffmpeg

ENCODERS = ("auto", "x264", "nvenc")
X264, NVENC = "libx264", "h264_nvenc"


@functools.cache
def nvenc_available() -> bool:
    """Whether the bundled ffmpeg lists h264_nvenc and encodes one 256x256 frame with it on this machine."""
    executable = ffmpeg.ffmpeg_exe()
    try:
        listed = subprocess.run([executable, "-hide_banner", "-encoders"], capture_output=True, text=True,
                                timeout=30)
        if NVENC not in listed.stdout:
            return False
        trial = subprocess.run([executable, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                                "color=c=gray:s=256x256:r=1", "-frames:v", "1", "-c:v", NVENC, "-f", "null", "-"],
                               capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return trial.returncode == 0


def check_encoder(request: str) -> str:
    """`request` (auto, x264, nvenc) checked before any work: BadInput for an unknown name, or nvenc where
    this machine cannot encode with it."""
    if request not in ENCODERS:
        raise BadInput(f"--encoder {request!r}: choose one of {', '.join(ENCODERS)}")
    if request == "nvenc" and not nvenc_available():
        raise BadInput("--encoder nvenc: the bundled ffmpeg cannot encode with h264_nvenc on this machine (no "
                       "NVIDIA GPU or driver with NVENC); use --encoder x264")
    return request


def h264_encoder(request: str, width: int, height: int, lossless: bool) -> str:
    """The ffmpeg encoder (X264 or NVENC) for an H.264 video of this size, as the module docstring says."""
    if lossless or request == "x264":
        return X264
    if request == "nvenc":
        return NVENC
    return NVENC if width % 2 == 0 and height % 2 == 0 and nvenc_available() else X264
