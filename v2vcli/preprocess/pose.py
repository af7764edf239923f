"""Body poses per frame from any pose backend, the `poses.json` format, and `v2v pose`.

Library API on frame iterators: `estimate_poses` (frame by frame, as they come) and `find_people` (a whole
clip: every person tracked by id, smoothed without lag, one of them to follow); the `poses.json` format
(`write_poses`, `read_poses`, documented in docs/pose.md) and `run_pose`, which `v2v pose` calls: VIDEO ->
OUT/poses.json + OUT/pose.mp4. Landmarks are float32 arrays (P, K, 5) in the backend's KeypointLayout
(mediapipe, the default: K = 33): x, y in pixels, z, visibility and presence (see pose_backend.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from v2vcli.errors import BadInput
from v2vcli.export import DEFAULT_PREVIEW_FORMAT, ExportRun, FrameExport
from v2vcli.io.probe import VideoInfo
from v2vcli.preprocess.keypoint_json import decode_person, encode_people
from v2vcli.preprocess.keypoints import KeypointLayout
from v2vcli.preprocess.mediapipe_pose import POSE_MODEL_FILE
from v2vcli.preprocess.pose_backend import (
    COLUMNS,
    DEFAULT_POSE_BACKEND,
    PoseConfig,
    PoseEstimator,
    PoseFrame,
    pose_backend_class,
)
from v2vcli.preprocess.render import render_pose
from v2vcli.preprocess.tracking import PeopleClip, TrackingSettings, parse_person
from v2vcli.results import Result, rate

__all__ = ["COLUMNS", "POSE_MODEL_FILE", "PeopleFinder", "PoseConfig", "PoseEstimator", "PoseFrame", "PoseResult",
           "estimate_poses", "find_people", "header_layout", "read_poses", "run_pose", "write_poses"]

FORMAT = "v2v.poses"
# 3: every person found, with track ids ("ids", "people"), the one followed ("person") and what pose.mp4
# draws ("drawn"); 2: names the backend, records each frame's presentation time ("timestamps");
# 1: mediapipe's 33 points.
FORMAT_VERSION = 3
POSES_NAME = "poses.json"
DRAWN = ("person", "all")  # what pose.mp4 draws: the person followed, or everyone


def estimate_poses(
    frames: Iterable[np.ndarray], fps: Fraction | float, config: PoseConfig | None = None
) -> Iterator[PoseFrame | None]:
    """Poses of a video's frames (RGB uint8 (H, W, 3), in order): one PoseFrame, or None, per frame."""
    with PoseEstimator(fps, config) as estimator:
        for frame in frames:
            yield estimator(frame)


class PeopleFinder:
    """Find every person of a clip, frame by frame, for use once the clip is over (a context manager).

    `finder(frame)` takes the next frame (RGB uint8 (H, W, 3)) and returns its PoseFrame (or None), as
    `PoseEstimator` does but without its causal smoothing (masks included when the config asks);
    `finder.people()` then gives the whole clip's PeopleClip: each track smoothed by `config.smoothing`
    (centred, no lag; none without `config.smooth`), its short gaps filled.
    """

    def __init__(self, fps: Fraction | float, size: tuple[int, int], config: PoseConfig | None = None):
        self.config = config or PoseConfig()
        self.estimator = PoseEstimator(fps, replace(self.config, smooth=False))
        self.clip = PeopleClip(self.estimator.layout, size, float(self.estimator.fps))

    def __enter__(self) -> PeopleFinder:
        self.estimator.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Free the backend's model; safe to call twice."""
        self.estimator.close()

    def __call__(self, frame: np.ndarray) -> PoseFrame | None:
        found = self.estimator(frame)
        self.clip.add(None if found is None else found.landmarks, () if found is None else found.ids)
        return found

    def people(self) -> PeopleClip:
        return self.clip.smoothed(self.config.smoothing if self.config.smooth else None)


