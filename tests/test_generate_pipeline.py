"""The generation pipeline: condition encoding on the device, frames through pinned buffers and streams,
the compiled / CUDA-graph step and the H.264 encoder choice. Random-weights tiny models (the result must
equal the plain frame loop's, whatever the weights); GPU tests are marked `gpu` and skipped without CUDA."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.conditions import condition_named
from v2vcli.config import preset
from v2vcli.data.conditions import encode_conditions
from v2vcli.errors import BadInput
from v2vcli.inference.generate import LoadedModel, SpeedOptions
from v2vcli.inference.sequential import SequentialGenerator, to_uint8
from v2vcli.inference.transfer import MapEncoder
from v2vcli.io import encoders
from v2vcli.io.video import probe_video, read_frames

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def random_model(folder, condition: str = "pose", classes: int = 3, size=(64, 32), seed: int = 0):
    """A tiny generator with random weights for `condition` maps of `size` (W, H), saved as training saves one."""
    from v2vcli.models import Generator
    from v2vcli.training.checkpoint import save_tensor_file

    config = preset("tiny")
    config.data.condition, config.data.num_classes = condition, classes
    config.model.label_channels = condition_named(condition).channels(classes)
    config.data.size = config.data.dataset_size = list(size)
    torch.manual_seed(seed)
    generator = Generator(config.model)
    path = folder / f"{condition}.safetensors"
    tensors = {name: tensor.detach().contiguous() for name, tensor in generator.state_dict().items()}
    save_tensor_file(tensors, path, {"format": "v2v-generator", "config": config.to_json(), "step": "0"})
    return path


def pose_maps(count: int, size=(64, 32), seed: int = 1) -> list[np.ndarray]:
    """Moving coloured blocks on black, (H, W, 3) uint8: every frame different, like pose renderings."""
    width, height = size
    maps = []
    for index in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[4:20, 2 + 3 * index:14 + 3 * index] = (255, 85 * (index % 3), 40)
        frame[20:28, 30:40 + index] = np.random.default_rng(seed + index).integers(0, 256, 3, dtype=np.uint8)
        maps.append(frame)
    return maps


def plain_loop(model: LoadedModel, maps: list[np.ndarray]) -> list[np.ndarray]:
    """The frame loop without the pipeline: the registry's host encoding, the generator, to_uint8."""
    sequential = SequentialGenerator(model.sequential.generator, model.config, model.device)
    return [to_uint8(sequential.tensor(encode_conditions(item[None], model.condition, model.channels)[0]))
            for item in maps]


@pytest.fixture(scope="module")
def pose_model(tmp_path_factory):
    return random_model(tmp_path_factory.mktemp("pipeline"))


@pytest.mark.parametrize("name, classes", [("pose", 3), ("segment", 5), ("edges", 1), ("face", 3)])
def test_device_encoding_is_the_registry_encoding(name, classes):
    condition = condition_named(name)
    rng = np.random.default_rng(0)
    shape = (16, 24) if condition.stored_channels == 1 else (16, 24, 3)
    maps = rng.integers(0, classes if condition.class_ids else 256, shape, dtype=np.uint8)
    encoder = MapEncoder(condition, classes, torch.device("cpu"))
    assert encoder.fits(maps)
    assert torch.equal(encoder.lookup(torch.from_numpy(maps)), encode_conditions(maps[None], name, classes)[0])


def test_class_ids_beyond_the_model_are_not_looked_up_and_fail_as_the_registry_says():
    encoder = MapEncoder(condition_named("segment"), 5, torch.device("cpu"))
    bad = np.full((8, 8), 7, np.uint8)
    assert not encoder.fits(bad)  # an index past the table would stop a GPU
    with pytest.raises(BadInput, match="class id 7"):
        encoder.host(bad)


def test_pipeline_frames_equal_the_plain_frame_loop(pose_model):
    maps = pose_maps(6)
    model = LoadedModel(str(pose_model), "cpu")
    frames = [model.generate(item).pixels() for item in maps]
    expected = plain_loop(LoadedModel(str(pose_model), "cpu"), maps)
    assert all(frame.shape == (32, 64, 3) and frame.dtype == np.uint8 for frame in frames)
    assert all(np.array_equal(frame, reference) for frame, reference in zip(frames, expected, strict=True))
    assert len({frame.tobytes() for frame in frames}) > 1  # the frames follow their maps


