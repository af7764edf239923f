"""`train(config, run)`: the whole vid2vid training run, from a dataset folder to weights/NAME/.

The trainer owns the losses (the registered terms of terms.py) and the optimizers; networks only
return tensors. A run folder holds config.json, log.jsonl, samples/ and checkpoint-NNNNNNN/ folders
(see checkpoint.py). Resuming takes the saved config (the hyperparameters; `--steps` may extend them)
with the resuming command's run settings, and continues from the newest checkpoint with the same
schedule; since every sample is a function of its number, a resumed run sees the batches the
uninterrupted run would have seen.
"""

from __future__ import annotations

import copy
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from v2vcli.config import Config, ModelConfig, RunSettings, default_steps
from v2vcli.data import ClipDataset, choose_size, open_dataset
from v2vcli.errors import BadInput, OutputExists
from v2vcli.interrupts import Interrupted
from v2vcli.models import Discriminators, Generator, count_parameters
from v2vcli.models.discriminators import temporal_span
from v2vcli.models.losses import GAN_MODES
from v2vcli.training import checkpoint as checkpoints
from v2vcli.training import distributed
from v2vcli.training.average import WeightAverage
from v2vcli.training.logs import RunLog
from v2vcli.training.perceptual import perceptual_loss
from v2vcli.training.schedule import Phase, build_schedule, describe, learning_rate_factor, phase_at
from v2vcli.training.step import StepRunner

# More loading processes than this only add memory (each prefetches two clips): 8 already load base clips
# (12 frames at 512x288, 0.26-0.8 s each on one busy CPU core: benchmarks/bench_loader.py) at 10-30 a
# second, several times the rate of base steps on one H200 (0.24 s for 6 frames).
MAX_DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class TrainResult:
    """What a call of `train` did (`v2v train --json` prints it).

    model: the run folder, OUTPUT_DIR/NAME: what `v2v generate --model` and `load_generator` take.
    checkpoint: the newest checkpoint folder in it (None only for a run of 0 steps).
    step: the steps the model has been trained for, in total (the checkpoint's step).
    losses: log key ("G/total", "D/real", ...) -> value at that step, averaged over its chunks (and
        processes); for a resumed run with nothing left to do, the values its checkpoint recorded.
    seconds: wall-clock seconds this call spent in the training loop (0.0 when nothing was left to do).
    """

    model: Path
    checkpoint: Path | None
    step: int
    losses: dict[str, float]
    seconds: float


def train(config: Config, run: RunSettings) -> TrainResult:
    """Train (or, with `run.resume`, continue) the run `run.name` with `config`'s hyperparameters.

    `config` is not modified. When resuming, the saved config is used instead, with `config.train.steps`
    when it is set.
    """
    context = distributed.setup(run.device)
    try:
        return Trainer(config, run, context).run()
    except KeyboardInterrupt:
        # A checkpoint being written was removed on the way out (atomic_path); the complete ones stay.
        raise Interrupted(interrupted_message(Path(run.output_dir) / run.name)) from None
    except Exception as error:
        if not distributed.lost_peer(error, context):
            raise
        raise distributed.PeerLost(interrupted_message(
            Path(run.output_dir) / run.name, f"another process of the run is gone ({distributed.first_line(error)})",
            "the same command on every machine")) from error
    finally:
        distributed.cleanup(context)


