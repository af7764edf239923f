"""What the stages read: the example clips scaled, a panning photo, a stick-figure pose video,
random-weights generators saved as training saves them, and a dataset made by `v2v prepare`.

The makers that take a folder return a path there and make the file only when it is missing, so the
driver makes every input before the stages run (making them counts in no stage's memory) and each
stage, in its own process, finds the same paths by calling the same maker.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import EXAMPLES
from benchmarks.harness import Setting, Size, Trial

if TYPE_CHECKING:
    import numpy as np

def size_name(size: Size) -> str:
    return f"{size[0]}x{size[1]}"


def kept(path: Path, make: Callable[[Path], object]) -> Path:
    """`path`, first made by `make(temporary path)` (renamed when complete) if it does not exist."""
    if not path.exists():
        from v2vcli.io.outputs import atomic_path

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as partial:
            make(partial)
    return path


def frame_count(video: Path) -> int:
    from v2vcli.io.video import probe_video

    return probe_video(video).frame_count


def decoded(video: Path) -> tuple[list[np.ndarray], float]:
    """(every frame of `video`, RGB uint8 (H, W, 3); its fps): what a bare loop runs on."""
    from v2vcli.io.video import probe_video, read_frames

    return list(read_frames(video)), float(probe_video(video).fps)


# ---------------------------------------------------------------- clips

def scaled_clip(source: Path, output: Path, size: Size, frames: int | None = None) -> Path:
    """`source` resized (stretched) to `size` (W, H), same fps, with its audio, `frames` frames long: cut short,
    or played forth and back (so the motion stays continuous) when the clip is shorter."""
    import cv2

    from v2vcli.io.video import VideoWriter, probe_video, read_frames

    info = probe_video(source)
    clip = [frame if (frame.shape[1], frame.shape[0]) == tuple(size)
            else cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA) for frame in read_frames(source)]
    frames = frames or len(clip)
    with VideoWriter(output, info.fps, audio_from=source) as writer:
        for index in range(frames):
            turn, offset = divmod(index, len(clip))
            writer.write(clip[offset] if turn % 2 == 0 else clip[len(clip) - 1 - offset])
    return output


def example_clip(folder: Path, name: str, size: Size, frames: int | None = None) -> Path:
    """examples/NAME.mp4 (target: the person of the datasets, source: the dancer) scaled to `size`,
    `frames` long (None: as long as it is)."""
    return kept(folder / f"{name}-{frames or 'all'}.mp4",
                lambda path: scaled_clip(EXAMPLES / f"{name}.mp4", path, size, frames))


def target_clip(setting: Setting) -> Path:
    """The target example clip at the setting's size, as long as its workload says: what the preprocessing
    stages run on."""
    return example_clip(setting.folder, "target", setting.size, setting.workload.frames)


def on_target_clip(make_trial: Callable[[Path, Path], Trial], output: str) -> Callable[[Setting], Trial]:
    """The trial(setting) of a stage that runs on the target clip: make_trial(clip, output path `output`)."""
    return lambda setting: make_trial(target_clip(setting), setting.output(output))


def panning_photo(path: Path, size: Size, frames: int) -> Path:
    """scikit-image's astronaut photo panning, turning and zooming, `frames` frames at 24 fps."""
    import cv2
    import numpy as np
    from skimage import data

    from v2vcli.io.video import VideoWriter

    width, height = size
    photo = data.astronaut()
    with VideoWriter(path, 24) as writer:
        for index in range(frames):
            t = index / frames
            scale = max(width, height) / photo.shape[1] * (1.1 + 0.1 * np.sin(2 * np.pi * t))
            matrix = cv2.getRotationMatrix2D((256, 256), 5 * np.sin(2 * np.pi * t), scale)
            matrix[:, 2] += (width / 2 - 256 + 30 * np.sin(4 * np.pi * t), height / 2 - 256)
            writer.write(cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))
    return path


