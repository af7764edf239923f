"""Segmentation: the pose and selfie backends on a real photo, the transformers backend on a tiny model,
smoothing, flicker, `v2v segment` outputs and its errors. Real footage: tests/test_segment_real.py."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data
from typer.testing import CliRunner

from v2vcli.cli.app import app
from v2vcli.errors import MissingBackend, MissingModel
from v2vcli.io.frames import read_image
from v2vcli.io.video import VideoWriter, probe_video, read_frames
from v2vcli.preprocess import segformer
from v2vcli.preprocess.labels import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_COLORS,
    FlickerMeter,
    SegmentClass,
    class_table,
    still_pixels,
)
from v2vcli.preprocess.segformer import CITYSCAPES_MODEL, hub_cache_dir, hub_unreachable
from v2vcli.preprocess.segment import SegmentConfig, make_backend, segment_frames
from v2vcli.preprocess.segment_backends import DETECTRON2_INSTALL, SegmentBackend

runner = CliRunner()

# The astronaut at 256 x 256, outlined by hand (points placed on a 3x enlarged view with a 16 px grid):
# hair, face, neck, the suit's collar ring, shoulders and body down to the bottom edge.
PERSON_OUTLINE = [
    (112, 8), (127, 9), (138, 13), (146, 24), (150, 38), (148, 55), (143, 65), (139, 73), (146, 82), (152, 95),
    (154, 110), (158, 125), (165, 134), (173, 147), (180, 160), (182, 173), (160, 180), (147, 193), (140, 213),
    (138, 233), (138, 256), (11, 256), (11, 233), (10, 200), (12, 167), (18, 143), (30, 123), (47, 107), (58, 92),
    (61, 84), (68, 77), (84, 72), (86, 60), (80, 52), (77, 40), (80, 25), (90, 12),
]
# The helmet she holds: neither person nor background, so it is left out of the comparison
# (a selfie segmenter counts what a person holds as foreground; a person-only outline does not).
HELMET_ELLIPSE = ((195, 228), (58, 57))


def astronaut() -> np.ndarray:
    return cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)


def person_mask() -> tuple[np.ndarray, np.ndarray]:
    """(person, ignored) bool (256, 256) masks."""
    person = np.zeros((256, 256), np.uint8)
    cv2.fillPoly(person, [np.array(PERSON_OUTLINE, np.int32)], 1)
    helmet = np.zeros((256, 256), np.uint8)
    cv2.ellipse(helmet, *HELMET_ELLIPSE, 0, 0, 360, 1, -1)
    return person.astype(bool), helmet.astype(bool) & ~person.astype(bool)


def iou(predicted: np.ndarray, truth: np.ndarray, ignored: np.ndarray) -> float:
    keep = ~ignored
    return (predicted & truth & keep).sum() / ((predicted | truth) & keep).sum()


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory):
    """3 frames of the astronaut photo, 256 x 256."""
    path = tmp_path_factory.mktemp("still") / "still.mp4"
    with VideoWriter(path, 24) as writer:
        for _ in range(3):
            writer.write(astronaut())
    return path


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    """4 frames of 64 x 48, the photo panning 2 px a frame."""
    path = tmp_path_factory.mktemp("small") / "small.mp4"
    image = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)
    with VideoWriter(path, 24) as writer:
        for index in range(4):
            writer.write(np.ascontiguousarray(image[20:68, 4 + 2 * index:68 + 2 * index]))
    return path


# backend option -> (name recorded, least IoU with the helmet left out, least IoU with the helmet as background)
# Measured: pose 0.946 / 0.914, selfie 0.929 / 0.727 (the selfie model counts the held helmet as person).
PERSON_BACKENDS = {(): ("pose", 0.9, 0.88), ("-b", "selfie"): ("selfie", 0.9, 0.0),
                   ("-b", "mediapipe"): ("selfie", 0.9, 0.0)}


@pytest.mark.parametrize("options", list(PERSON_BACKENDS), ids=["default", "selfie", "mediapipe"])
def test_person_backends_segment_the_astronaut_and_write_one_label_map_per_frame(still_clip, tmp_path, options):
    name, least, least_helmet_as_background = PERSON_BACKENDS[options]
    output = tmp_path / "out"
    result = runner.invoke(app, ["segment", str(still_clip), "-o", str(output), "--json", "--quiet", *options])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["frames"] == summary["label_images"] == 3 and summary["frames_per_second"] > 0
    paths = sorted((output / "labels").iterdir())
    assert [path.name for path in paths] == ["000000.png", "000001.png", "000002.png"]
    person, ignored = person_mask()
    for path in paths:
        labels = read_image(path)
        assert labels.shape == (256, 256) and labels.dtype == np.uint8 and set(np.unique(labels)) <= {0, 1}
        assert iou(labels == 1, person, ignored) >= least
        assert iou(labels == 1, person, np.zeros_like(ignored)) >= least_helmet_as_background
        assert (labels == 1)[person].mean() >= 0.9  # covers the person
    classes = json.loads((output / "classes.json").read_text())
    assert classes["backend"] == summary["backend"] == name
    assert [(c["id"], c["name"]) for c in classes["classes"]] == [(0, "background"), (1, "person")]
    assert probe_video(output / "segment.mp4").frame_count == 3
    preview = next(read_frames(output / "segment.mp4"))
    assert preview[150, 80].tolist() == pytest.approx([220, 20, 60], abs=12)  # person colour on the suit
    assert preview[20, 220].max() < 12  # black background
    # A still clip: nearly every pixel is still and its class must not flicker.
    assert summary["still_fraction"] > 0.9 and summary["flicker_rate"] < 0.01


@pytest.mark.parametrize("backend", ["pose", "selfie"])
def test_threshold_trades_person_pixels(backend):
    frame = astronaut()
    counts = []
    for threshold in (0.05, 0.95):
        with make_backend(SegmentConfig(backend=backend, threshold=threshold)) as segmenter:
            counts.append(int(segmenter.labels(segmenter.scores(frame, 0)).sum()))
    assert counts[0] > counts[1] > 0


def test_pose_backend_marks_everyone_it_finds_and_nothing_without_a_person():
    frame = astronaut()
    # The astronaut and her mirror image apart, on a square canvas (the detector sees a square).
    pair = np.concatenate([frame, np.zeros((256, 128, 3), np.uint8), frame[:, ::-1]], axis=1)
    pair = np.concatenate([pair, np.zeros_like(pair)], axis=0)
    with make_backend(SegmentConfig(backend="pose")) as segmenter:
        labels = segmenter.labels(segmenter.scores(pair, 0))
        empty = segmenter.labels(segmenter.scores(np.full_like(pair, 128), 40))
    person, _ = person_mask()
    assert labels[:256, :256][person].mean() > 0.9 and labels[:256, 384:][person[:, ::-1]].mean() > 0.9
    assert labels[256:].mean() < 0.01
    assert empty.shape == (512, 640) and not empty.any()


def test_overlay_shows_the_input_and_no_preview_skips_it(still_clip, tmp_path):
    result = runner.invoke(app, ["segment", str(still_clip), "-o", str(tmp_path / "out"), "--overlay", "--quiet"])
    assert result.exit_code == 0, result.output
    preview = next(read_frames(tmp_path / "out" / "segment.mp4"))
    assert preview[20, 220].mean() > 60  # the grey wall shows through the background
    result = runner.invoke(app, ["segment", str(still_clip), "-o", str(tmp_path / "lean"), "--no-preview", "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "lean").iterdir()) == ["classes.json", "labels", "segment.json"]


class NoisyBackend(SegmentBackend):
    """Two classes from a fixed mask plus random noise: a stand-in for a flickering model (unnamed, so it
    stays out of the registry)."""

    def __init__(self, truth: np.ndarray, noise: float, seed: int = 0):
        self.truth = truth.astype(np.float32)
        self.noise = noise
        self.random = np.random.default_rng(seed)
        self.classes = class_table({0: "background", 1: "person"})

    def scores(self, frame, timestamp_ms):
        person = np.clip(self.truth * 0.7 + 0.15 + self.random.normal(0, self.noise, self.truth.shape), 0, 1)
        return np.stack([1 - person, person], axis=2).astype(np.float32)


def test_smoothing_cuts_flicker_on_a_still_clip():
    frames = [astronaut()[::4, ::4]] * 8
    truth = person_mask()[0][::4, ::4]
    rates = {}
    for smooth in (0.0, 0.7):
        flicker, raw = FlickerMeter(), FlickerMeter()
        labels = list(segment_frames(frames, NoisyBackend(truth, noise=0.3), smooth=smooth, flicker=flicker,
                                     raw_flicker=raw))
        assert len(labels) == 8
        rates[smooth] = flicker.rate
        assert raw.rate > 0.1
    assert rates[0.0] > 0.1
    assert rates[0.7] < rates[0.0] / 2


def test_smoothing_follows_a_moving_person():
    """With smoothing along the flow, the labels stay on a moving person instead of trailing behind."""
    photo = cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    truth = cv2.resize(person_mask()[0].astype(np.uint8), (128, 128), interpolation=cv2.INTER_NEAREST)
    frames, masks = [], []
    for index in range(8):
        matrix = np.float32([[1, 0, 3 * index], [0, 1, 0]])
        frames.append(cv2.warpAffine(photo, matrix, (128, 128), borderMode=cv2.BORDER_REFLECT))
        masks.append(cv2.warpAffine(truth, matrix, (128, 128), flags=cv2.INTER_NEAREST).astype(bool))

    class Exact(SegmentBackend):
        classes = class_table({0: "background", 1: "person"})

        def __init__(self):
            self.index = 0

        def scores(self, frame, timestamp_ms):
            mask = masks[self.index].astype(np.float32)
            self.index += 1
            return np.stack([1 - mask, mask], axis=2)

    labels = list(segment_frames(frames, Exact(), smooth=0.8))
    ignored = np.zeros((128, 128), bool)
    ignored[:, :24] = True  # the reflected border, where the photo repeats itself
    assert min(iou(label == 1, mask, ignored) for label, mask in zip(labels, masks, strict=True)) > 0.93


def test_flicker_counts_only_still_pixels():
    meter = FlickerMeter()
    previous = np.zeros((4, 4), np.uint8)
    labels = previous.copy()
    labels[:, 2:] = 1
    flow = np.zeros((4, 4, 2), np.float32)
    flow[:, 2:] = (3.0, 0.0)  # the changed half moved: not flicker
    flow[:, :2] = (0.3, -0.3)  # under half a pixel: still
    meter.add(previous, labels, still_pixels(flow))
    assert meter.rate == 0.0 and meter.still_fraction == 0.5
    labels[0, 0] = 1
    meter.add(previous, labels, still_pixels(flow))
    assert meter.rate == pytest.approx(1 / 16)


def test_class_table_keeps_cityscapes_colours_and_gives_others_distinct_ones():
    classes = class_table({0: "road", 1: "person", 2: "wall-other", 3: "plant-other"})
    assert classes[0].color == CITYSCAPES_COLORS["road"] and classes[1].color == (220, 20, 60)
    assert classes[2].color != classes[3].color
    with pytest.raises(ValueError, match="uint8"):
        class_table({300: "too many"})


def save_tiny_segformer(folder: Path, names: dict[int, str]) -> Path:
    """A randomly initialised SegFormer (a few hundred weights) with these classes, saved as a hub model is."""
    pytest.importorskip("transformers")
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    torch.manual_seed(0)
    config = SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], num_attention_heads=[1, 1],
        patch_sizes=[7, 3], strides=[4, 2], mlp_ratios=[2, 2], decoder_hidden_size=16, num_labels=len(names),
        id2label=names, label2id={name: index for index, name in names.items()},
    )
    SegformerForSemanticSegmentation(config).eval().save_pretrained(folder)
    SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_segformer(tmp_path_factory):
    return save_tiny_segformer(tmp_path_factory.mktemp("segformer") / "tiny", {0: "road", 1: "person", 2: "sky"})


@pytest.fixture(scope="module")
def tiny_cityscapes(tmp_path_factory):
    """A tiny SegFormer with the id2label of nvidia's Cityscapes models: the 19 train classes by train id."""
    names = dict(enumerate(CITYSCAPES_COLORS))
    return save_tiny_segformer(tmp_path_factory.mktemp("segformer") / "cityscapes", names)


