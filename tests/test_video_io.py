"""Streaming video I/O: probing, reading, writing, muxing, frame folders."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import encode, moving_photo
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.errors import BadInput, V2VError
from v2vcli.io.ffmpeg import ffmpeg_exe, raise_if_killed
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


@pytest.mark.slow
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


def test_writer_keeps_odd_sizes_and_lossless_keeps_exact_pixels(tmp_path):
    frames = [np.random.default_rng(i).integers(0, 256, (63, 97, 3), dtype=np.uint8) for i in range(4)]
    with VideoWriter(tmp_path / "odd.mp4", 10) as writer:
        writer.write_all(frames)
    info = probe_video(tmp_path / "odd.mp4")
    assert (info.width, info.height, info.frame_count) == (97, 63, 4)
    for original, written in zip(frames, read_frames(tmp_path / "odd.mp4"), strict=True):
        assert np.abs(original.astype(np.int16) - written).mean() < 12  # noise is the hardest content for x264

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


@pytest.mark.slow
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


def test_reader_yields_what_a_truncated_file_holds_and_says_what_was_lost(tmp_path, example_target, capfd):
    half = tmp_path / "half.mp4"
    half.write_bytes(example_target.read_bytes()[: example_target.stat().st_size // 2])
    info = probe_video(half)
    full = probe_video(example_target)
    assert info.truncated and info.expected_frame_count == full.frame_count
    reader = VideoReader(half, info=info)
    frames = list(reader)
    assert 0 < len(frames) == len(reader) == reader.frames_read < full.frame_count
    # The cut may fall inside the last frame's packet: that frame is decoded as far as its data goes (as
    # players show it), so only the frames before it are compared.
    for original, decoded in zip(read_frames(example_target), frames[:-1], strict=False):
        np.testing.assert_array_equal(original, decoded)
    warnings = [line for line in capfd.readouterr().err.splitlines() if line]
    assert warnings == [f"warning: {half}: decoding stopped at frame {len(frames)} of {full.frame_count} "
                        f"(truncated file?); using the {len(frames)} frames that decode"]


def ffmpeg_children(pid: int | str = "self") -> list[int]:
    """The ffmpeg processes a process has started."""
    tasks = Path(f"/proc/{pid}/task").glob("*/children")
    children = [int(child) for task in tasks for child in task.read_text().split()]
    return [child for child in children if b"ffmpeg" in Path(f"/proc/{child}/cmdline").read_bytes()]


KILLED = [(signal.SIGINT, None), (signal.SIGTERM, "signal 15 (SIGTERM)"), (signal.SIGKILL, "signal 9 (SIGKILL)")]


@pytest.mark.parametrize(("signal_number", "message"), KILLED, ids=[s.name for s, _ in KILLED])
def test_a_killed_decoder_is_an_interruption_or_a_kill_not_a_bad_file(tmp_path, signal_number, message):
    source = encode(tmp_path / "in.mp4", moving_photo(320, 240, 120), 320, 240, "24",
                    ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
    frames = iter(VideoReader(source, prefetch=2))
    next(frames)
    (decoder,) = ffmpeg_children()
    os.kill(decoder, signal_number)
    with pytest.raises(KeyboardInterrupt if message is None else V2VError) as error:
        for _ in frames:
            pass
    if message is not None:
        assert not isinstance(error.value, BadInput)
        assert f"the ffmpeg process decoding {source} was killed by {message}" == str(error.value)


# What the bundled ffmpeg printed when SIGINT or SIGTERM came while it was still opening its input (1000 runs
# signalled 0-30 ms after start: most died of it or stopped with 255, some exited with the failed open's
# status, 183, or with 0).
OPEN_ERROR = ("[in#0 @ 0x5] [error] moov atom not found\n"
              "[fatal] Error opening input files: Invalid data found when processing input\n")
SIGNALLED_WHILE_OPENING = [(255, OPEN_ERROR, signal.SIGINT), (183, OPEN_ERROR, signal.SIGINT),
                           (0, "[error] Error opening input file in.mp4.\n", signal.SIGINT),
                           (183, OPEN_ERROR, signal.SIGTERM)]


@pytest.mark.parametrize(("returncode", "log", "signal_number"), SIGNALLED_WHILE_OPENING)
def test_a_signal_that_stops_ffmpeg_while_it_opens_its_input_is_not_blamed_on_the_file(returncode, log,
                                                                                        signal_number):
    log += f"[info] Exiting normally, received signal {int(signal_number)}.\n"
    if signal_number == signal.SIGINT:
        with pytest.raises(KeyboardInterrupt):
            raise_if_killed(returncode, log, "decoding in.mp4")
    else:
        with pytest.raises(V2VError, match=r"^the ffmpeg process decoding in.mp4 was killed by signal 15 \(SIGTERM\)$"):
            raise_if_killed(returncode, log, "decoding in.mp4")
    raise_if_killed(183, OPEN_ERROR, "decoding in.mp4")  # the same failure without the line is the file's


@pytest.mark.parametrize(("signal_number", "message"), KILLED, ids=[s.name for s, _ in KILLED])
def test_a_killed_encoder_is_an_interruption_or_a_kill_and_leaves_nothing(tmp_path, signal_number, message):
    output = tmp_path / "out.mp4"
    frame = np.zeros((240, 320, 3), np.uint8)
    with pytest.raises(KeyboardInterrupt if message is None else V2VError) as error, \
            VideoWriter(output, 24) as writer:
        writer.write(frame)
        (encoder,) = ffmpeg_children()
        os.kill(encoder, signal_number)
        for _ in range(200):
            writer.write(frame)
    if message is not None:
        assert str(error.value) == f"the ffmpeg process encoding {output} was killed by {message}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_reaching_the_decoder_first_is_reported_as_an_interruption(tmp_path):
    source = encode(tmp_path / "in.mp4", moving_photo(320, 240, 240), 320, 240, "24",
                    ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
    output = tmp_path / "flow"
    command = subprocess.Popen([sys.executable, "-m", "v2vcli", "flow", str(source), "-o", str(output), "--quiet"],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (readers := [pid for pid in ffmpeg_children(command.pid)
                           if b"-fps_mode" in Path(f"/proc/{pid}/cmdline").read_bytes()]):
        assert time.monotonic() < deadline and command.poll() is None
        time.sleep(0.05)
    os.kill(readers[0], signal.SIGINT)
    _, stderr = command.communicate(timeout=60)
    assert command.returncode == 130 and stderr.startswith("error: interrupted"), stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.mp4"]


def test_frames_that_do_not_decode_are_skipped_with_one_warning(tmp_path, capfd):
    stream = encode(tmp_path / "clip.h264", moving_photo(96, 64, 24), 96, 64, "24",
                    ["-c:v", "libx264", "-g", "12", "-x264-params", "bframes=0:scenecut=0", "-f", "h264"])
    data = stream.read_bytes()
    # Without the first keyframe, the 11 frames that refer to it cannot be decoded; the next 12 can.
    starts = [match.start() for match in re.finditer(b"\x00\x00\x01", data)]
    keyframe = next(start for start in starts if data[start + 3] & 0x1F == 5)
    broken = tmp_path / "no-keyframe.h264"
    broken.write_bytes(data[:keyframe] + data[next(start for start in starts if start > keyframe):])
    reader = VideoReader(broken)
    frames = list(reader)
    assert len(reader) == 23 and len(frames) == reader.frames_read == 12
    assert capfd.readouterr().err == (f"warning: {broken}: 11 of 23 frames could not be decoded (damaged file?); "
                                      "using the 12 frames that decode\n")
