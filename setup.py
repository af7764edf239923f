"""Build hook: a wheel carries the model files of `weights/` as package data, `v2vcli/weights_data/`.

`weights/` at the repository root stays the one copy in the source tree (the tools, the docs and
`weights/build_mediapipe_models.py` use it there; editable installs read it in place). Everything else
about the package is in pyproject.toml; MANIFEST.in puts the same files into the sdist.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# The model files the tools use, relative to weights/: not the models a user trains into weights/NAME/.
BUNDLED_WEIGHTS = ("README.md", "pose_landmarker_full.task", "hand_landmarker.task", "face_landmarker.task",
                   "selfie_segmentation.tflite", "demo/generator.safetensors")


class BuildWithWeights(build_py):
    """build_py that also copies the bundled model files into the build (a missing one fails the build)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # v2vcli.weights finds the source tree's weights/ instead
            return
        for name in BUNDLED_WEIGHTS:
            target = Path(self.build_lib, "v2vcli", "weights_data", name)
            self.mkpath(str(target.parent))
            self.copy_file(str(Path("weights", name)), str(target))


setup(cmdclass={"build_py": BuildWithWeights})