def test_segformer_backend_loads_a_saved_model_and_matches_its_own_forward(tiny_segformer):
    import torch
    from transformers import SegformerForSemanticSegmentation

    frame = astronaut()[::4, ::4]
    with make_backend(SegmentConfig(backend="segformer", model=str(tiny_segformer), device="cpu")) as backend:
        assert [(c.id, c.name) for c in backend.classes] == [(0, "road"), (1, "person"), (2, "sky")]
        scores = backend.scores(frame, 0)
        labels = backend.labels(scores)
    assert scores.shape == (64, 64, 3)
    np.testing.assert_allclose(scores.sum(axis=2), 1.0, atol=1e-4)
    # The same model run by hand with ImageNet normalisation: the backend must preprocess the same way.
    model = SegformerForSemanticSegmentation.from_pretrained(tiny_segformer).eval()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    pixels = torch.tensor(((frame / 255.0 - mean) / std).transpose(2, 0, 1)[None], dtype=torch.float32)
    with torch.no_grad():
        logits = torch.nn.functional.interpolate(model(pixel_values=pixels).logits, (64, 64), mode="bilinear")
    assert (labels == logits[0].argmax(0).numpy()).mean() > 0.99


@pytest.mark.gpu
def test_segformer_on_cuda_matches_the_cpu(tiny_segformer):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    frame = astronaut()[::4, ::4]
    scores = {}
    for device in ("cpu", "cuda"):
        with make_backend(SegmentConfig(backend="segformer", model=str(tiny_segformer), device=device)) as backend:
            scores[device] = backend.scores(frame, 0)
    np.testing.assert_allclose(scores["cuda"], scores["cpu"], atol=1e-3)


