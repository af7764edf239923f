"""Rebuild the mediapipe model files in weights/ from the Apache-2.0 models inside the mediapipe 0.10.21 wheel.

mediapipe 1.x wheels ship no model files and v2v may not download any at run time, so the files live in
the repository. The pose models inside the 0.10.21 wheel lack the image-input normalization metadata the
Tasks API needs; 0.10.21's metadata writer adds it (1.x's writer is broken: `mediapipe.tasks.cc` is
missing), and the two models are bundled into the `.task` zip PoseLandmarker loads.

Run it in a throwaway virtual environment (it needs nothing from v2v):

    python3 -m venv /tmp/mp0
    /tmp/mp0/bin/pip install mediapipe==0.10.21
    /tmp/mp0/bin/python weights/build_mediapipe_models.py            # writes into weights/

The outputs are byte-for-byte reproducible (zip entries get a fixed timestamp), so their sha256 sums
match weights/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
import zipfile
from pathlib import Path
from unittest import mock

REQUIRED_VERSION = "0.10.21"
POSE_TASK = "pose_landmarker_full.task"
SELFIE_SEGMENTATION = "selfie_segmentation.tflite"

# (file inside the wheel, name inside the .task bundle, model name, normalization mean, std).
# The detector takes pixels in [-1, 1], the landmark model in [0, 1] (as in mediapipe's own bundle).
POSE_PARTS = (
    ("modules/pose_detection/pose_detection.tflite", "pose_detector.tflite", "BlazePose detector", 127.5, 127.5),
    ("modules/pose_landmark/pose_landmark_full.tflite", "pose_landmarks_detector.tflite",
     "BlazePose GHUM 3D full", 0.0, 255.0),
)
SELFIE_SOURCE = "modules/selfie_segmentation/selfie_segmentation.tflite"

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


def build(out_dir: Path) -> list[Path]:
    """Write the pose .task bundle and the selfie segmentation model into `out_dir`; return their paths."""
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    if mediapipe.__version__ != REQUIRED_VERSION:
        raise SystemExit(f"needs mediapipe=={REQUIRED_VERSION} (found {mediapipe.__version__}); see the docstring")
    wheel = Path(mediapipe.__file__).parent
    out_dir.mkdir(parents=True, exist_ok=True)

    parts = {
        bundle_name: with_image_metadata((wheel / source).read_bytes(), name, mean, std)
        for source, bundle_name, name, mean, std in POSE_PARTS
    }
    task = out_dir / POSE_TASK
    partial = task.with_name(task.name + ".partial")
    with mock.patch.object(zipfile.time, "localtime", lambda *_: _FIXED_TIME):
        model_asset_bundle_utils.create_model_asset_bundle(parts, str(partial))
    partial.replace(task)

    selfie = out_dir / SELFIE_SEGMENTATION
    shutil.copyfile(wheel / SELFIE_SOURCE, selfie)
    return [task, selfie]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder to write the model files into [default: this script's folder]")
    for path in build(parser.parse_args().out):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{digest}  {path.name}  ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