def find_people(frames: Iterable[np.ndarray], fps: Fraction | float, config: PoseConfig | None = None
                ) -> PeopleClip:
    """Every person in a clip's frames (RGB uint8 (H, W, 3), in order), tracked by id and smoothed: a
    PeopleClip (`clip.choose(person)` the id to follow, `clip.person_poses(id)` their keypoints)."""
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise BadInput("the video has no frames")
    with PeopleFinder(fps, (first.shape[1], first.shape[0]), config) as finder:
        finder(first)
        for frame in iterator:
            finder(frame)
    return finder.people()


def _frame_times(count: int, fps: Fraction, timestamps: Sequence[float] | None) -> list[float]:
    """Each frame's time in seconds: the video's own (`timestamps`), and past their end (or without them)
    the last known time plus the frames since at `fps`."""
    known = list(timestamps) if timestamps is not None else []
    last = (len(known) - 1, float(known[-1])) if known else (0, 0.0)
    return [round(float(known[index]) if index < len(known) else last[1] + (index - last[0]) / float(fps), 6)
            for index in range(count)]


def write_poses(path: Path, clip: PeopleClip, person: int | None, *, fps: Fraction, video: str = "",
                config: PoseConfig | None = None, model: str = "", choice: str | int = "auto",
                all_people: bool = False, timestamps: Sequence[float] | None = None) -> int:
    """Write `clip` as poses.json (docs/pose.md): every person of every frame with their ids, `person` the
    one followed (chosen by `choice`), `all_people` whether pose.mp4 draws everyone. `timestamps`: the
    video's frame times (v2vcli.io.video.frame_timestamps). Returns frames_with_person: the frames where
    the people drawn are. One line per frame, written as it goes."""
    config = config or PoseConfig()
    width, height = clip.size
    people = clip.people()
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "backend": config.backend,
        "video": video,
        "width": width,
        "height": height,
        "fps": float(fps),
        "fps_fraction": f"{fps.numerator}/{fps.denominator}",
        "columns": list(COLUMNS),
        **clip.layout.describe(),
        "model": model,
        "num_poses": config.num_poses,
        "detail": config.detail,
        "smoothing": {"filter": "local_quadratic", **asdict(config.smoothing),
                      "window_seconds": [round(seconds, 4) for seconds in config.smoothing.window_seconds]}
        if config.smooth else None,
        "tracking": asdict(TrackingSettings()),
        "person": person,
        "person_choice": str(choice),
        "drawn": DRAWN[1] if all_people else DRAWN[0],
        "people": [summary.to_dict() for summary in people],
    }
    ids, drawn_frames = [], 0
    with open(path, "w", encoding="utf-8") as file:
        # One key per line, values compact: readable, and each frame below is one line too.
        lines = [f" {json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}" for key, value in header.items()]
        file.write("{\n" + ",\n".join(lines) + ',\n "frames": [')
        for index in range(clip.frame_count):
            landmarks, frame_ids = clip.frame(index)
            file.write(("\n  " if index == 0 else ",\n  ") + encode_people(landmarks, clip.layout))
            ids.append(frame_ids or None)
            drawn_frames += bool(frame_ids) and (all_people or person in frame_ids)
        times = json.dumps(_frame_times(clip.frame_count, fps, timestamps), separators=(",", ":"))
        file.write(f'\n ],\n "ids": {json.dumps(ids, separators=(",", ":"))},\n'
                   f' "frame_count": {clip.frame_count},\n "frames_with_person": {drawn_frames},\n'
                   f' "timestamps": {times}\n}}\n')
    return drawn_frames


def header_layout(header: dict, path: Path | str = POSES_NAME) -> KeypointLayout:
    """The keypoint layout of a poses.json header, through the pose backend registry: the backend it
    names (version 1 files, which name none, hold mediapipe's 33 points). BadInput for a backend this
    v2v does not have."""
    name = header.get("backend", DEFAULT_POSE_BACKEND)
    try:
        return pose_backend_class(name).layout
    except BadInput as error:
        raise BadInput(f"{path}: holds the poses of a backend this v2v does not have ({error})") from None