def clip_parser(description: str) -> argparse.ArgumentParser:
    """The command line of a per-command benchmark that runs on one clip: a video, or the size and length of
    a panning photo, and the rounds."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="a video to run on (default: a panning photo)")
    parser.add_argument("--size", default="512x256", help="WxH of the panning photo")
    parser.add_argument("--frames", type=int, default=240, help="frames of the panning photo")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds")
    return parser


def clip_of(args: argparse.Namespace, work: Path) -> Path:
    """args.video, or a panning photo made in `work` at args.size."""
    from v2vcli.config import parse_size

    return args.video or panning_photo(work / "clip.mp4", tuple(parse_size(args.size)), args.frames)


# ---------------------------------------------------------------- pose conditions and models

# A front-facing person in the 33 BlazePose landmarks, (x, y) as fractions of the frame's width and height.
_BODY = (
    (.50, .18), (.51, .165), (.52, .165), (.53, .165), (.49, .165), (.48, .165), (.47, .165), (.545, .175),
    (.455, .175), (.515, .20), (.485, .20), (.58, .30), (.42, .30), (.62, .42), (.38, .42), (.64, .54),
    (.36, .54), (.65, .57), (.35, .57), (.64, .575), (.36, .575), (.63, .56), (.37, .56), (.555, .55),
    (.445, .55), (.56, .70), (.44, .70), (.565, .85), (.435, .85), (.56, .87), (.44, .87), (.59, .88), (.41, .88),
)
_LEFT_ARM, _RIGHT_ARM = [13, 15, 17, 19, 21], [14, 16, 18, 20, 22]


def stick_figure(index: int, size: Size, period: int = 48) -> np.ndarray:
    """(33, 2) keypoints in pixels of frame `index`: arms swinging about the shoulders, body swaying."""
    import numpy as np

    phase = 2 * np.pi * index / period
    points = np.array(_BODY, dtype=np.float32)
    for arm, shoulder, sign in ((_LEFT_ARM, 11, -1.0), (_RIGHT_ARM, 12, 1.0)):
        angle = sign * 0.9 * (1 + np.sin(phase + (0 if sign < 0 else np.pi / 2)))
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=np.float32)
        points[arm] = (points[arm] - points[shoulder]) @ rotation.T + points[shoulder]
    points[:, 0] += 0.08 * np.sin(phase / 2)
    return points * np.float32(size)


def make_condition_video(path: Path, size: Size, frames: int, fps: float = 24.0) -> Path:
    """A pose condition video (what `v2v pose` writes as pose.mp4) of the moving stick figure."""
    from v2vcli.io.video import VideoWriter
    from v2vcli.preprocess.render import render_pose

    with VideoWriter(path, fps) as writer:
        for index in range(frames):
            writer.write(render_pose(stick_figure(index, size), size))
    return path


def condition_video(folder: Path, size: Size, frames: int) -> Path:
    return kept(folder / f"condition-{frames}.mp4", lambda path: make_condition_video(path, size, frames))


def save_random_generator(path: Path, preset_name: str, size: Size, *, pose_stats: dict | None = None,
                          dataset_size: Size | None = None, fps: float = 24.0, seed: int = 0) -> Path:
    """A pose generator of preset `preset_name` at `size` (W, H) with random weights (speed does not depend
    on training), written as training writes generator.safetensors (the config in its metadata), so
    load_generator reads it. `pose_stats` (as `v2v prepare` computes them, for pose renderings of
    `dataset_size`) makes it usable by `v2v dance`."""
    import torch

    from v2vcli.config import preset
    from v2vcli.models import Generator
    from v2vcli.training.checkpoint import save_tensor_file

    config = preset(preset_name)
    config.model.label_channels = 3
    config.data.condition, config.data.num_classes, config.data.fps = "pose", 3, fps
    config.data.size = list(size)
    config.data.dataset_size = list(dataset_size or size)
    config.data.pose_stats = pose_stats
    torch.manual_seed(seed)
    generator = Generator(config.model)
    tensors = {name: tensor.detach().contiguous() for name, tensor in generator.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_tensor_file(tensors, path, {"format": "v2v-generator", "config": config.to_json(), "step": "0"})
    return path


def random_generator(folder: Path, preset_name: str, size: Size, dataset: Path | None = None) -> Path:
    """A random-weights generator; with the pose statistics of `dataset` (a `v2v prepare` folder at `size`)
    where `v2v dance` will run it."""
    def make(path: Path) -> None:
        stats = json.loads((dataset / "dataset.json").read_text())["pose_stats"] if dataset else None
        save_random_generator(path, preset_name, size, pose_stats=stats)

    return kept(folder / f"generator-{preset_name}{'-posed' if dataset else ''}.safetensors", make)


def dataset(folder: Path, size: Size) -> Path:
    """`v2v prepare` (pose, flow, no masks) of the target clip at `size`: a training set, and the pose
    statistics that `v2v dance` normalizes to."""
    def make(path: Path) -> None:
        from v2vcli.data.prepare import PrepareConfig, prepare_dataset

        config = PrepareConfig(size=list(size), masks=False, overwrite=True, quiet=True)
        prepare_dataset([example_clip(folder, "target", size)], path, config)

    return kept(folder / "dataset", make)
