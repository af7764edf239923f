"""Progressive training (paper sec. 3.3): coarse-to-fine in space, short-to-long in time.

The run's steps are split evenly over spatial stages, one per generator scale: stage k trains scales
0..k at 1/2^(S-1-k) of the final size, so each finer scale (a local enhancer) is added on a trained
coarser model. Inside every stage the clip length doubles from `n_frames_start` up to `n_frames_max`
in equal parts, so the generator first learns short-range consistency, then longer. The first
`fine_warmup` of a stage that adds a scale trains that scale alone (the coarser ones are held), so the
untrained enhancer's first gradients do not undo the trained coarse network.

The schedule is a pure function of the config: a resumed run recomputes the same phases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from v2vcli.config import ModelConfig, TrainConfig


@dataclass(frozen=True)
class Phase:
    """Steps [start, end) train `n_scales` generator scales at `size` (W, H) on clips of `n_frames`; the
    first `frozen_scales` of them are held (run without gradient)."""

    index: int
    start: int
    end: int
    n_scales: int
    size: tuple[int, int]
    n_frames: int
    frozen_scales: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def frame_levels(model: ModelConfig, train: TrainConfig) -> list[int]:
    """Clip lengths of one stage: start, 2*start, ... capped at n_frames_max (which always comes last)."""
    start = train.n_frames_start or model.n_frames_G + 1
    longest = max(start, train.n_frames_max)
    levels = [start]
    while levels[-1] * 2 < longest:
        levels.append(levels[-1] * 2)
    if levels[-1] != longest:
        levels.append(longest)
    return levels


def build_schedule(model: ModelConfig, train: TrainConfig, size: tuple[int, int], steps: int) -> list[Phase]:
    """The phases of a run of `steps` steps whose final training size is `size` (W, H)."""
    stages = model.n_scales_spatial
    levels = frame_levels(model, train)
    phases: list[Phase] = []
    for stage in range(stages):
        stage_start, stage_end = steps * stage // stages, steps * (stage + 1) // stages
        length = stage_end - stage_start
        warmup_end = stage_start + (round(length * train.fine_warmup) if stage else 0)
        factor = 2 ** (stages - 1 - stage)
        stage_size = (size[0] // factor, size[1] // factor)
        for level, frames in enumerate(levels):
            start = stage_start + length * level // len(levels)
            end = stage_start + length * (level + 1) // len(levels)
            # the part of this level inside the warm-up holds the coarser scales
            for first, last, frozen in ((start, min(end, warmup_end), stage), (max(start, warmup_end), end, 0)):
                if last > first:
                    phases.append(Phase(len(phases), first, last, stage + 1, stage_size, frames, frozen))
    if not phases:
        phases.append(Phase(0, 0, 0, stages, size, levels[-1]))
    return phases


def phase_at(phases: list[Phase], step: int) -> Phase:
    """The phase that step number `step` (0-based) belongs to; the last one past the end."""
    for phase in phases:
        if phase.start <= step < phase.end:
            return phase
    return phases[-1]


def describe(phases: list[Phase]) -> str:
    """A small table, one line per phase, for the console and the log."""
    lines = ["steps            scales  size       frames"]
    for phase in phases:
        steps = f"{phase.start + 1}-{phase.end}"
        size = f"{phase.size[0]}x{phase.size[1]}"
        held = f" (coarser {phase.frozen_scales} held)" if phase.frozen_scales else ""
        lines.append(f"{steps:<16} {phase.n_scales:<7} {size:<10} {phase.n_frames}{held}")
    return "\n".join(lines)


def learning_rate_factor(train: TrainConfig, step: int, steps: int) -> float:
    """The learning rates' factor at step number `step` (0-based) of `steps`: 1 for the first
    `lr_decay_start` of the run, then falling linearly to 0 at the last step (vid2vid's schedule)."""
    start = round(steps * train.lr_decay_start)
    if step < start or steps <= start:
        return 1.0
    return max(0.0, (steps - step) / (steps - start))
