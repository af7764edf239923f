"""The face refiner: its box found from a pose rendering, a paste that touches the box alone, and a model
trained with the face GAN that saves, loads and generates."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from v2vcli.config import ModelConfig, RunSettings, preset
from v2vcli.data.layout import LABELS_DIR
from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.io.frames import FRAME_NAME, write_image
from v2vcli.models import Discriminators, Generator
from v2vcli.models.face import FaceRefiner, face_side, locate_faces
from v2vcli.preprocess.pose_backend import pose_layout
from v2vcli.preprocess.render import render_pose

pytestmark = pytest.mark.usefixtures("one_thread")


def person(face_centre: tuple[float, float] | None, scale: float = 1.0) -> np.ndarray:
    """A mediapipe body (33, 5) standing in a 128 px frame, its 11 face points around `face_centre` (or
    hidden, visibility 0, with None), shoulders to hips below it."""
    points = np.zeros((33, 5))
    points[:, 3:] = 1.0
    body = {11: (44, 70), 12: (84, 70), 13: (36, 92), 14: (92, 92), 15: (32, 112), 16: (96, 112), 23: (52, 118),
            24: (76, 118)}
    for index, (x, y) in body.items():
        points[index, :2] = (x, y)
    face = {0: (0, 0), 1: (-3, -4), 2: (-5, -4), 3: (-7, -4), 4: (3, -4), 5: (5, -4), 6: (7, -4), 7: (-10, -1),
            8: (10, -1), 9: (-4, 6), 10: (4, 6)}
    centre = face_centre or (64, 40)
    for index, (dx, dy) in face.items():
        points[index, :2] = (centre[0] + scale * dx, centre[1] + scale * dy)
    if face_centre is None:
        points[:11, 3:] = 0.0
    hidden = [index for index in range(33) if index not in body and index not in face]
    points[hidden, 3:] = 0.0
    return points


def condition(points: np.ndarray, size: int = 128, drawn_at: int = 128) -> torch.Tensor:
    """The rendering of `points` (given at 128 px) drawn at `drawn_at` px and area-resized to `size`, as a
    (1, 3, size, size) tensor in [-1, 1] (training and generation resize renderings this way)."""
    scaled = points.copy()
    scaled[:, :2] *= drawn_at / 128
    image = render_pose(scaled, (drawn_at, drawn_at), layout=pose_layout())
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1


def face_model(**changes) -> ModelConfig:
    return dataclasses.replace(preset("tiny").model, **changes)


def stack(*maps: torch.Tensor) -> torch.Tensor:
    return torch.cat(maps, dim=1)


@pytest.mark.parametrize("drawn_at", [128, 256])
def test_the_face_box_is_centred_on_the_face_points_of_a_rendering(drawn_at):
    config = face_model()
    side = face_side(config, 128)
    assert side == 32  # a quarter of the frame height
    model = FaceRefiner(config)
    blank = torch.full((1, 3, 128, 128), -1.0)
    for centre in ((64, 40), (30, 30), (100, 60)):
        current = condition(person(centre), drawn_at=drawn_at)
        box = locate_faces(stack(blank, blank, current), 3, side, model.face_hues)[0].tolist()
        x, y, found = box
        assert found == side
        # centred on the face points (their weighted mean, within a couple of pixels), inside the frame
        assert abs(x + side / 2 - centre[0]) <= 3 and abs(y + side / 2 - centre[1]) <= 4, (centre, box)
        assert 0 <= x <= 128 - side and 0 <= y <= 128 - side


def test_no_face_drawn_means_no_box_and_an_unchanged_frame():
    config = face_model()
    model = FaceRefiner(config)
    torch.nn.init.normal_(model.network[-1].weight, std=0.5)  # a refiner that would change a face
    no_face = condition(person(None))
    image = torch.rand(1, 3, 128, 128) * 2 - 1
    zeros = torch.zeros_like(no_face)  # before a clip's first frame
    with torch.no_grad():
        refined, boxes = model(stack(zeros, zeros, no_face), image)
    assert boxes[0, 2] == 0
    assert torch.equal(refined, image)


def test_the_box_follows_the_head_smoothly_from_the_frames_before():
    config = face_model()
    model = FaceRefiner(config)
    side = face_side(config, 128)
    before, now = condition(person((50, 40))), condition(person((70, 40)))
    alone = locate_faces(stack(torch.zeros_like(now), torch.zeros_like(now), now), 3, side, model.face_hues)
    followed = locate_faces(stack(before, before, now), 3, side, model.face_hues)
    # the frames before pull the box back towards where the head was, not all the way
    assert alone[0, 0] + side / 2 == pytest.approx(70, abs=3)
    assert 50 < followed[0, 0] + side / 2 < alone[0, 0] + side / 2


def test_the_face_refiner_changes_only_its_box():
    config = face_model()
    model = FaceRefiner(config)
    torch.nn.init.normal_(model.network[-1].weight, std=0.5)
    current = condition(person((64, 40)))
    image = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        refined, boxes = model(stack(current, current, current), image)
    x, y, side = boxes[0].tolist()
    changed = (refined != image).any(dim=1)[0]
    inside = torch.zeros_like(changed)
    inside[y:y + side, x:x + side] = True
    assert changed[inside].float().mean() > 0.5  # it redraws its box...
    assert not changed[~inside].any()  # ...and nothing else
    # feathered: the box's edge moves less than its middle
    delta = (refined - image).abs()[0].mean(dim=0)
    assert delta[y, x:x + side].mean() < 0.5 * delta[y + side // 2, x:x + side].mean()


def test_pose_models_have_a_face_refiner_and_discriminator_label_models_none():
    pose = face_model(label_channels=3)
    assert Generator(pose).face is not None and Discriminators(pose).face is not None
    segment = face_model(label_channels=12)
    assert Generator(segment).face is None and Discriminators(segment).face is None
    assert Generator(face_model(face=False)).face is None


@pytest.fixture
def face_dataset(tmp_path):
    """The synthetic shapes clip (pose condition, 64 px) with a person whose face is drawn in every frame."""
    root = write_shapes_dataset(tmp_path / "data", sequences=1, frames=6, size=(64, 64), condition="pose")
    for index in range(6):
        points = person((60 + 2 * index, 40))
        points[:, :2] *= 0.5
        write_image(root / "clip00" / LABELS_DIR / FRAME_NAME.format(index),
                    render_pose(points, (64, 64), layout=pose_layout()))
    return root


def test_a_model_trained_with_the_face_gan_saves_loads_and_generates(face_dataset, tmp_path, monkeypatch):
    from v2vcli.inference.sequential import SequentialGenerator
    from v2vcli.training import load_generator, train
    from v2vcli.training.logs import read_log

    monkeypatch.setenv("V2V_OFFLINE", "1")
    config = preset("tiny")
    config.data.scale_jitter = 0.0
    run = RunSettings(name="face", output_dir=str(tmp_path / "weights"), dataset=str(face_dataset), quiet=True,
                      sample_every=0)
    config.train.steps = 2
    result = train(config, run)
    logged = [entry for entry in read_log(result.model / "log.jsonl") if "step" in entry and "event" not in entry]
    assert {"G/face", "G/face_gan", "D/face"} <= set(logged[-1])  # the face terms trained
    generator, loaded = load_generator(result.model)
    assert loaded.model.face and generator.face is not None
    sequential = SequentialGenerator(generator, loaded, torch.device("cpu"))
    labels = condition(person((60, 40)), size=64)[0]
    frame = sequential.tensor(labels)
    assert frame.shape == (3, 64, 64) and torch.isfinite(frame).all()


def test_the_layout_tells_the_face_colours_from_every_other_colour_drawn():
    layout = pose_layout()
    assert layout.part_points("face")[:11] == tuple(range(11))  # the body's nose, eyes, ears, mouth
    face, other = layout.part_colours("face")
    face_set, other_set = {tuple(colour) for colour in face}, {tuple(colour) for colour in other}
    assert not face_set & other_set
    # what render_pose draws for a face is face-coloured, what it draws for the body is not
    face_only, body_only = person((64, 40)), person((64, 40))
    face_only[11:, 3:] = 0.0
    body_only[:11, 3:] = 0.0
    colours = {tuple(pixel) for pixel in render_pose(face_only, (128, 128), layout=layout).reshape(-1, 3)} - {(0, 0, 0)}
    assert colours and colours <= face_set
    body = {tuple(pixel) for pixel in render_pose(body_only, (128, 128), layout=layout).reshape(-1, 3)} - {(0, 0, 0)}
    assert body and not body & face_set


def test_tensors_cached_during_generation_serve_a_later_training_step():
    """Generation runs in inference mode; a training step in the same process (`v2v demo`, a notebook)
    must still be able to use what it cached."""
    from v2vcli.models.face import feather
    from v2vcli.models.warp import _GRIDS, resample

    feather.cache_clear()
    _GRIDS.clear()
    with torch.inference_mode():
        feather(16)
        resample(torch.zeros(1, 3, 16, 16), torch.zeros(1, 2, 16, 16))
    image = torch.ones(1, 3, 16, 16, requires_grad=True)
    loss = (resample(image, torch.zeros(1, 2, 16, 16)) * feather(16)).sum()
    loss.backward()
    assert image.grad is not None and float(image.grad.abs().sum()) > 0