def read_poses(path: Path | str, everyone: bool = False) -> tuple[dict, list[np.ndarray | None]]:
    """Load a poses.json: (header without "frames", per frame float32 (P, K, 5) landmarks or None).

    The frames hold the people pose.mp4 draws: in a version 3 file the person followed (header "person",
    P = 1, None where they are absent), or everyone when the file says "drawn": "all"; `everyone` reads
    every person recorded, in the order of the header's "ids" (one list of track ids per frame, None for
    a frame without people). Files of versions 1 and 2 hold no ids: every person they recorded is read.
    The header always names its "backend" (version 1 files: mediapipe); `header_layout(header)` gives its
    KeypointLayout.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"{path}: not a poses.json file ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("frames"), list):
        raise BadInput(f"{path}: not a poses.json file (no \"format\": \"{FORMAT}\" with a \"frames\" list)")
    if not isinstance(data.get("version"), int) or not 1 <= data["version"] <= FORMAT_VERSION:
        raise BadInput(f"{path}: poses.json version {data.get('version')!r}; this v2v reads versions 1 to "
                       f"{FORMAT_VERSION}")
    data.setdefault("backend", DEFAULT_POSE_BACKEND)
    layout = header_layout(data, path)
    frames = []
    for index, entry in enumerate(data.pop("frames")):
        if entry is None:
            frames.append(None)
            continue
        try:
            frames.append(np.stack([decode_person(person, layout) for person in entry]))
        except (TypeError, ValueError) as error:
            raise BadInput(f"{path}: frame {index}: {error}") from None
    if data["version"] < 3:
        return data, frames
    ids = data.get("ids")
    if not isinstance(ids, list) or len(ids) != len(frames) or any(
            (entry is None) != (people is None) or (people is not None and len(entry) != len(people))
            for entry, people in zip(ids, frames, strict=True)):
        raise BadInput(f"{path}: its \"ids\" do not give one track id per person of each frame")
    if everyone or data.get("drawn") == DRAWN[1]:
        return data, frames
    person = data.get("person")
    return data, [people[entry.index(person)][None] if people is not None and person in entry else None
                  for entry, people in zip(ids, frames, strict=True)]


def default_output(video: Path) -> Path:
    """VIDEO's stem + "_pose", beside it."""
    return video.with_name(f"{video.stem}_pose")


@dataclass
class PoseResult(Result):
    """What `v2v pose` made (its --json).

    video: the input. output: the output folder. backend: the pose backend. frames: frames read.
    frames_with_person: frames where the person followed has a pose (with all_people: where anyone has).
    people: how many people (tracks) were found over the video. person: the track id of the person
    followed (None when nobody was found). preview: the rendered poses (OUT/pose.mp4, or another format).
    seconds: wall time, model loading included. frames_per_second: frames processed a second (throughput,
    both passes; the input's frame rate is in poses.json).
    """

    video: str
    output: str
    backend: str
    frames: int
    frames_with_person: int
    people: int
    person: int | None
    preview: str | None
    seconds: float
    frames_per_second: float | None