def interrupted_message(run_dir: Path, reason: str = "interrupted", command: str = "the same command") -> str:
    """What an interrupted run kept, and how to continue it."""
    latest = checkpoints.latest_checkpoint(run_dir)
    if latest is None:
        return f"{reason} before the first checkpoint of {run_dir}; --resume starts it again"
    return f"{reason}; the last complete checkpoint is {latest}: {command} with --resume continues from it"


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
    def __init__(self, requested: Config, run: RunSettings, context: distributed.Context):
        self.context = context
        if not run.name or "/" in run.name or run.name.startswith("."):
            raise BadInput(f"--name {run.name!r}: use a plain folder name such as 'person'")
        if requested.train.gan_mode not in GAN_MODES:
            raise BadInput(f"gan_mode {requested.train.gan_mode!r}: choose one of {', '.join(GAN_MODES)}")
        self.run_dir = Path(run.output_dir) / run.name
        # Only rank 0's run folder counts (machines need not share it); its checkpoint goes to every process.
        self.resumed = distributed.from_main(lambda: self._resume_point(run), context)
        config = copy.deepcopy(self.resumed.config if self.resumed else requested)
        if requested.train.steps is not None:
            config.train.steps = requested.train.steps
        if config.train.steps is None:
            config.train.steps = default_steps(config.preset)
        self.run_settings = run.with_preset_defaults(config.preset)
        self.info = open_dataset(run.dataset, config.data.num_classes)
        config.model.label_channels = self.info.label_channels
        data = config.data
        data.root, data.condition, data.num_classes, data.instance_edges = (
            run.dataset, self.info.condition, self.info.num_classes, self.info.has_instances)
        data.fps, data.pose_stats, data.dataset_size = self.info.fps, self.info.pose_stats, list(self.info.size)
        data.segmentation, data.condition_record = self.info.segmentation, self.info.condition_record
        check_foreground(config.model, self.info.condition)
        # the face refiner finds the face by the pose rendering's colours: pose models only
        config.model.face = config.model.face and self.info.condition == "pose"
        self.size = choose_size(self.info, config.data, config.model.size_multiple)
        config.data.size = list(self.size)
        self.config = config
        self.phases = build_schedule(config.model, config.train, self.size, config.train.steps)
        check_temporal_spans(config.model, self.phases)
        self.log = RunLog(self.run_dir, context.is_main, run.quiet)

    def _resume_point(self, run: RunSettings) -> checkpoints.Checkpoint | None:
        existing = checkpoints.latest_checkpoint(self.run_dir)
        if run.resume and existing is not None:
            return checkpoints.load_checkpoint(existing)
        if self.run_dir.exists() and any(self.run_dir.iterdir()) and not run.resume:
            if not run.overwrite:
                raise OutputExists(f"{self.run_dir}: already holds a run; pass --resume to continue it "
                                   "or --overwrite to start again")
            shutil.rmtree(self.run_dir)
        return None

    def build(self) -> None:
        config, run, device = self.config, self.run_settings, self.context.device
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
        self.average = WeightAverage(generator, train.ema_decay) if train.ema_decay > 0 else None
        if self.resumed:
            self._restore(self.resumed, generator, discriminators)
        # rank 0 first, so that processes sharing a cache do not all download the VGG19 file at once
        if self.context.is_main:
            perceptual, note = perceptual_loss(run, train, device)
        distributed.barrier(self.context)
        if not self.context.is_main:
            perceptual, note = perceptual_loss(run, train, device)
        if note:
            self.notes.append(note)
        if run.compile:
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
        generator.load_state_dict(saved.live_generator)
        if self.average is not None:
            self.average.module.load_state_dict(saved.generator)
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
        workers = self.run_settings.num_workers
        if workers is None:
            workers = default_workers(context.device.type)
        loader = make_loader(dataset, SampleNumbers(self.start_step, config.train.batch_size, context),
                             config.train.batch_size, workers, context.device, config.train.seed)
        return dataset, loader

    def announce(self) -> None:
        config = self.config
        g, d = count_parameters(self.generator), count_parameters(self.discriminators)
        world = f" x {self.context.world_size} processes" if self.context.distributed else ""
        verb = f"resuming from step {self.start_step}" if self.resumed else "training"
        chosen = f" (the default on {self.context.device.type}; --preset to choose)" \
            if self.run_settings.default_preset else ""
        self.log.note(f"{verb} {self.run_settings.name}: preset {config.preset}{chosen}, {self.info.condition} dataset "
                      f"{self.info.root} ({len(self.info.sequences)} sequences, {self.info.frame_count} frames), "
                      f"G {g / 1e6:.2f}M / D {d / 1e6:.2f}M parameters, device {self.context.device}{world}, "
                      f"{config.train.steps} steps\n{describe(self.phases)}")
        longest = max(len(sequence) for sequence in self.info.sequences)
        if longest < max(phase.n_frames for phase in self.phases):
            self.notes.append(f"the longest sequence has {longest} frames: clips are capped at {longest}")
        for note in self.notes:
            self.log.note(note)
        self.log.event("start", resumed_from=self.start_step if self.resumed else None,
                       schedule=[phase.to_dict() for phase in self.phases], config=config.to_dict(),
                       run=asdict(self.run_settings))
        if self.context.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            checkpoints.remove_partial(self.run_dir)
            config.save(self.run_dir / "config.json")

    def run(self) -> TrainResult:
        from v2vcli.progress import make_progress

        self.build()
        self.announce()
        dataset, loader = self.loader()
        run, total = self.run_settings, self.config.train.steps
        last_saved, losses, phase = None, {}, None
        end = min(total, run.stop_after) if run.stop_after else total
        batches = iter(loader)
        started = time.perf_counter()
        with make_progress(run.quiet or not self.context.is_main) as progress:
            task = progress.add_task(f"train {run.name}", total=total, completed=self.start_step, rate="")
            for step in range(self.start_step, end):
                if phase is None or phase_at(self.phases, step).index != phase.index:
                    phase = phase_at(self.phases, step)
                    self.log.note(f"phase {phase.index}: steps {phase.start + 1}-{phase.end}, {phase.n_scales} "
                                  f"scale(s) at {phase.size[0]}x{phase.size[1]}, clips of {phase.n_frames} frames")
                tick = time.perf_counter()
                rate = learning_rate_factor(self.config.train, step, total)
                for optimizer, base in ((self.optimizer_G, self.config.train.lr_G),
                                        (self.optimizer_D, self.config.train.lr_D)):
                    for group in optimizer.param_groups:
                        group["lr"] = base * rate
                losses = distributed.mean_across(self.runner.run(next(batches), phase), self.context)
                done = step + 1
                if self.average is not None:
                    self.average.update(self.generator, done)
                seconds = time.perf_counter() - tick
                if done % max(1, run.log_every) == 0 or done == end:
                    self.log.losses(done, losses, phase=phase.index, frames=phase.n_frames, size=list(phase.size),
                                    seconds=round(seconds, 4))
                progress.update(task, advance=1, rate=f"{1 / seconds:.2f} steps/s  G {losses['G/total']:.3f}  "
                                                      f"D {losses['D/total']:.3f}")
                if run.save_every and done % run.save_every == 0 or done == end:
                    self.save(done, phase, losses, time.perf_counter() - started)
                    last_saved = done
                if run.sample_every and done % run.sample_every == 0 and done != end:
                    self.sample(done, dataset, phase)
        seconds = round(time.perf_counter() - started, 3)
        if last_saved is None and self.resumed and self.context.is_main:
            self.log.note(f"{self.run_dir}: already trained for {self.start_step} steps; nothing to do")
        elif phase is not None and self.context.is_main:
            self.sample(end, dataset, phase)
        distributed.barrier(self.context)
        self.log.close()
        if last_saved is not None:
            return TrainResult(self.run_dir, self.run_dir / checkpoints.checkpoint_name(last_saved), last_saved,
                               losses, seconds)
        if self.resumed:
            return TrainResult(self.run_dir, self.resumed.path, self.resumed.step, self.resumed.state["losses"], 0.0)
        return TrainResult(self.run_dir, None, 0, {}, 0.0)

    def save(self, step: int, phase: Phase, losses: dict[str, float], seconds: float) -> None:
        if self.context.is_main:
            state = {"phase": phase.index, "losses": losses, "seconds": round(seconds, 3),
                     "scaler": self.runner.scaler.state_dict() if self.runner.scaler else None,
                     "schedule": [item.to_dict() for item in self.phases]}
            path = checkpoints.save_checkpoint(self.run_dir, step, self.config, self.model_generator,
                                               self.discriminators, {"G": self.optimizer_G, "D": self.optimizer_D},
                                               state, self.run_settings.keep_last,
                                               live_generator=None if self.average is None else self.generator,
                                               trained_scales=phase.n_scales)
            self.log.event("checkpoint", step=step, path=str(path))
        distributed.barrier(self.context)

    def sample(self, step: int, dataset: ClipDataset, phase: Phase) -> None:
        if not self.context.is_main:
            return
        from v2vcli.training.samples import write_samples

        result = write_samples(self.run_dir / "samples", step, self.model_generator, dataset, phase,
                               self.context.device, self.runner.autocast, self.info.fps)
        self.log.event("sample", step=step, **result)

    @property
    def model_generator(self) -> torch.nn.Module:
        """The generator users get: the weight average when there is one, else the trained weights."""
        return self.generator if self.average is None else self.average.module


