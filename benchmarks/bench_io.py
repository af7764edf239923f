"""Decode + encode through v2vcli.io against the bundled ffmpeg doing the same transcode alone.

    python benchmarks/bench_io.py [--frames 600] [--size 640x360] [--repeats 3]
    python benchmarks/bench_io.py --memory [--frames 600] [--size 640x360]

Both sides decode the same H.264 file (ffmpeg's testsrc2 pattern) and encode H.264 yuv420p at crf 18,
preset medium. The ratio is ffmpeg-alone time over v2v time (1.0 = no overhead; higher is better).
After one warm-up of each, the two run alternately; best and median of --repeats rounds.
`--memory` instead compares the peak resident memory of a read+write pass over a clip of --frames
frames and one 10 times longer, each in a fresh process (Python and the largest ffmpeg process).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

if not __package__:  # run as `python benchmarks/bench_io.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.harness import Stage, Trial, Workload, measure  # noqa: E402
from benchmarks.memory import ChildPeak, peak_rss_mib  # noqa: E402


def through_v2v(source: Path, output: Path) -> None:
    """Transcode as a v2v command does: one probe, the streaming reader, the writer."""
    from v2vcli.io.video import VideoReader, VideoWriter

    reader = VideoReader(source)
    with VideoWriter(output, reader.info.fps, crf=18) as writer:
        writer.write_all(reader)


def ffmpeg_alone(source: Path, output: Path) -> None:
    """The bundled ffmpeg doing the same transcode by itself (no pixel-format round trip)."""
    from v2vcli.io.ffmpeg import run_ffmpeg

    run_ffmpeg(["-i", str(source), "-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p",
                "-an", "-y", str(output)])


def transcode_trial(source: Path, output: Path) -> Trial:
    """`source` transcoded into the folder `output`: v2v.mp4 by v2v, ffmpeg.mp4 by ffmpeg alone."""
    output.mkdir(exist_ok=True)
    return Trial(inputs.frame_count(source), partial(through_v2v, source, output / "v2v.mp4"),
                 lambda: partial(ffmpeg_alone, source, output / "ffmpeg.mp4"))


STAGE = Stage(
    name="decode+encode", pipeline="v2vcli.io VideoReader -> VideoWriter (H.264 crf 18)",
    limit="ffmpeg alone, same transcode", full=Workload(frames=480, rounds=3), quick=Workload(frames=48, rounds=1),
    inputs=inputs.target_clip, trial=inputs.on_target_clip(transcode_trial, "io"), target=0.80)


# ---------------------------------------------------------------- the command line

def make_source(path: Path, frames: int, width: int, height: int) -> None:
    from v2vcli.io.ffmpeg import run_ffmpeg

    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30", "-frames:v", str(frames),
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", str(path)])


def pass_memory(frames: int, width: int, height: int) -> dict:
    """Peak memory (MiB) of one read+write pass, this process and its largest ffmpeg; run it in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.mp4"
        make_source(source, frames, width, height)
        before = peak_rss_mib()
        with ChildPeak() as children:
            through_v2v(source, Path(folder) / "out.mp4")
        return {"frames": frames, "python_before": before, "python": peak_rss_mib(), "ffmpeg": children.peak_mib}


def memory_report(frames: int, size: str) -> None:
    results = []
    for count in (frames, frames * 10):
        done = subprocess.run([sys.executable, __file__, "--child-memory", str(count), "--size", size],
                              capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.splitlines()[-1]))
    print(f"peak resident memory of a read+write pass, {size} (MiB)")
    for result in results:
        print(f"  {result['frames']:>6} frames: python {result['python']:6.1f} "
              f"(after imports {result['python_before']:.1f}), largest ffmpeg {result['ffmpeg']:6.1f}")
    short, long = results
    print(f"  ratio 10x longer / short: python {long['python'] / short['python']:.2f}, "
          f"ffmpeg {long['ffmpeg'] / short['ffmpeg']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="peak memory of a pass, short clip vs 10x longer")
    parser.add_argument("--child-memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    if args.child_memory:
        print(json.dumps(pass_memory(args.child_memory, width, height)))
        return
    if args.memory:
        memory_report(args.frames, args.size)
        return
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.mp4"
        make_source(source, args.frames, width, height)
        result = measure(transcode_trial(source, Path(folder)), args.repeats)
    print(f"decode+encode {args.frames} frames {width}x{height} (best of {args.repeats})")
    for name, side in (("v2vcli.io", "pipeline"), ("ffmpeg alone", "limit")):
        print(f"  {name:<13} {min(result.seconds[side]):7.2f} s  {result.best_rate(side):7.1f} fps")
    print(f"  ratio (ffmpeg time / v2v time): {result.best_rate() / result.best_rate('limit'):.2f}  "
          f"(median runs: {result.ratio:.2f})")


if __name__ == "__main__":
    main()
