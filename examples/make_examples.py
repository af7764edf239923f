"""Make the example clips v2v's demo, docs and tests use, from a public-domain photo.

The photo is scikit-image's `astronaut` (Eileen Collins, NASA, public domain), which ships inside the
scikit-image wheel, so the repository carries no third-party video. Each clip moves the photo with a
smooth camera path (the person stays in view in every frame) and carries a generated tone as audio.

    python examples/make_examples.py            # writes examples/target.mp4 and examples/source.mp4

target.mp4: a slow pan and zoom (the appearance a model learns); source.mp4: a different motion — a
sway with the person smaller and off-centre (the moves a dance transfer copies).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import wave
from pathlib import Path

import numpy as np

SIZE = 256
FPS = 24
SECONDS = 4
SAMPLE_RATE = 44100


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # (512, 512, 3) uint8 RGB


def camera_path(kind: str, t: float) -> tuple[float, float, float, float]:
    """(scale, angle in degrees, shift x, shift y in output pixels) at time t in [0, 1]."""
    wave_ = math.sin(2 * math.pi * t)
    if kind == "target":
        return 0.55 + 0.05 * math.sin(math.pi * t), 4 * wave_, 20 * wave_, 6 * math.cos(2 * math.pi * t)
    if kind == "source":
        return 0.42 + 0.04 * math.cos(3 * math.pi * t), 12 * math.sin(4 * math.pi * t), 30 + 10 * wave_, 20
    raise ValueError(kind)


def render_frame(image: np.ndarray, kind: str, t: float) -> np.ndarray:
    import cv2

    scale, angle, shift_x, shift_y = camera_path(kind, t)
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    matrix[0, 2] += SIZE / 2 - width / 2 + shift_x
    matrix[1, 2] += SIZE / 2 - height / 2 + shift_y
    return cv2.warpAffine(image, matrix, (SIZE, SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(40, 40, 48))


def write_tone(path: Path, seconds: float, notes: list[float]) -> None:
    """A short melody of sine tones as 16-bit mono WAV."""
    samples = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    note_length = seconds / len(notes)
    frequency = np.array(notes)[np.minimum((samples // note_length).astype(int), len(notes) - 1)]
    envelope = np.minimum(1.0, (samples % note_length) * 20) * 0.3
    signal = (np.sin(2 * np.pi * frequency * samples) * envelope * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(signal.tobytes())


def make_clip(output: Path, kind: str, notes: list[float]) -> None:
    from v2vcli.io.video import VideoWriter

    image = astronaut()
    frame_count = FPS * SECONDS
    with tempfile.TemporaryDirectory() as folder:
        tone = Path(folder) / "tone.wav"
        write_tone(tone, SECONDS, notes)
        with VideoWriter(output, FPS, crf=20, audio_from=tone) as writer:
            for index in range(frame_count):
                writer.write(render_frame(image, kind, index / frame_count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    make_clip(args.output_dir / "target.mp4", "target", [440.0, 554.4, 659.3, 880.0])
    make_clip(args.output_dir / "source.mp4", "source", [523.3, 392.0, 329.6, 392.0, 523.3, 659.3])
    print(f"wrote {args.output_dir / 'target.mp4'} and {args.output_dir / 'source.mp4'}")


if __name__ == "__main__":
    main()