def make_loader(dataset: ClipDataset, sampler: torch.utils.data.Sampler, batch_size: int, workers: int,
                device: torch.device, seed: int) -> torch.utils.data.DataLoader:
    """The DataLoader of a run: `workers` processes (0: in this one) loading clips ahead of the step, into
    pinned memory on CUDA so that the step's non-blocking copy overlaps the transfer.

    The workers leave OpenCV's thread count alone: cv2.setNumThreads in a forked worker hung for good
    when the parent had run `v2v prepare` (as `v2v demo` does) before forking."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        # its own generator: drawing worker seeds from the global RNG would make resumed runs diverge
        generator=torch.Generator().manual_seed(seed),
    )


def default_workers(device_type: str) -> int:
    """Data loading processes a training process gets when `--workers` is not given.

    On CUDA: one per CPU core this process may use (the machine's usable cores shared among the
    LOCAL_WORLD_SIZE processes torchrun starts on it), less one for the process itself, at most
    MAX_DEFAULT_WORKERS: the GPU step is short and loading must keep up with it. On a CPU: 0, since
    the step itself keeps every core busy and a loading process would only take cores from it
    (docs/training.md, "Data loading", has the measurements).
    """
    if device_type != "cuda":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    per_process = cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(MAX_DEFAULT_WORKERS, per_process - 1))


def check_foreground(model: ModelConfig, condition: str) -> None:
    """Refuse foreground separation where the foreground cannot be read off the condition maps."""
    if model.fg_separation and condition == "segment" and not model.fg_classes:
        raise BadInput("foreground separation on a segmentation dataset needs model.fg_classes in the config "
                       "(the class ids of the foreground: people, cars...)")


def check_temporal_spans(model: ModelConfig, phases: list[Phase]) -> None:
    """Refuse a config whose clips never grow long enough for one of its temporal discriminators."""
    longest = max(phase.n_frames for phase in phases)
    for scale in range(model.n_scales_temporal):
        if temporal_span(model, scale) > longest:
            raise BadInput(f"temporal discriminator {scale} judges windows of {temporal_span(model, scale)} frames "
                           f"but clips reach only {longest} (train.n_frames_max): it would never train; raise "
                           "n_frames_max or lower model.n_scales_temporal")
