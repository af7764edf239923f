"""Outputs chosen by the output path: .mp4/.mkv (H.264), .mov (ProRes), .webm (VP9), a folder of PNG frames."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import encode, moving_photo
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.errors import BadInput
from v2vcli.io.ffmpeg import read_header
from v2vcli.io.frames import read_frame_folder
from v2vcli.io.video import VideoWriter, probe_video, read_frames
from v2vcli.io.writers import FrameFolderWriter, H264Writer, ProResWriter, Vp9Writer

# suffix -> (writer, codec, pixel format in ffmpeg's header, audio codec from an AAC source)
FORMATS = {
    ".mp4": (H264Writer, "h264", "yuv420p", "aac"),
    ".mkv": (H264Writer, "h264", "yuv420p", "aac"),
    ".mov": (ProResWriter, "prores", "yuv422p10le", "aac"),
    ".webm": (Vp9Writer, "vp9", "yuv420p", "opus"),
}


def frames(width: int = 96, height: int = 64, count: int = 12) -> list[np.ndarray]:
    return list(moving_photo(width, height, count))


def written(path) -> list[np.ndarray]:
    return list(read_frame_folder(path) if path.is_dir() else read_frames(path))


def mean_error(originals, copies) -> float:
    return float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(originals, copies, strict=True)]))


@pytest.mark.parametrize("suffix", FORMATS)
def test_each_video_suffix_gets_its_codec_pixel_format_and_audio(tmp_path, short_clip, suffix):
    writer_type, codec, pixel_format, audio = FORMATS[suffix]
    output = tmp_path / f"out{suffix}"
    with VideoWriter(output, 24, audio_from=short_clip) as writer:
        assert type(writer) is writer_type
        writer.write_all(frames())
    info = probe_video(output)
    assert (info.codec, info.width, info.height, info.frame_count, info.fps) == (codec, 96, 64, 12, 24)
    assert info.audio_codec == audio
    assert f"{pixel_format}(" in read_header(output).split("Video:")[1].splitlines()[0]
    assert mean_error(frames(), written(output)) < 4
    assert sorted(path.name for path in tmp_path.iterdir()) == [output.name]


@pytest.mark.parametrize("path_text", ["frames", "frames/"])
def test_a_path_without_suffix_or_ending_in_a_slash_is_a_folder_of_png_frames(tmp_path, short_clip, path_text):
    output = tmp_path / "frames"
    with VideoWriter(f"{tmp_path}/{path_text}", 24, audio_from=short_clip) as writer:
        assert type(writer) is FrameFolderWriter
        writer.write_all(frames())
    assert sorted(path.name for path in output.iterdir()) == [f"{index:06d}.png" for index in range(12)]
    assert mean_error(frames(), written(output)) == 0


def test_an_existing_folder_is_replaced_by_the_frames(tmp_path):
    output = tmp_path / "out.v1"
    output.mkdir()
    (output / "old.txt").write_text("old")
    with VideoWriter(output, 24) as writer:
        writer.write_all(frames(count=2))
    assert sorted(path.name for path in output.iterdir()) == ["000000.png", "000001.png"]


@pytest.mark.parametrize("suffix", [*FORMATS, ""])
def test_lossless_keeps_exact_pixels_at_odd_sizes(tmp_path, suffix):
    originals = [np.random.default_rng(index).integers(0, 256, (35, 47, 3), dtype=np.uint8) for index in range(3)]
    output = tmp_path / f"exact{suffix}"
    with VideoWriter(output, 10, lossless=True) as writer:
        writer.write_all(originals)
    copies = written(output)
    assert len(copies) == 3
    for original, copy in zip(originals, copies, strict=True):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize("suffix", FORMATS)
def test_odd_sizes_keep_their_exact_size(tmp_path, suffix):
    output = tmp_path / f"odd{suffix}"
    with VideoWriter(output, 24) as writer:
        writer.write_all(frames(97, 63, 4))
    info = probe_video(output)
    assert (info.width, info.height, info.frame_count) == (97, 63, 4)
    assert mean_error(frames(97, 63, 4), written(output)) < 4


def test_unknown_suffix_is_one_error_listing_the_supported_ones(tmp_path):
    with pytest.raises(BadInput) as error:
        VideoWriter(tmp_path / "out.avi", 24)
    assert ".mp4" in str(error.value) and ".webm" in str(error.value) and "folder" in str(error.value)
    result = subprocess.run([sys.executable, "-m", "v2vcli", "mux", str(tmp_path / "in.mp4"), "--audio", "x",
                             "-o", str(tmp_path / "out.avi")], capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr.count("\n") == 1


@pytest.mark.parametrize("suffix", [*FORMATS, ""])
def test_an_error_while_writing_leaves_nothing(tmp_path, suffix):
    output = tmp_path / f"out{suffix}"
    with pytest.raises(RuntimeError), VideoWriter(output, 24) as writer:
        writer.write_all(frames(count=3))
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_each_container_copies_the_audio_it_takes_and_encodes_the_rest(tmp_path):
    mp2_source = encode(tmp_path / "mp2.mpg", moving_photo(96, 64, 12), 96, 64, "24", ["-c:v", "mpeg2video"],
                        audio=True, audio_seconds=0.5)
    assert probe_video(mp2_source).audio_codec == "mp2"
    for suffix, expected in {".mkv": "mp2", ".mp4": "aac", ".mov": "aac", ".webm": "opus"}.items():
        output = tmp_path / f"out{suffix}"
        with VideoWriter(output, 24, audio_from=mp2_source) as writer:
            writer.write_all(frames())
        assert probe_video(output).audio_codec == expected, suffix


def test_mux_writes_the_container_of_the_output_suffix(tmp_path, short_clip, silent_clip):
    output = tmp_path / "muxed.mkv"
    result = CliRunner().invoke(app, ["mux", str(silent_clip), "--audio", str(short_clip), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "Input #0, matroska" in read_header(output)
    assert probe_video(output).has_audio


@pytest.mark.slow
def test_generate_and_dance_write_the_format_the_output_path_names(tmp_path, example_source):
    """Through the command line with the shipped demo model: .mov, .webm and a frame folder."""
    source = tmp_path / "source.mp4"
    subprocess.run([sys.executable, "-c", "from v2vcli.io.ffmpeg import run_ffmpeg; import sys; run_ffmpeg(['-i', "
                    "sys.argv[1], '-frames:v', '8', '-c:v', 'libx264', '-c:a', 'aac', '-shortest', sys.argv[2]])",
                    str(example_source), str(source)], check=True)
    runner = CliRunner()
    for command, output, codec, audio in [
        (["generate", source, "--from", "pose", "--model", "demo"], tmp_path / "generated.mov", "prores", "aac"),
        (["dance", "--source", source, "--target", "demo"], tmp_path / "dance.webm", "vp9", "opus"),
    ]:
        result = runner.invoke(app, [*map(str, command), "-o", str(output), "--quiet"])
        assert result.exit_code == 0, result.output
        info = probe_video(output)
        assert (info.codec, info.audio_codec, info.frame_count, info.fps) == (codec, audio, 8, probe_video(source).fps)
    result = runner.invoke(app, ["dance", "--source", str(source), "--target", "demo", "-o", f"{tmp_path}/frames/",
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "frames").glob("*.png"))) == 8