def test_segformer_cli_writes_labels_and_classes(tiny_segformer, small_clip, tmp_path):
    output = tmp_path / "out"
    result = runner.invoke(app, ["segment", str(small_clip), "-o", str(output), "--backend", "segformer",
                                 "--model", str(tiny_segformer), "--device", "cpu", "--smooth", "0.5", "--quiet",
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["label_images"] == 4 and "flicker_rate" in summary
    labels = [read_image(path) for path in sorted((output / "labels").iterdir())]
    assert len(labels) == 4 and labels[0].shape == (48, 64) and set(np.unique(labels)) <= {0, 1, 2}
    classes = json.loads((output / "classes.json").read_text())["classes"]
    assert classes[1] == {"id": 1, "name": "person", "color": [220, 20, 60]}


@pytest.mark.slow
def test_mask2former_loads_through_the_same_backend(tmp_path):
    pytest.importorskip("transformers")
    import torch
    from transformers import (
        AutoImageProcessor,
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
        SwinConfig,
    )

    torch.manual_seed(0)
    names = {0: "road", 1: "person"}
    backbone = SwinConfig(image_size=64, patch_size=4, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                          window_size=2, out_features=["stage1", "stage2", "stage3", "stage4"])
    config = Mask2FormerConfig(
        backbone_config=backbone, feature_size=32, mask_feature_size=32, hidden_dim=32, encoder_feedforward_dim=32,
        dim_feedforward=32, encoder_layers=1, decoder_layers=2, num_attention_heads=2, num_queries=4,
        num_labels=2, id2label=names, label2id={name: index for index, name in names.items()}, common_stride=4,
    )
    model = Mask2FormerForUniversalSegmentation(config).eval()
    model.save_pretrained(tmp_path)
    Mask2FormerImageProcessor(size={"shortest_edge": 64, "longest_edge": 128}).save_pretrained(tmp_path)
    frame = cv2.resize(data.astronaut(), (80, 48), interpolation=cv2.INTER_AREA)
    with make_backend(SegmentConfig(backend="segformer", model=str(tmp_path), device="cpu")) as backend:
        assert [c.name for c in backend.classes] == ["road", "person"]
        labels = backend.labels(backend.scores(frame, 0))
    assert labels.shape == (48, 80)
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    with torch.no_grad():
        outputs = model(**processor(images=frame, return_tensors="pt"))
    expected = processor.post_process_semantic_segmentation(outputs, target_sizes=[(48, 80)])[0].numpy()
    assert (labels == expected).mean() > 0.95


def test_segformer_without_transformers_names_the_install(monkeypatch, tiny_segformer):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import now raises ImportError
    with pytest.raises(MissingBackend, match=r"pip install 'v2v\[segformer\]'"):
        make_backend(SegmentConfig(backend="segformer", model=str(tiny_segformer)))


@pytest.fixture
def empty_model_folders(monkeypatch, tmp_path):
    """No model anywhere v2v looks: an empty user cache, $V2V_WEIGHTS and working folder. Returns the cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("V2V_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache" / "v2v"


def put_in_hub_cache(model_folder: Path, hub_id: str, cache: Path) -> None:
    """Lay `model_folder` out as huggingface_hub leaves a download of `hub_id` in `cache`."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repository = cache / ("models--" + hub_id.replace("/", "--"))
    shutil.copytree(model_folder, repository / "snapshots" / revision)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(revision)


@pytest.mark.parametrize("where", ["v2v's hub cache", "a weights folder"])
def test_segformer_without_a_model_is_cityscapes_found_offline(tiny_cityscapes, empty_model_folders, monkeypatch,
                                                               tmp_path, where):
    """No --model: the Cityscapes SegFormer, from what a first run downloaded into v2v's cache or from a folder
    `hf download --local-dir` filled, without a network: classes and colours are Cityscapes'."""
    if where == "v2v's hub cache":
        put_in_hub_cache(tiny_cityscapes, CITYSCAPES_MODEL, hub_cache_dir())
        assert hub_cache_dir() == empty_model_folders / "hub"
    else:
        shutil.copytree(tiny_cityscapes, tmp_path / "weights" / CITYSCAPES_MODEL.split("/")[1])
    monkeypatch.setattr(segformer, "hub_unreachable", lambda: pytest.fail("the network was consulted"))
    with make_backend(SegmentConfig(backend="segformer", device="cpu")) as backend:
        assert backend.classes == CITYSCAPES_CLASSES
        labels = backend.labels(backend.scores(astronaut()[::4, ::4], 0))
    assert labels.shape == (64, 64) and labels.max() < 19
    assert CITYSCAPES_CLASSES[13] == SegmentClass(13, "car", (0, 0, 142))


def test_segformer_downloads_a_missing_model_into_v2vs_cache(empty_model_folders, monkeypatch):
    """With the hub reachable, a hub id not yet cached is fetched into ~/.cache/v2v/hub, not the global one."""
    import transformers

    asked = []

    def from_pretrained(source, **options):
        asked.append((source, options))
        raise OSError("stopped here")

    monkeypatch.setattr(segformer, "hub_unreachable", lambda: None)
    monkeypatch.setattr(transformers.AutoImageProcessor, "from_pretrained", from_pretrained)
    with pytest.raises(MissingModel, match=f"^{CITYSCAPES_MODEL}: cannot load"):
        make_backend(SegmentConfig(backend="segformer", device="cpu"))
    assert asked == [(CITYSCAPES_MODEL, {"local_files_only": False, "cache_dir": str(empty_model_folders / "hub")})]


def test_hub_probe_fails_fast_on_a_closed_port_and_passes_an_open_one(monkeypatch):
    from huggingface_hub import constants

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{listening.getsockname()[1]}")
        assert hub_unreachable() is None
    started = time.monotonic()
    assert hub_unreachable() == "127.0.0.1: Connection refused"  # the port closed with the socket
    assert time.monotonic() - started < 1.0
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub_unreachable() == "HF_HUB_OFFLINE is set"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("offline", ["HF_HUB_OFFLINE", "closed port"])
def test_segformer_default_without_network_or_copy_is_one_line_naming_model(small_clip, tmp_path, offline):
    """As a user without a route to the hub sees it: exit 1 within seconds, one line that says how to get the
    files and to pass --model, nothing written."""
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "V2V_WEIGHTS": str(tmp_path / "w")}
    environment.pop("HF_HUB_OFFLINE", None)
    if offline == "HF_HUB_OFFLINE":
        environment["HF_HUB_OFFLINE"] = "1"
    else:
        environment["HF_ENDPOINT"] = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "v2vcli", "segment", str(small_clip), "-o", str(tmp_path / "out"),
                             "-b", "segformer"], capture_output=True, text=True, cwd=tmp_path, env=environment)
    seconds = time.monotonic() - started
    reason = "HF_HUB_OFFLINE is set" if offline == "HF_HUB_OFFLINE" else "127.0.0.1: Connection refused"
    folder = CITYSCAPES_MODEL.split("/")[1]
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {CITYSCAPES_MODEL}: not in v2v's model cache and the model hub cannot be reached ({reason}); "
        f"where a network exists, run `hf download {CITYSCAPES_MODEL} --local-dir {folder}` and pass "
        f"--model PATH (that folder)"]
    assert seconds < 30  # huggingface_hub alone retries for minutes; this is interpreter start-up and imports
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache" / "v2v" / "hub").exists()


