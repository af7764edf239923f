"""`v2v prepare`: throughput against its models alone, and the disk a dataset takes a frame.

    python benchmarks/bench_prepare.py                          # examples/target.mp4 at 1920x1080, presets base
    python benchmarks/bench_prepare.py --video CLIP --presets tiny small base hd --frames 48

The command line prepares a clip (default: examples/target.mp4 scaled to 1920x1080, --frames long, forth
and back) as a user would, `v2v prepare CLIP --preset NAME` (pose maps, masks, flow), once per preset,
and prints the dataset's size, frames/s, and bytes a frame: all of it and by part (frames, labels,
masks, flow), with what float16 .npy flow (the format before) would have taken.

The stage `prepare` of run_all.py is declared here too: `prepare_dataset` with its defaults on the
target clip at each run size, against the bare models it runs (PoseLandmarker in VIDEO mode and DIS,
on the frames decoded beforehand).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if not __package__:  # run as `python benchmarks/bench_prepare.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.bench_flow import bare_flow  # noqa: E402
from benchmarks.bench_pose import bare_models  # noqa: E402
from benchmarks.common import EXAMPLES, load_average  # noqa: E402
from benchmarks.harness import Stage, Trial, Workload  # noqa: E402

if TYPE_CHECKING:
    import numpy as np

FULL_HD = (1920, 1080)
PARTS = ("frames", "labels", "masks", "flow_backward")


def prepare_command(video: Path, output: Path, preset: str = "base") -> None:
    """`v2v prepare VIDEO -o OUTPUT --preset PRESET` (the library call the command makes)."""
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset

    prepare_dataset([video], output, PrepareConfig(preset=preset, overwrite=True, quiet=True))


def bare_prepare(frames: list[np.ndarray], fps: float) -> None:
    """The models prepare runs, alone on decoded frames: the pose landmarker, then DIS over the pairs."""
    from v2vcli.flow import DEFAULT_METHOD
    from v2vcli.preprocess.pose_backend import PoseConfig

    bare_models(frames, fps, PoseConfig())
    bare_flow(frames, DEFAULT_METHOD, False)


def bare_prepare_on(video: Path):
    frames, fps = inputs.decoded(video)
    return partial(bare_prepare, frames, fps)


def prepare_trial(video: Path, output: Path) -> Trial:
    return Trial(inputs.frame_count(video), partial(prepare_command, video, output), partial(bare_prepare_on, video))


STAGE = Stage(
    name="prepare", pipeline="prepare_dataset, defaults: decode, resize, pose maps, masks, compact flow, PNGs",
    limit="bare PoseLandmarker + DIS loops", full=Workload(frames=96, rounds=2), quick=Workload(frames=24, rounds=1),
    inputs=inputs.target_clip, trial=inputs.on_target_clip(prepare_trial, "dataset"))


# ---------------------------------------------------------------- the command line: disk a frame per preset

def disk_by_part(dataset: Path) -> dict[str, int]:
    """Bytes of each part of a dataset's sequences (PARTS), and "all" for the whole folder."""
    files = [path for path in dataset.rglob("*") if path.is_file()]
    sizes = {part: sum(path.stat().st_size for path in files if path.parent.name == part) for part in PARTS}
    return {**sizes, "all": sum(path.stat().st_size for path in files)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="clip to prepare (default: examples/target.mp4 at 1920x1080)")
    parser.add_argument("--frames", type=int, default=48, help="frames of the default clip")
    parser.add_argument("--presets", nargs="+", default=["base"], choices=["tiny", "small", "base", "hd"])
    args = parser.parse_args()

    from v2vcli.data.layout import open_dataset
    from v2vcli.io.video import probe_video

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        video = args.video or inputs.scaled_clip(EXAMPLES / "target.mp4", work / "source.mp4", FULL_HD, args.frames)
        info = probe_video(video)
        print(f"{video.name}: {info.width}x{info.height}, {info.frame_count} frames; load {load_average()}")
        print("KB a frame (1 KB = 1000 bytes): all, frames, labels, masks, flow (float16 .npy flow would take)")
        for preset in args.presets:
            output = work / f"dataset-{preset}"
            started = time.perf_counter()
            prepare_command(video, output, preset)
            seconds = time.perf_counter() - started
            dataset = open_dataset(output)
            frames, (width, height) = dataset.frame_count, dataset.size
            disk = {part: value / frames / 1000 for part, value in disk_by_part(output).items()}
            npy = (128 + width * height * 2 * 2) * (frames - len(dataset.sequences)) / frames / 1000
            print(f"{preset:<5} {width}x{height}: {frames / seconds:.2f} frames/s; {disk['all']:.0f} KB a frame: "
                  f"frames {disk['frames']:.0f}, labels {disk['labels']:.0f}, masks {disk['masks']:.0f}, "
                  f"flow {disk['flow_backward']:.0f} ({npy:.0f})", flush=True)


if __name__ == "__main__":
    main()
