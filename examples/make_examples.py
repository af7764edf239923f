"""Make the example clips v2v's demo, docs and tests use: two short excerpts of real footage.

Both come from sports2d's demo video (the `sports2d` clip of examples/footage.py: the sports2d 0.8.34
wheel on PyPI, BSD-3-Clause, Copyright (c) 2022 perfanalytics; the notice is examples/NOTICE), cropped
around one person, downscaled to 256x256 and re-encoded (H.264 + AAC, with the footage's own sound):

    python examples/make_examples.py            # writes examples/target.mp4 and examples/source.mp4

target.mp4: the man on the box, frames 0-143 (4.8 s): jumping jacks, then he turns and walks sideways
(the appearance a model learns). source.mp4: the woman walking across the lawn below him, frames 60-155
(3.2 s), the crop panning with her (the moves a dance transfer copies: another person, another place).
The same crop of the man is the quality benchmark's clip (benchmarks/quality.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = 256
FOOTAGE_FPS = 30
# (first frame, end frame, ffmpeg crop of the 1768x994 footage); the source's crop pans left with the
# walker at about 9.5 px a frame, so she stays near its centre.
EXCERPTS = {
    "target": (0, 144, "crop=520:520:420:0"),
    "source": (60, 156, "crop=600:600:'max(0,min(iw-600,1100-n*9.5))':394"),
}


def write_excerpt(footage: Path, output: Path, first: int, end: int, crop: str) -> None:
    from imageio_ffmpeg import get_ffmpeg_exe

    start, duration = first / FOOTAGE_FPS, (end - first) / FOOTAGE_FPS
    video = (f"[0:v]trim=start_frame={first}:end_frame={end},setpts=PTS-STARTPTS,{crop},"
             f"scale={SIZE}:{SIZE}:flags=area,format=yuv420p[v]")
    audio = f"[0:a]atrim=start={start}:duration={duration},asetpts=PTS-STARTPTS[a]"
    subprocess.run([get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(footage),
                    "-filter_complex", f"{video};{audio}", "-map", "[v]", "-map", "[a]",
                    "-c:v", "libx264", "-crf", "20", "-preset", "slow", "-c:a", "aac", "-b:a", "96k",
                    "-movflags", "+faststart", "-map_metadata", "-1", str(output)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=HERE, help="folder for target.mp4 and source.mp4")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))  # footage.py beside this script fetches and caches the footage
    import footage as footage_script

    footage = footage_script.fetch("sports2d")
    for name, (first, end, crop) in EXCERPTS.items():
        path = args.output / f"{name}.mp4"
        write_excerpt(footage, path, first, end, crop)
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
