"""Loss terms as a registry: a loss added in one place is trained and logged; totals follow each term's network."""

from __future__ import annotations

import pytest
import torch

from v2vcli.config import RunSettings, preset
from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.models import Discriminators, Generator
from v2vcli.training import terms
from v2vcli.training.logs import read_log
from v2vcli.training.schedule import Phase
from v2vcli.training.step import StepRunner
from v2vcli.training.terms import LossContext, loss_term
from v2vcli.training.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = (32, 32)
FRAMES = 6
PHASE = Phase(0, 0, 1, 1, SIZE, FRAMES)


@pytest.fixture
def registry(monkeypatch):
    """The registered terms as they are; whatever a test registers is gone after it."""
    monkeypatch.setattr(terms, "LOSS_TERMS", list(terms.LOSS_TERMS))
    return terms


def tiny_runner(use_flow: bool = True, **train) -> StepRunner:
    """A StepRunner over the tiny preset's networks (seed 0), with these hyperparameters."""
    config = preset("tiny")
    config.model.label_channels, config.model.use_flow = 3, use_flow
    for key, value in train.items():
        setattr(config.train, key, value)
    torch.manual_seed(0)
    generator, discriminators = Generator(config.model), Discriminators(config.model)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=config.train.lr_G, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminators.parameters(), lr=config.train.lr_D, betas=(0.5, 0.999))
    return StepRunner(config, generator, discriminators, optimizer_G, optimizer_D, None, torch.device("cpu"))


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    width, height = SIZE
    return {"images": torch.rand(1, FRAMES, 3, height, width, generator=generator) * 2 - 1,
            "labels": torch.rand(1, FRAMES, 3, height, width, generator=generator) * 2 - 1,
            "flows": torch.randn(1, FRAMES, 2, height, width, generator=generator)}


def generated_mean(runner: StepRunner, batch) -> float:
    with torch.no_grad():
        return float(runner.generator(batch["labels"])["image"].mean())


def test_a_loss_added_in_one_place_is_logged_and_trains_the_generator(registry, monkeypatch, batch):
    # only the discriminator's terms and the toy one: the generator learns from the toy term alone
    monkeypatch.setattr(terms, "LOSS_TERMS", [term for term in terms.LOSS_TERMS if term.network == "D"])

    @loss_term("G", "toy", weight=50.0)
    def brighter(context: LossContext) -> torch.Tensor:
        return (1 - context.generated["image"].float()).mean()

    runner = tiny_runner(lr_G=1e-3)
    before = generated_mean(runner, batch)
    weights = [parameter.detach().clone() for parameter in runner.generator.parameters()]
    means = []
    for _ in range(3):
        losses = runner.run(batch, PHASE)
        means.append(generated_mean(runner, batch))
    assert sorted(key for key in losses if key.startswith("G/")) == ["G/total", "G/toy"]
    assert losses["G/toy"] == pytest.approx(losses["G/total"])
    assert before < means[0] < means[1] < means[2] and means[2] - before > 0.5, (before, means)
    assert any(not torch.equal(old, new) for old, new in zip(weights, runner.generator.parameters(), strict=True))


def test_a_registered_term_reaches_the_run_log_and_the_generator_total(registry, tmp_path):
    @loss_term("G", "toy", weight=2.0)
    def darker(context: LossContext) -> torch.Tensor:
        return (context.generated["image"].float() + 1).mean()

    dataset = write_shapes_dataset(tmp_path / "data", frames=FRAMES, size=SIZE)
    run = RunSettings(name="toy", output_dir=str(tmp_path), dataset=str(dataset), quiet=True, sample_every=0,
                      vgg=False)
    config = preset("tiny")
    config.train.steps = 2
    result = train(config, run)
    steps = [record for record in read_log(result.model / "log.jsonl") if "step" in record and "event" not in record]
    assert all("G/toy" in record for record in steps) and result.losses["G/toy"] > 0
    for record in steps:  # each network's total is the sum of its own terms (the image D's halves averaged)
        generator = sum(value for key, value in record.items() if key.startswith("G/") and key != "G/total")
        discriminator = 0.5 * (record["D/real"] + record["D/fake"] + record["D/raw"]) + sum(
            value for key, value in record.items() if key.startswith("D/temporal"))
        assert record["G/total"] == pytest.approx(generator, abs=1e-5)
        assert record["D/total"] == pytest.approx(discriminator, abs=1e-5)


def test_opt_in_terms_run_only_with_a_positive_weight_and_inapplicable_ones_are_not_logged(batch):
    losses = tiny_runner().run(batch, PHASE)
    assert "G/l1" not in losses and "G/vgg" not in losses  # lambda_l1 is 0; no VGG weights
    assert {"G/gan", "G/feat", "G/raw", "G/flow", "G/warp", "G/mask", "G/output_warp", "D/real", "D/fake", "D/raw",
            "D/temporal0"} <= set(losses)
    losses = tiny_runner(lambda_l1=3.0).run(batch, PHASE)
    assert losses["G/l1"] > 0
    assert not {"G/flow", "G/warp", "G/mask", "G/raw", "D/raw"} & set(tiny_runner(use_flow=False).run(batch, PHASE))


def test_mistakes_in_a_registration_fail_when_the_term_is_defined(registry):
    def function(context):
        return None

    with pytest.raises(ValueError, match="network 'E'"):
        loss_term("E", "toy")(function)
    with pytest.raises(ValueError, match="lambda_toy.*not a TrainConfig field"):
        loss_term("G", "toy", weight="lambda_toy")(function)
    with pytest.raises(ValueError, match="G/feat is already registered"):
        loss_term("G", "feat", weight="lambda_feat")(function)
    loss_term("D", "feat")(function)  # the same name for the other network is another term