@pytest.mark.skipif(importlib.util.find_spec("detectron2") is not None, reason="detectron2 is installed")
def test_missing_detectron2_names_how_to_install_it(small_clip, tmp_path):
    result = runner.invoke(app, ["segment", str(small_clip), "-o", str(tmp_path / "out"), "-b", "detectron2"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: the detectron2 backend needs detectron2, which is built from source: {DETECTRON2_INSTALL}"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--backend", "deeplab"], "error: unknown segmentation backend 'deeplab'; "
                               "choose one of: pose, selfie, detectron2, segformer"),
    (["--model", "missing.tflite"], "error: missing.tflite: model file not found"),
    (["-b", "selfie", "--model", "missing.tflite"], "error: missing.tflite: model file not found"),
    (["--threshold", "1.5"], "error: threshold must be between 0 and 1, not 1.5"),
    (["--backend", "segformer", "--model", "./no/such/folder"], "error: ./no/such/folder: model folder not found"),
])
def test_bad_options_fail_in_one_line_without_output(small_clip, tmp_path, arguments, message):
    result = runner.invoke(app, ["segment", str(small_clip), "-o", str(tmp_path / "out"), *arguments])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [message]
    assert list(tmp_path.iterdir()) == []


def test_undecodable_video_is_one_clear_line_and_no_output(tmp_path):
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"not a video at all" * 100)
    result = subprocess.run([sys.executable, "-m", "v2vcli", "segment", str(video), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {video}")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.mp4"]
