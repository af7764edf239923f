"""`v2v demo`: the whole path on the bundled example clips, in a few minutes on a CPU.

prepare examples/target.mp4 -> train the tiny preset for a bounded number of steps -> dance it to
examples/source.mp4 (side by side, with the source's audio). Everything goes under one output folder:

    OUT/dataset/             the training set (v2v prepare)
    OUT/weights/demo/        the model, its log and samples (v2v train)
    OUT/dance.mp4            source | normalized pose | result, with the source's audio (v2v dance)
"""

from __future__ import annotations

from pathlib import Path

from v2vcli.errors import BadInput

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_SIZE = [128, 128]


def examples_dir() -> Path:
    """The example clips: ./examples, or the source checkout's examples/."""
    for folder in (Path("examples"), EXAMPLES):
        if (folder / "target.mp4").is_file() and (folder / "source.mp4").is_file():
            return folder
    raise BadInput("the example clips are missing: run `python examples/make_examples.py` in a source checkout")


def run_demo(output: Path, steps: int = 300, device: str = "auto", quiet: bool = False) -> dict:
    """Prepare, train and dance on the example clips; returns the three steps' summaries."""
    from v2vcli.config import RunSettings, preset
    from v2vcli.data.prepare import PrepareConfig, prepare_dataset
    from v2vcli.inference.dance import DanceConfig, dance
    from v2vcli.training import train

    examples = examples_dir()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    dataset = prepare_dataset([examples / "target.mp4"], output / "dataset",
                              PrepareConfig(size=DEMO_SIZE, overwrite=True, quiet=quiet))
    config = preset("tiny")
    config.train.steps = steps
    run_dir = train(config, RunSettings(name="demo", output_dir=str(output / "weights"), dataset=dataset["dataset"],
                                        device=device, overwrite=True, quiet=quiet)).model
    result = dance(examples / "source.mp4", output / "dance.mp4",
                   DanceConfig(target=str(run_dir), device=device, side_by_side=True, overwrite=True, quiet=quiet))
    return {"dataset": dataset, "model": str(run_dir), "dance": result}
