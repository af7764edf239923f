"""`train(config)`: the whole vid2vid training run, from a dataset folder to weights/NAME/.

The trainer owns the losses and optimizers (networks only return tensors). A run folder holds
config.json, log.jsonl, samples/ and checkpoint-NNNNNNN/ folders (see checkpoint.py). Resuming takes
the saved config (only runtime settings such as the device may change) and continues from the newest
checkpoint with the same step count and schedule; since every sample is a function of its number,
a resumed run sees the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import torch

from v2vcli.config import DEFAULT_STEPS, Config
from v2vcli.data import ClipDataset, choose_size, open_dataset
from v2vcli.errors import BadInput, OutputExists
from v2vcli.models import Discriminators, Generator, count_parameters
from v2vcli.models.discriminators import temporal_span
from v2vcli.models.losses import GAN_MODES, PerceptualLoss
from v2vcli.training import checkpoint as checkpoints
from v2vcli.training import distributed
from v2vcli.training.logs import RunLog
from v2vcli.training.schedule import Phase, build_schedule, describe, phase_at
from v2vcli.training.step import StepRunner

# Settings a resumed run takes from the command line rather than from the saved config.
RUNTIME_FIELDS = ("device", "compile", "quiet", "stop_after", "resume", "overwrite", "output_dir", "name")


def train(config: Config) -> Path:
    """Train (or resume) the run `config.train.name`; returns its folder, weights/NAME."""
    context = distributed.setup(config.train.device)
    try:
        return Trainer(config, context).run()
    finally:
        distributed.cleanup(context)


class FramesAt:
    """Sample number -> clip length, from the schedule (picklable for DataLoader workers)."""

    def __init__(self, phases: list[Phase], samples_per_step: int):
        self.phases = phases
        self.samples_per_step = samples_per_step

    def __call__(self, index: int) -> int:
        return phase_at(self.phases, index // self.samples_per_step).n_frames


class SampleNumbers(torch.utils.data.Sampler):
    """Sample numbers of this process from `first_step` on: step s, rank r, slot j -> (s*world + r)*batch + j."""

    def __init__(self, first_step: int, batch_size: int, context: distributed.Context):
        self.first_step, self.batch_size, self.context = first_step, batch_size, context

    def __iter__(self):
        step = self.first_step
        while True:
            base = (step * self.context.world_size + self.context.rank) * self.batch_size
            yield from range(base, base + self.batch_size)
            step += 1


class Trainer:
    def __init__(self, requested: Config, context: distributed.Context):
        self.context = context
        train = requested.train
        if not train.name or "/" in train.name or train.name.startswith("."):
            raise BadInput(f"--name {train.name!r}: use a plain folder name such as 'person'")
        if train.gan_mode not in GAN_MODES:
            raise BadInput(f"gan_mode {train.gan_mode!r}: choose one of {', '.join(GAN_MODES)}")
        self.run_dir = Path(train.output_dir) / train.name
        self.resumed = self._resume_point(requested)
        distributed.barrier(context)  # every process has looked at the folder before rank 0 writes to it
        config = self._merge(self.resumed.config, requested) if self.resumed else dataclasses.replace(requested)
        if config.train.steps is None:
            config.train.steps = DEFAULT_STEPS
        self.info = open_dataset(config.data.root, config.data.num_classes)
        config.model.label_channels = self.info.label_channels
        data = config.data
        data.condition, data.num_classes, data.instance_edges = (
            self.info.condition, self.info.num_classes, self.info.has_instances)
        data.fps, data.pose_stats, data.dataset_size = self.info.fps, self.info.pose_stats, list(self.info.size)
        if config.model.fg_separation and not self.info.has_masks:
            raise BadInput(f"{config.data.root}: foreground separation needs masks/ in every sequence")
        self.size = choose_size(self.info, config.data, config.model.size_multiple)
        config.data.size = list(self.size)
        self.config = config
        self.phases = build_schedule(config.model, config.train, self.size, config.train.steps)
        self.log = RunLog(self.run_dir, context.is_main, config.train.quiet)

    def _resume_point(self, requested: Config) -> checkpoints.Checkpoint | None:
        existing = checkpoints.latest_checkpoint(self.run_dir)
        if requested.train.resume and existing is not None:
            return checkpoints.load_checkpoint(existing)
        if self.run_dir.exists() and any(self.run_dir.iterdir()) and not requested.train.resume:
            if not requested.train.overwrite:
                raise OutputExists(f"{self.run_dir}: already holds a run; pass --resume to continue it "
                                   "or --overwrite to start again")
            distributed.barrier(self.context)
            if self.context.is_main:
                shutil.rmtree(self.run_dir)
            distributed.barrier(self.context)
        return None

    @staticmethod
    def _merge(saved: Config, requested: Config) -> Config:
        config = Config.from_dict(saved.to_dict())
        for name in RUNTIME_FIELDS:
            setattr(config.train, name, getattr(requested.train, name))
        if requested.train.steps is not None:
            config.train.steps = requested.train.steps
        if requested.train.vgg_path:
            config.train.vgg_path = requested.train.vgg_path
        config.data.root = requested.data.root
        config.data.num_workers = requested.data.num_workers
        return config

    def build(self) -> None:
        config, device = self.config, self.context.device
        torch.manual_seed(config.train.seed)
        generator = Generator(config.model).to(device)
        discriminators = Discriminators(config.model).to(device)
        if device.type == "cuda":
            generator = generator.to(memory_format=torch.channels_last)
            discriminators = discriminators.to(memory_format=torch.channels_last)
        train = config.train
        self.optimizer_G = torch.optim.Adam(generator.parameters(), lr=train.lr_G, betas=(train.beta1, train.beta2))
        self.optimizer_D = torch.optim.Adam(discriminators.parameters(), lr=train.lr_D,
                                            betas=(train.beta1, train.beta2))
        self.start_step = 0
        self.notes: list[str] = []
        if self.resumed:
            self._restore(self.resumed, generator, discriminators)
        perceptual = None
        if train.vgg_path:
            from v2vcli.models.vgg import load_vgg19

            perceptual = PerceptualLoss(load_vgg19(train.vgg_path).to(device))
        elif train.lambda_vgg > 0:
            self.notes.append("VGG perceptual loss off: no VGG19 weights given (--vgg vgg19.pth to turn it on)")
        if train.compile:
            for scale in generator.scales:
                scale.compile()
            discriminators.compile()
        self.generator, self.discriminators = generator, discriminators
        model, chunk = config.model, config.train.frames_per_chunk
        shortest = min(chunk, *(phase.n_frames for phase in self.phases))
        generator_idle = model.n_scales_spatial > 1 or (model.use_flow and chunk <= model.n_previous)
        discriminator_idle = model.n_scales_temporal > 0 and \
            temporal_span(model, model.n_scales_temporal - 1) > shortest
        self.runner = StepRunner(config, distributed.wrap(generator, self.context, generator_idle),
                                 distributed.wrap(discriminators, self.context, discriminator_idle),
                                 self.optimizer_G, self.optimizer_D, perceptual, device)
        if self.resumed and self.runner.scaler is not None and self.resumed.state.get("scaler"):
            self.runner.scaler.load_state_dict(self.resumed.state["scaler"])

    def _restore(self, saved: checkpoints.Checkpoint, generator, discriminators) -> None:
        generator.load_state_dict(saved.generator)
        discriminators.load_state_dict(saved.discriminators)
        for name, optimizer in (("G", self.optimizer_G), ("D", self.optimizer_D)):
            flat = checkpoints.optimizer_from_flat(f"optimizer.{name}", saved.training, saved.state["optimizers"][name])
            optimizer.load_state_dict(flat)
        torch.set_rng_state(saved.training["rng.torch"])
        cuda_keys = sorted((key for key in saved.training if key.startswith("rng.cuda.")),
                           key=lambda key: int(key.rsplit(".", 1)[1]))
        cuda_states = [saved.training[key] for key in cuda_keys]
        if torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        self.start_step = saved.step

    def loader(self):
        config, context = self.config, self.context
        per_step = config.train.batch_size * context.world_size
        dataset = ClipDataset(self.info, config.data, self.size, config.train.seed, FramesAt(self.phases, per_step))
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=config.train.batch_size,
            sampler=SampleNumbers(self.start_step, config.train.batch_size, context),
            num_workers=config.data.num_workers, pin_memory=context.device.type == "cuda",
            persistent_workers=config.data.num_workers > 0,
            # its own generator: drawing worker seeds from the global RNG would make resumed runs diverge
            generator=torch.Generator().manual_seed(config.train.seed),
        )
        return dataset, loader

    def announce(self) -> None:
        config = self.config
        g, d = count_parameters(self.generator), count_parameters(self.discriminators)
        world = f" x {self.context.world_size} processes" if self.context.distributed else ""
        verb = f"resuming from step {self.start_step}" if self.resumed else "training"
        self.log.note(f"{verb} {config.train.name}: preset {config.preset}, {self.info.condition} dataset "
                      f"{self.info.root} ({len(self.info.sequences)} sequences, {self.info.frame_count} frames), "
                      f"G {g / 1e6:.2f}M / D {d / 1e6:.2f}M parameters, device {self.context.device}{world}, "
                      f"{config.train.steps} steps\n{describe(self.phases)}")
        longest = max(len(sequence) for sequence in self.info.sequences)
        if longest < max(phase.n_frames for phase in self.phases):
            self.notes.append(f"the longest sequence has {longest} frames: clips are capped at {longest}")
        for note in self.notes:
            self.log.note(note)
        self.log.event("start", resumed_from=self.start_step if self.resumed else None,
                       schedule=[phase.to_dict() for phase in self.phases], config=config.to_dict())
        if self.context.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            checkpoints.remove_partial(self.run_dir)
            config.save(self.run_dir / "config.json")

    def run(self) -> Path:
        from v2vcli.progress import make_progress

        self.build()
        self.announce()
        dataset, loader = self.loader()
        train, total = self.config.train, self.config.train.steps
        last_saved, losses, phase = None, {}, None
        end = min(total, train.stop_after) if train.stop_after else total
        batches = iter(loader)
        started = time.perf_counter()
        with make_progress(train.quiet or not self.context.is_main) as progress:
            task = progress.add_task(f"train {train.name}", total=total, completed=self.start_step, rate="")
            for step in range(self.start_step, end):
                if phase is None or phase_at(self.phases, step).index != phase.index:
                    phase = phase_at(self.phases, step)
                    self.log.note(f"phase {phase.index}: steps {phase.start + 1}-{phase.end}, {phase.n_scales} "
                                  f"scale(s) at {phase.size[0]}x{phase.size[1]}, clips of {phase.n_frames} frames")
                tick = time.perf_counter()
                losses = distributed.mean_across(self.runner.run(next(batches), phase), self.context)
                seconds = time.perf_counter() - tick
                done = step + 1
                if done % max(1, train.log_every) == 0 or done == end:
                    self.log.losses(done, losses, phase=phase.index, frames=phase.n_frames, size=list(phase.size),
                                    seconds=round(seconds, 4))
                progress.update(task, advance=1, rate=f"{1 / seconds:.2f} steps/s  G {losses['G/total']:.3f}  "
                                                      f"D {losses['D/total']:.3f}")
                if train.save_every and done % train.save_every == 0 or done == end:
                    self.save(done, phase, losses, time.perf_counter() - started)
                    last_saved = done
                if train.sample_every and done % train.sample_every == 0 and done != end:
                    self.sample(done, dataset, phase)
        if last_saved is None and self.resumed and self.context.is_main:
            self.log.note(f"{self.run_dir}: already trained for {self.start_step} steps; nothing to do")
        elif phase is not None and self.context.is_main:
            self.sample(end, dataset, phase)
        distributed.barrier(self.context)
        self.log.close()
        return self.run_dir

    def save(self, step: int, phase: Phase, losses: dict[str, float], seconds: float) -> None:
        if self.context.is_main:
            state = {"phase": phase.index, "losses": losses, "seconds": round(seconds, 3),
                     "scaler": self.runner.scaler.state_dict() if self.runner.scaler else None,
                     "schedule": [item.to_dict() for item in self.phases]}
            path = checkpoints.save_checkpoint(self.run_dir, step, self.config, self.generator, self.discriminators,
                                               {"G": self.optimizer_G, "D": self.optimizer_D}, state,
                                               self.config.train.keep_last)
            self.log.event("checkpoint", step=step, path=str(path))
        distributed.barrier(self.context)

    def sample(self, step: int, dataset: ClipDataset, phase: Phase) -> None:
        if not self.context.is_main:
            return
        from v2vcli.training.samples import write_samples

        result = write_samples(self.run_dir / "samples", step, self.generator, dataset, phase, self.context.device,
                               self.runner.autocast, self.info.fps)
        self.log.event("sample", step=step, **result)
