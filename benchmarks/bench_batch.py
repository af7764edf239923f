"""Several videos at once: `v2v prepare` on four short real clips with two worker processes against one
(the videos one after another in one process), measured alternately in one run.

    python benchmarks/bench_batch.py                           # 4 clips of 56 frames, 384x216, 3 rounds
    python benchmarks/bench_batch.py --clips 4 --frames 56 --size 384x216 --workers 2 --rounds 3

The clips are consecutive pieces of the sports2d footage (examples/footage.py: two people outdoors,
a panning camera), cut and scaled once. Both sides run prepare_dataset, the library call of `v2v prepare
CLIPS -o DATASET --workers N`, with its defaults (pose maps, masks, flow), and include what each worker
pays to start (a spawned interpreter, its imports, the models). In the run_all table the "limit" is the
one-worker run and the ratio is the speed-up; the target is 1.5x with two workers on two cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path

if not __package__:  # run as `python benchmarks/bench_batch.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_average  # noqa: E402
from benchmarks.harness import Setting, Size, Stage, Trial, Workload, measure  # noqa: E402
from benchmarks.inputs import kept  # noqa: E402

FOOTAGE = "sports2d"
CLIPS = 4
WORKERS = 2


def cut_clips(source: Path, folder: Path, count: int, frames: int, size: Size) -> list[Path]:
    """Write `count` consecutive pieces of `source`, `frames` frames each, scaled to `size` (W, H), as
    folder/clip_N.mp4 (`folder` is made); return their paths."""
    import cv2

    from v2vcli.io.video import VideoWriter, probe_video, read_frames

    info = probe_video(source)
    if info.frame_count < count * frames:
        raise ValueError(f"{source.name} has {info.frame_count} frames; {count} clips of {frames} need more")
    folder.mkdir()
    decoded = read_frames(source)
    paths = [folder / f"clip_{number}.mp4" for number in range(count)]
    for path in paths:
        with VideoWriter(path, info.fps) as writer:
            for _, frame in zip(range(frames), decoded, strict=False):
                writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    decoded.close()
    return paths


def footage_clips(setting: Setting) -> list[Path]:
    """The stage's clips at the setting's size, made once (the footage is fetched or read from its cache)."""
    from benchmarks.quality import load_footage

    def make(folder: Path) -> None:
        cut_clips(load_footage().fetch(FOOTAGE), folder, CLIPS, setting.workload.frames, setting.size)

    folder = kept(setting.folder / f"batch-clips-{setting.workload.frames}", make)
    return sorted(folder.glob("clip_*.mp4"))


def prepare(clips: list[Path], output: Path, workers: int) -> None:
    """`v2v prepare CLIPS -o OUTPUT --workers WORKERS --quiet --overwrite` (the library call it makes)."""
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset

    prepare_dataset(clips, output, PrepareConfig(overwrite=True, quiet=True), workers=workers)


def batch_trial(clips: list[Path], output: Path, workers: int = WORKERS) -> Trial:
    """`workers` processes against one, on the frames of all `clips`."""
    from v2vcli.io.video import probe_video

    frames = sum(probe_video(clip).frame_count for clip in clips)
    return Trial(frames, partial(prepare, clips, output, workers), lambda: partial(prepare, clips, output, 1))


def footage_sizes(sizes: tuple[Size, ...], quick: bool) -> tuple[Size, ...]:
    """One size, at the footage's aspect (16:9) whatever the run's sizes: its people stay large enough to be
    found, and the speed-up, not the size, is the figure."""
    return ((384, 216),)


STAGE = Stage(
    name="prepare x4", pipeline=f"prepare_dataset on {CLIPS} real clips, {WORKERS} worker processes",
    limit="the same, one after another in one process", full=Workload(frames=56, rounds=3),
    quick=Workload(frames=56, rounds=1), inputs=footage_clips,
    trial=lambda setting: batch_trial(footage_clips(setting), setting.output("batch-dataset")),
    target=1.5, sizes=footage_sizes)


def main() -> None:
    from v2vcli.config import parse_size

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=CLIPS, help="pieces of the footage, one video each")
    parser.add_argument("--frames", type=int, default=56, help="frames a clip")
    parser.add_argument("--size", default="384x216", help="the clips' size, WxH")
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements of each side")
    args = parser.parse_args()
    from benchmarks.quality import load_footage

    size = tuple(parse_size(args.size))
    before = load_average()
    with tempfile.TemporaryDirectory() as folder:
        clips = cut_clips(load_footage().fetch(FOOTAGE), Path(folder) / "clips", args.clips, args.frames, size)
        result = measure(batch_trial(clips, Path(folder) / "dataset", args.workers), args.rounds)
    print(f"{FOOTAGE}: {args.clips} clips of {args.frames} frames at {args.size}, {args.rounds} rounds (median); "
          f"load average {before} before, {load_average()} after")
    for side, name in (("limit", "1 worker"), ("pipeline", f"{args.workers} workers")):
        seconds = sorted(result.seconds[side])
        print(f"  {name:10s} {result.rate(side):6.1f} frames/s   median {seconds[len(seconds) // 2]:.2f} s   "
              f"rounds {', '.join(f'{value:.2f}' for value in result.seconds[side])} s   "
              f"{result.cpu_ms(side):6.1f} CPU ms/frame (this process and finished children)")
    print(f"  speed-up {result.ratio:.2f}x")


if __name__ == "__main__":
    main()