def test_to_uint8_keeps_leading_dimensions():
    images = torch.linspace(-1.5, 1.5, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    batch = to_uint8(images)
    assert batch.shape == (2, 4, 5, 3) and batch.min() == 0 and batch.max() == 255
    assert np.array_equal(to_uint8(images[1]), batch[1])


def test_encoder_choice(monkeypatch):
    monkeypatch.setattr(encoders, "nvenc_available", lambda: False)
    assert encoders.h264_encoder("auto", 64, 32, lossless=False) == encoders.X264
    with pytest.raises(BadInput, match="nvenc"):
        encoders.check_encoder("nvenc")
    with pytest.raises(BadInput, match="auto, x264, nvenc"):
        encoders.check_encoder("h265")
    monkeypatch.setattr(encoders, "nvenc_available", lambda: True)
    assert encoders.h264_encoder("auto", 64, 32, lossless=False) == encoders.NVENC
    assert encoders.h264_encoder("auto", 63, 32, lossless=False) == encoders.X264  # 4:2:0 needs even sides
    assert encoders.h264_encoder("auto", 64, 32, lossless=True) == encoders.X264


def test_generate_states_its_encoder_and_refuses_nvenc_it_cannot_use(tmp_path, pose_model, monkeypatch):
    from v2vcli.io.frames import write_image

    monkeypatch.setattr(encoders, "nvenc_available", lambda: False)
    labels = tmp_path / "labels"
    labels.mkdir()
    for index, item in enumerate(pose_maps(5)):
        write_image(labels / f"{index:06d}.png", item)
    output = tmp_path / "out.mp4"
    result = CliRunner().invoke(app, ["generate", str(labels), "-m", str(pose_model), "-o", str(output), "--device",
                                      "cpu", "-q", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["encoder"] == "libx264" and not summary["compiled"] and not summary["cuda_graphs"]
    assert probe_video(output).frame_count == 5 and len(list(read_frames(output))) == 5

    refused = tmp_path / "refused.mp4"
    result = CliRunner().invoke(app, ["generate", str(labels), "-m", str(pose_model), "-o", str(refused), "--device",
                                      "cpu", "--encoder", "nvenc", "-q"])
    assert result.exit_code == 1 and "--encoder nvenc" in result.output and not refused.exists()
    result = CliRunner().invoke(app, ["generate", str(labels), "-m", str(pose_model), "-o", str(refused), "--device",
                                      "cpu", "--cuda-graphs", "-q"])
    assert result.exit_code == 1 and "needs a CUDA device" in result.output and not refused.exists()


@pytest.mark.slow
def test_compiled_step_gives_the_eager_frames(pose_model):
    maps = pose_maps(5)
    compiled = LoadedModel(str(pose_model), "cpu", SpeedOptions(compile=True))
    frames = [compiled.generate(item).pixels() for item in maps]
    expected = plain_loop(LoadedModel(str(pose_model), "cpu"), maps)
    assert compiled.sequential.compiled
    for frame, reference in zip(frames, expected, strict=True):  # kernels fused differently: rounding only
        assert np.abs(frame.astype(int) - reference).max() <= 1


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("speed", [SpeedOptions(), SpeedOptions(compile=True), SpeedOptions(cuda_graphs=True)],
                         ids=["eager", "compiled", "cuda-graphs"])
def test_cuda_pipeline_gives_the_frames_of_the_plain_loop(pose_model, speed):
    maps = pose_maps(24)
    model = LoadedModel(str(pose_model), "cuda", speed)
    pending = [model.generate(item) for item in maps]  # queued at once: slots are reused after `depth` frames
    frames = [frame.pixels().copy() for frame in pending[-model.frames.depth:]]
    expected = plain_loop(LoadedModel(str(pose_model), "cuda"), maps)[-model.frames.depth:]
    # bfloat16 autocast, fused kernels: a few levels at most, on a few pixels
    for frame, reference in zip(frames, expected, strict=True):
        difference = np.abs(frame.astype(int) - reference)
        assert difference.mean() < 1.0 and np.percentile(difference, 99) <= 8


@pytest.mark.gpu
@needs_cuda
def test_cuda_segment_maps_are_encoded_on_the_device(tmp_path):
    model = LoadedModel(str(random_model(tmp_path, "segment", 6)), "cuda")
    maps = [np.random.default_rng(index).integers(0, 6, (32, 64), dtype=np.uint8) for index in range(4)]
    frames = [model.generate(item).pixels().copy() for item in maps]
    assert model.frames.encoder.on_device
    expected = plain_loop(LoadedModel(str(model.path), "cuda"), maps)
    assert all(np.abs(a.astype(int) - b).mean() < 1.0 for a, b in zip(frames, expected, strict=True))


@pytest.mark.gpu
@needs_cuda
def test_nvenc_is_found_and_used_where_the_gpu_has_it(tmp_path, pose_model):
    from v2vcli.io.video import VideoWriter

    if not encoders.nvenc_available():
        pytest.skip("this GPU or driver has no NVENC for the bundled ffmpeg")
    output = tmp_path / "nvenc.mp4"
    with VideoWriter(output, 24, encoder="auto") as writer:
        for item in pose_maps(8, size=(256, 128)):
            writer.write(item)
    assert writer.codec == encoders.NVENC and probe_video(output).frame_count == 8
