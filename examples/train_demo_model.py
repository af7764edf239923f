"""Train the model shipped as weights/demo/ from the bundled example clip.

    python examples/train_demo_model.py [--steps N] [--work out/demo-model]

prepare examples/target.mp4 (128x128) -> train the tiny preset (by default for its default number of
steps, as `v2v train --preset tiny` does) -> copy the final generator (one
safetensors file that holds its config and the checksum of its tensors) to
weights/demo/generator.safetensors. Then `v2v dance --source examples/source.mp4 --target demo` runs on a
fresh install in seconds. Both checksums it prints go into weights/README.md's table.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

from v2vcli.config import RunSettings, default_steps, preset
from v2vcli.data.prepare import PrepareConfig, prepare_dataset
from v2vcli.demo import DEMO_SIZE
from v2vcli.training import train
from v2vcli.training.checkpoint import CHECKSUM_KEY, load_tensor_file

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="default: the tiny preset's")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "demo-model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    dataset = prepare_dataset([ROOT / "examples" / "target.mp4"], args.work / "dataset",
                              PrepareConfig(size=DEMO_SIZE, overwrite=True))
    config = preset("tiny")
    config.train.steps, config.train.seed = args.steps or default_steps("tiny"), args.seed
    result = train(config, RunSettings(name="demo", output_dir=str(args.work / "weights"),
                                       dataset=dataset["dataset"], overwrite=True))
    target = ROOT / "weights" / "demo" / "generator.safetensors"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.checkpoint / "generator.safetensors", target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    _, metadata = load_tensor_file(target)  # verifies the copy against the checksum it records
    print(f"wrote {target} ({target.stat().st_size} bytes, sha256 {digest}, "
          f"{CHECKSUM_KEY} {metadata[CHECKSUM_KEY]})")


if __name__ == "__main__":
    main()
