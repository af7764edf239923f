"""Streaming video I/O: probing, reading, writing, muxing, frame folders."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from conftest import encode, moving_photo
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.errors import BadInput
from v2vcli.io.ffmpeg import ffmpeg_exe
from v2vcli.io.frames import read_frame_folder, write_frame_folder
from v2vcli.io.video import VideoReader, VideoWriter, probe_video, read_frames

CODECS = [
    ("h264.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], "30000/1001", "h264"),
    ("mpeg4.avi", ["-c:v", "mpeg4", "-q:v", "3"], "25", "mpeg4"),
    ("msmpeg4.avi", ["-c:v", "msmpeg4v2", "-q:v", "3"], "15", "msmpeg4v2"),
    ("mjpeg.avi", ["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"], "24", "mjpeg"),
    ("mpeg2.mpg", ["-c:v", "mpeg2video", "-q:v", "3"], "30000/1001", "mpeg2video"),
]


@pytest.mark.parametrize("audio", [False, True], ids=["silent", "audio"])
@pytest.mark.parametrize(("name", "args", "fps", "codec"), CODECS, ids=[c[0] for c in CODECS])
def test_info_reports_size_fps_frames_and_audio(tmp_path, name, args, fps, codec, audio):
    path = encode(tmp_path / name, moving_photo(160, 120, 30), 160, 120, fps, args, audio=audio,
                  audio_seconds=float(30 / Fraction(fps)))
    info = probe_video(path)
    assert (info.width, info.height) == (160, 120)
    assert info.fps == Fraction(fps)
    # AVI files may hold empty "repeat the previous frame" chunks next to the audio; they are not frames.
    assert info.frame_count == 30 == len(list(read_frames(path)))
    assert info.frame_count_exact
    assert info.codec == codec
    assert info.has_audio is audio

    result = CliRunner().invoke(app, ["info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["frame_count"] == 30
    assert Fraction(data["fps_fraction"]) == Fraction(fps)
    assert data["width"] == 160 and data["has_audio"] is audio


def test_long_avi_round_trip_keeps_frames_fps_and_pixels(tmp_path):
    source = encode(tmp_path / "long.avi", moving_photo(768, 576, 795), 768, 576, "25",
                    ["-c:v", "mpeg4", "-q:v", "2"])
    copy = tmp_path / "copy.mp4"
    with VideoWriter(copy, probe_video(source).fps) as writer:
        writer.write_all(read_frames(source))
    info = probe_video(copy)
    assert info.frame_count == 795 and info.fps == 25
    total, count = 0.0, 0
    for original, written in zip(read_frames(source), read_frames(copy), strict=True):
        total += np.abs(original.astype(np.int16) - written).mean()
        count += 1
    assert count == 795
    assert total / count < 3


def test_writer_pads_odd_sizes_and_lossless_keeps_exact_pixels(tmp_path):
    frames = [np.random.default_rng(i).integers(0, 256, (63, 97, 3), dtype=np.uint8) for i in range(4)]
    with VideoWriter(tmp_path / "odd.mp4", 10) as writer:
        writer.write_all(frames)
    info = probe_video(tmp_path / "odd.mp4")
    assert (info.width, info.height, info.frame_count) == (98, 64, 4)

    with VideoWriter(tmp_path / "exact.mp4", 10, lossless=True) as writer:
        writer.write_all(frames)
    decoded = list(read_frames(tmp_path / "exact.mp4"))
    assert len(decoded) == 4
    for original, written in zip(frames, decoded, strict=True):
        np.testing.assert_array_equal(original, written)


def test_writer_leaves_nothing_when_interrupted(tmp_path):
    output = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoWriter(output, 24) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8))
        assert not output.exists()  # only the temporary file exists while writing
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_writer_muxes_audio_from_a_source(tmp_path, short_clip, silent_clip):
    for audio_source, expected in [(short_clip, True), (silent_clip, False)]:
        output = tmp_path / f"with-{audio_source.stem}.mp4"
        with VideoWriter(output, 24, audio_from=audio_source) as writer:
            writer.write_all(read_frames(short_clip))
        info = probe_video(output)
        assert info.has_audio is expected and info.frame_count == 12


def stream_hash(path, stream: str) -> str:
    result = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-c", "copy",
                             "-f", "streamhash", "-hash", "md5", "-"], capture_output=True, text=True, check=True)
    return result.stdout.split("=")[-1].strip()


def test_mux_copies_the_video_stream_bit_for_bit(tmp_path, short_clip, silent_clip):
    output = tmp_path / "muxed.mp4"
    result = CliRunner().invoke(app, ["mux", str(silent_clip), "--audio", str(short_clip), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert stream_hash(output, "v") == stream_hash(silent_clip, "v")
    assert probe_video(output).has_audio
    assert probe_video(output).frame_count == 12

    again = CliRunner().invoke(app, ["mux", str(silent_clip), "--audio", str(short_clip), "-o", str(output)])
    assert again.exit_code == 1 and "--overwrite" in again.stderr


def test_reader_memory_does_not_grow_with_length(tmp_path):
    script = """
import resource, sys
from v2vcli.io.video import VideoWriter, read_frames
with VideoWriter(sys.argv[2], 24) as writer:
    writer.write_all(read_frames(sys.argv[1]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    peaks = []
    for frames in (40, 400):
        source = encode(tmp_path / f"in{frames}.mp4", moving_photo(320, 240, frames), 320, 240, "24",
                        ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
        out = subprocess.run([sys.executable, "-c", script, str(source), str(tmp_path / f"out{frames}.mp4")],
                             capture_output=True, text=True, check=True)
        peaks.append(int(out.stdout))
    assert peaks[1] <= 1.15 * peaks[0], peaks


def test_frame_folder_round_trip(tmp_path):
    frames = [np.full((8, 10, 3), value, np.uint8) for value in (0, 100, 200)]
    assert write_frame_folder(tmp_path, frames) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    for original, read in zip(frames, read_frame_folder(tmp_path), strict=True):
        np.testing.assert_array_equal(original, read)


def test_reader_reports_truncated_file(tmp_path, example_target):
    half = tmp_path / "half.mp4"
    half.write_bytes(example_target.read_bytes()[: example_target.stat().st_size // 2])
    with pytest.raises(BadInput, match="truncated or damaged"):
        VideoReader(half)