class PoseExport(FrameExport):
    """`v2v pose` on the export skeleton, in two passes: `open` finds every person of the video (keypoints
    only, kept in memory), tracks, smooths and chooses the person to follow, and writes poses.json; the
    skeleton's pass then draws the preview frame by frame."""

    label = "draw poses"
    preview_stem = "pose"

    def __init__(self, video: Path | str, output: Path | str, config: PoseConfig, overlay: bool = False,
                 person: str | int = "auto", all_people: bool = False, **options):
        super().__init__(video, output, **options)
        self.config, self.overlay, self.all_people = config, overlay, all_people
        self.choice = parse_person(person)  # a bad --person fails before any work

    def open(self, folder: Path, info: VideoInfo, stack: ExitStack) -> None:
        from v2vcli.io.video import VideoReader, frame_timestamps
        from v2vcli.progress import track

        self.size = (info.width, info.height)
        with PeopleFinder(info.fps, self.size, self.config) as finder:
            for frame in track(VideoReader(self.video, info=info), info.frame_count, "find people", self.quiet):
                finder(frame)
        self.layout = finder.clip.layout
        self.clip = finder.people()
        self.person = self.clip.choose(self.choice)
        self.frames_with_person = write_poses(
            folder / POSES_NAME, self.clip, self.person, fps=info.fps, video=self.video.name, config=self.config,
            model=finder.estimator.model_name, choice=self.choice, all_people=self.all_people,
            timestamps=frame_timestamps(self.video))

    def items(self, frames: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray | None, list[int]]]:
        for index, frame in enumerate(frames):
            if self.all_people:
                yield frame, *self.clip.frame(index)
            else:
                yield frame, *(self.clip.frame(index, self.person) if self.person is not None else (None, []))

    def write(self, item: tuple[np.ndarray, np.ndarray | None, list[int]]) -> None:
        """Nothing per frame: poses.json was written whole by `open`."""

    def preview_frame(self, item: tuple[np.ndarray, np.ndarray | None, list[int]]) -> np.ndarray:
        frame, landmarks, ids = item
        image = render_pose(landmarks, self.size, background=frame if self.overlay else None, layout=self.layout)
        if self.all_people and landmarks is not None:
            label_people(image, landmarks, ids, self.layout)
        return image

    def finish(self, folder: Path, run: ExportRun) -> PoseResult:
        return PoseResult(
            video=str(self.video), output=str(self.output), backend=self.config.backend,
            frames=self.clip.frame_count, frames_with_person=self.frames_with_person,
            people=len(self.clip.tracks), person=self.person,
            preview=str(run.preview) if run.preview else None, seconds=round(run.seconds, 3),
            frames_per_second=rate(self.clip.frame_count, run.seconds),
        )


def label_people(image: np.ndarray, landmarks: np.ndarray, ids: list[int], layout: KeypointLayout) -> None:
    """Write each person's track id in white above their head point, in place (image RGB uint8 (H, W, 3),
    landmarks (P, K, 5)), so `--person ID` can be read off the preview."""
    import cv2

    scale = max(0.4, max(image.shape[:2]) / 640)  # legible on small previews too
    for person, track_id in zip(landmarks, ids, strict=True):
        x, y = person[layout.head, :2]
        origin = (int(x - 8 * scale), int(y - 24 * scale))
        cv2.putText(image, str(track_id), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    max(1, round(2 * scale)), cv2.LINE_AA)


def run_pose(
    video: Path | str,
    out_dir: Path | str | None = None,
    config: PoseConfig | None = None,
    *,
    person: str | int = "auto",
    all_people: bool = False,
    overlay: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    preview_format: str = DEFAULT_PREVIEW_FORMAT,
) -> PoseResult:
    """`v2v pose`: write OUT/poses.json (every person found, with track ids) and OUT/pose.mp4 (the person
    followed, `person`: an id or a position, see v2vcli.preprocess.tracking.choose_person; everyone with
    `all_people`, each labelled with their id), at the input's size, fps and frame count; drawn over the
    input with `overlay`; `preview_format` png/mkv/mov/webm for another format, see v2vcli.export). OUT
    appears only when complete.

    Two passes over the video: the first finds and tracks the people (decoding in a reader thread), the
    second draws the preview (rendering on a worker thread, encoding in an ffmpeg process).
    """
    video = Path(video)
    out_dir = Path(out_dir) if out_dir is not None else default_output(video)
    return PoseExport(video, out_dir, config or PoseConfig(), overlay, person, all_people,
                      preview_format=preview_format, overwrite=overwrite, quiet=quiet).run()
