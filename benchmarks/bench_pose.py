"""Throughput of `run_pose` against the bare mediapipe models on the same frames, already decoded, measured
alternately in one run. Two stages:

    pose        `v2v pose --detail body` (decode + PoseLandmarker + tracking + smoothing + render + encode +
                poses.json) against the bare PoseLandmarker loop
    pose full   `v2v pose --detail full` (the same, with each person's hands and face: HandLandmarker and
                FaceLandmarker in windows around them) against the bare pose, hand and face landmarkers,
                each run on every whole frame

    python benchmarks/bench_pose.py                                 # examples/target.mp4 played 4 times
    python benchmarks/bench_pose.py VIDEO --repeat 1 --rounds 5 --detail full
    python benchmarks/bench_pose.py VIDEO --methods --num-poses 2   # ways of finding hands and faces

--methods compares ways of finding the hands and faces of the people the pose landmarker finds in VIDEO
(v2vcli.preprocess.hands_face.FinderSettings): in the whole frame or in windows around each person, in
IMAGE or VIDEO mode (v2v's: VIDEO but for the face windows); per way, the milliseconds a frame it adds
and the hands and faces it gives people.

Both sides include loading the models (run_pose cannot be timed without it); --repeat makes the clip
long enough that loading is a small share. The bare models get the options run_pose gives them (the
pose landmarker's people and thresholds; two hands and one face, as one person has). Target: run_pose at
>= 0.85x the bare loop's frames/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if not __package__:  # run as `python benchmarks/bench_pose.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.common import EXAMPLES, load_average  # noqa: E402
from benchmarks.harness import Run, Stage, Trial, Workload, measure  # noqa: E402

if TYPE_CHECKING:
    import numpy as np

    from v2vcli.preprocess.pose_backend import PoseConfig


def bare_models(frames: list[np.ndarray], fps: float, config: PoseConfig) -> None:
    """mediapipe alone, in VIDEO mode over decoded frames, nothing else: the PoseLandmarker with `config`'s
    options, and where `config.detail` asks, the HandLandmarker (two hands) and the FaceLandmarker (one
    face), each on every whole frame."""
    from contextlib import ExitStack

    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from v2vcli.preprocess.mediapipe_pose import FACE_MODEL_FILE, HAND_MODEL_FILE, POSE_MODEL_FILE
    from v2vcli.preprocess.native_logs import native_logs_silenced
    from v2vcli.weights import find_weight_file

    def base(name: str) -> BaseOptions:
        return BaseOptions(model_asset_path=str(find_weight_file(name)))

    video = vision.RunningMode.VIDEO
    makers = [lambda: vision.PoseLandmarker.create_from_options(vision.PoseLandmarkerOptions(
        base_options=base(POSE_MODEL_FILE), running_mode=video, num_poses=config.num_poses,
        min_pose_detection_confidence=config.min_detection_confidence,
        min_pose_presence_confidence=config.min_presence_confidence,
        min_tracking_confidence=config.min_tracking_confidence))]
    if config.detail in ("hands", "full"):
        makers.append(lambda: vision.HandLandmarker.create_from_options(vision.HandLandmarkerOptions(
            base_options=base(HAND_MODEL_FILE), running_mode=video, num_hands=2)))
    if config.detail == "full":
        makers.append(lambda: vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
            base_options=base(FACE_MODEL_FILE), running_mode=video, num_faces=1)))
    with native_logs_silenced(), ExitStack() as stack:
        landmarkers = [stack.enter_context(make()) for make in makers]
        for index, frame in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            for landmarker in landmarkers:
                landmarker.detect_for_video(image, round(index * 1000 / fps))


def bare_pose_on(video: Path, detail: str | None = None) -> Run:
    """The bare loop over `video`'s frames, decoded now, for `detail` (None: PoseConfig's default, as
    `v2v dance` finds poses)."""
    from v2vcli.preprocess.pose_backend import PoseConfig

    frames, fps = inputs.decoded(video)
    return partial(bare_models, frames, fps, PoseConfig(detail=detail) if detail else PoseConfig())


def pose_command(video: Path, output: Path, detail: str, overlay: bool = False) -> None:
    """`v2v pose VIDEO -o OUTPUT --detail DETAIL [--overlay]` (the library call the command makes)."""
    from v2vcli.preprocess.pose import run_pose
    from v2vcli.preprocess.pose_backend import PoseConfig

    run_pose(video, output, PoseConfig(detail=detail), overlay=overlay, overwrite=True, quiet=True)


def pose_trial(video: Path, output: Path, detail: str = "body", overlay: bool = False) -> Trial:
    """`v2v pose --detail DETAIL` on `video` (drawing over it with `overlay`) against the bare models."""
    return Trial(inputs.frame_count(video), partial(pose_command, video, output, detail, overlay),
                 partial(bare_pose_on, video, detail))


STAGE = Stage(
    name="pose", pipeline="run_pose --detail body: decode, PoseLandmarker, tracking, smoothing, render, encode, "
                          "poses.json",
    limit="bare PoseLandmarker loop", full=Workload(frames=96, rounds=3), quick=Workload(frames=24, rounds=1),
    inputs=inputs.target_clip, trial=inputs.on_target_clip(pose_trial, "pose"), target=0.85)
DETAIL_STAGE = Stage(
    name="pose full", pipeline="run_pose --detail full: the pose stage's, with hand and face landmarkers in "
                               "windows around each person",
    limit="bare pose, hand and face landmarkers, each on every whole frame", full=Workload(frames=96, rounds=3),
    quick=Workload(frames=24, rounds=1), inputs=inputs.target_clip,
    trial=inputs.on_target_clip(partial(pose_trial, detail="full"), "pose-full"), target=0.85)


METHODS = {
    "whole frame, IMAGE": {"windows": False, "tracked": frozenset()},
    "whole frame, VIDEO": {"windows": False},
    "windows, IMAGE": {"tracked": frozenset()},
    "windows, VIDEO": {"tracked": frozenset({"frame", "hand window", "face window"})},
    "windows, VIDEO, 1 hand a window": {"window_hands": 1},
    "windows, VIDEO but faces (v2v)": {},
}


def compare_methods(video: Path, people: int, rounds: int) -> None:
    """Print, for each of METHODS, what finding hands and faces costs and finds on `video`'s people."""
    import statistics
    import time

    from v2vcli.preprocess.hands_face import FinderSettings, HandsAndFaces
    from v2vcli.preprocess.mediapipe_pose import FACE_MODEL_FILE, HAND_MODEL_FILE
    from v2vcli.preprocess.pose_backend import PoseConfig, PoseEstimator
    from v2vcli.preprocess.timestamps import frame_milliseconds
    from v2vcli.weights import find_weight_file

    frames, fps = inputs.decoded(video)
    with PoseEstimator(fps, PoseConfig(num_poses=people, smooth=False, detail="body")) as estimator:
        bodies = [found.landmarks[:, :33] if (found := estimator(frame)) is not None else None for frame in frames]
    models = find_weight_file(HAND_MODEL_FILE), find_weight_file(FACE_MODEL_FILE)
    seen = sum(len(found) for found in bodies if found is not None)
    print(f"{video.name}: {frames[0].shape[1]}x{frames[0].shape[0]}, {len(frames)} frames, {seen} people found "
          f"in them by the pose landmarker; {rounds} rounds (median); load average {load_average()}")
    seconds: dict[str, list[float]] = {name: [] for name in METHODS}
    found: dict[str, tuple[int, int, int]] = {}
    for _ in range(rounds):
        for name, options in METHODS.items():
            finder = HandsAndFaces(*models, people, FinderSettings(**options))
            hands = faces = frames_with_hand = 0
            started = time.perf_counter()
            for index, (frame, found_bodies) in enumerate(zip(frames, bodies, strict=True)):
                if found_bodies is not None:
                    given_hands, given_faces = finder(frame, 1 + frame_milliseconds(index, fps), found_bodies)
                    hands, faces = hands + len(given_hands), faces + len(given_faces)
                    frames_with_hand += bool(given_hands)
            seconds[name].append(time.perf_counter() - started)
            finder.close()
            found[name] = (hands, frames_with_hand, faces)
    print(f"  {'':34s}{'ms/frame':>9}{'hands':>8}{'frames with a hand':>20}{'faces':>8}")
    for name, (hands, frames_with_hand, faces) in found.items():
        print(f"  {name:34s}{statistics.median(seconds[name]) * 1000 / len(frames):9.1f}{hands:8d}"
              f"{frames_with_hand:20d}{faces:8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path, nargs="?", default=EXAMPLES / "target.mp4")
    parser.add_argument("--repeat", type=int, default=4, help="play the clip this many times (forth and back)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements of each method")
    parser.add_argument("--detail", choices=("body", "hands", "full"), default="body", help="what run_pose finds")
    parser.add_argument("--methods", action="store_true", help="compare ways of finding hands and faces instead")
    parser.add_argument("--num-poses", type=int, default=1, help="--methods: the most people a frame")
    args = parser.parse_args()
    if args.methods:
        compare_methods(args.video, args.num_poses, args.rounds)
        return

    from v2vcli.io.video import probe_video

    info = probe_video(args.video)
    before = load_average()
    with tempfile.TemporaryDirectory() as folder:
        # Forth and back, so the motion stays continuous and tracking behaves as on a long real clip.
        video = inputs.scaled_clip(args.video, Path(folder) / "clip.mp4", (info.width, info.height),
                                   info.frame_count * args.repeat)
        output = Path(folder) / "pose"
        trial = pose_trial(video, output, args.detail)
        overlay = pose_trial(video, output, args.detail, overlay=True).pipeline
        result = measure(trial, args.rounds, {"run_pose --overlay": overlay})

    print(f"{args.video.name}: {info.width}x{info.height}, {trial.items} frames, --detail {args.detail}, "
          f"{args.rounds} rounds (median); load average {before} before, {load_average()} after")
    names = {"limit": "bare mediapipe", "pipeline": "run_pose"}
    for side in result.seconds:
        speed = result.rate(side)
        print(f"  {names.get(side, side):20s} {speed:7.1f} frames/s   {speed / result.rate('limit'):5.2f}x bare   "
              f"{result.cpu_ms(side):6.1f} CPU ms/frame")


if __name__ == "__main__":
    main()
