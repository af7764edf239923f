"""Several processes: torchrun on the CPU (gloo) trains, shards the samples, and only rank 0 writes; two
torchrun agents on this machine stand in for two machines, and one of them is killed mid-run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch

from v2vcli.data.synthetic import write_shapes_dataset
from v2vcli.devices import autocast_dtype, resolve_device
from v2vcli.errors import BadInput
from v2vcli.training import load_checkpoint
from v2vcli.training.distributed import Context, first_line, lost_peer, peer_timeout, unwrap
from v2vcli.training.logs import read_log
from v2vcli.training.trainer import SampleNumbers


def test_each_process_draws_its_own_samples():
    def first(rank: int, count: int = 6) -> list[int]:
        numbers = iter(SampleNumbers(first_step=3, batch_size=2, context=Context(rank=rank, world_size=2)))
        return [next(numbers) for _ in range(count)]

    assert first(0) == [12, 13, 16, 17, 20, 21] and first(1) == [14, 15, 18, 19, 22, 23]
    alone = iter(SampleNumbers(first_step=3, batch_size=4, context=Context()))
    assert [next(alone) for _ in range(4)] == [12, 13, 14, 15]  # one process with the same batch sees the same


def test_device_names():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_mixed_precision_only_on_cuda_and_only_when_asked():
    import torch

    assert autocast_dtype(torch.device("cpu")) is None
    assert autocast_dtype(torch.device("cuda"), enabled=False) is None
    if torch.cuda.is_available():
        assert autocast_dtype(torch.device("cuda")) in (torch.bfloat16, torch.float16)


def test_unwrap_finds_the_network_inside_its_wrappers():
    import torch

    network = torch.nn.Linear(2, 2)
    wrapped = torch.nn.Module()
    wrapped.module = network  # how DistributedDataParallel holds it
    assert unwrap(network) is network and unwrap(wrapped) is network


@pytest.mark.slow
def test_torchrun_with_two_cpu_processes_trains_and_writes_one_checkpoint(tmp_path):
    dataset = write_shapes_dataset(tmp_path / "data", sequences=2, frames=6, size=(32, 32))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "v2vcli", "train", str(dataset), "--name", "ddp", "--steps", "2", "--device", "cpu",
               "--output-dir", str(tmp_path / "weights"), "--sample-every", "0", "--json"]
    result = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "weights" / "ddp"
    assert [path.name for path in run.glob("checkpoint-*")] == ["checkpoint-0000002"]
    records = read_log(run / "log.jsonl")
    assert [record["step"] for record in records if "event" not in record] == [1, 2]
    assert [record["resumed_from"] for record in records if record.get("event") == "start"] == [None]
    assert any("x 2 processes" in record.get("text", "") for record in records)
    assert result.stdout.count('"checkpoint"') == 1  # one summary: only rank 0 reports
    assert "find_unused_parameters" not in result.stderr


@pytest.mark.gpu
def test_cuda_training_step_runs_with_autocast(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from v2vcli.config import RunSettings, preset
    from v2vcli.training import train

    config = preset("tiny")
    config.train.steps = 3
    dataset = write_shapes_dataset(tmp_path / "data", frames=6, size=(64, 64))
    result = train(config, RunSettings(name="gpu", output_dir=str(tmp_path), dataset=str(dataset), device="cuda",
                                       quiet=True))
    assert result.step == 3 and all(value == value for value in result.losses.values())  # no NaN


# What a process does when the others fail: fast checks of the pieces.

def test_a_collective_waits_for_the_others_as_long_as_v2v_peer_timeout_says(monkeypatch):
    monkeypatch.delenv("V2V_PEER_TIMEOUT", raising=False)
    assert peer_timeout() == timedelta(minutes=10)
    monkeypatch.setenv("V2V_PEER_TIMEOUT", "45")
    assert peer_timeout() == timedelta(seconds=45)
    for bad in ("soon", "0", "-3", "nan"):
        monkeypatch.setenv("V2V_PEER_TIMEOUT", bad)
        with pytest.raises(BadInput, match="V2V_PEER_TIMEOUT"):
            peer_timeout()


def test_a_lost_peer_is_told_apart_from_other_errors():
    gloo = RuntimeError("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error [10.0.0.2]:41234: "
                        "Connection reset by peer. This is typically caused by a remote worker hanging or bugs")
    two = Context(world_size=2)
    assert lost_peer(gloo, two) and lost_peer(torch.distributed.DistNetworkError("store gone"), two)
    assert not lost_peer(gloo, Context())  # a process alone has no peer to lose
    assert not lost_peer(RuntimeError("size mismatch"), two) and not lost_peer(ValueError("gloo"), two)
    assert first_line(gloo) == "Read error [10.0.0.2]:41234: Connection reset by peer"


ENVIRONMENT = {**os.environ, "OMP_NUM_THREADS": "1"}

FROM_MAIN = """
import os, torch, torch.distributed as dist
from v2vcli.errors import OutputExists
from v2vcli.training.distributed import Context, PeerLost, from_main
rank = int(os.environ["RANK"])
dist.init_process_group("gloo")
context = Context(rank=rank, world_size=2)
ran = []
value = from_main(lambda: ran.append(rank) or {"step": 7, "weights": torch.arange(3.0)}, context)
print("value", ran, value["step"], value["weights"].tolist())
def refuse():
    raise OutputExists("weights/run: already holds a run")
def crash():
    raise RuntimeError("disk on fire")
for produce in (refuse, crash):
    try:
        from_main(produce, context)
    except (OutputExists, PeerLost, RuntimeError) as error:
        print(type(error).__name__, error)
dist.destroy_process_group()
"""


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_rank_zero_decides_and_every_process_gets_its_answer_or_its_error():
    port = free_port()
    processes = [subprocess.Popen([sys.executable, "-c", FROM_MAIN], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**ENVIRONMENT, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                                                  "RANK": str(rank), "WORLD_SIZE": "2"})
                 for rank in (0, 1)]
    try:
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [process.returncode for process in processes] == [0, 0], [error for _, error in outputs]
    assert outputs[0][0].splitlines() == ["value [0] 7 [0.0, 1.0, 2.0]",  # produced on rank 0 alone
                                          "OutputExists weights/run: already holds a run",
                                          "RuntimeError disk on fire"]
    assert outputs[1][0].splitlines() == ["value [] 7 [0.0, 1.0, 2.0]",
                                          "OutputExists weights/run: already holds a run",
                                          "PeerLost rank 0 failed: RuntimeError: disk on fire"]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; its parent has not collected it yet


def children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").glob("*/children") for child in task.read_text().split()]


WATCHED = """
import time
from v2vcli.training.distributed import stop_with_agent
stop_with_agent()
print("watching", flush=True)
try:
    time.sleep(60)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
# Stands for torchrun's agent: starts the worker in a session of its own, as torchrun does, and waits. It
# ignores SIGINT, as a torchrun started from a background shell job does, and its worker inherits that.
AGENT = ("import signal, subprocess, sys, time\n"
         "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
         "subprocess.Popen([sys.executable, '-c', sys.argv[1]], start_new_session=True)\n"
         "time.sleep(120)\n")


def test_a_worker_stops_when_its_torchrun_agent_is_killed(tmp_path):
    output = tmp_path / "output.txt"
    with open(output, "w") as handle:
        agent = subprocess.Popen([sys.executable, "-c", AGENT, WATCHED], stdout=handle, stderr=subprocess.STDOUT,
                                 env=ENVIRONMENT, start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while "watching" not in output.read_text():
            assert time.monotonic() < deadline and agent.poll() is None, output.read_text()
            time.sleep(0.05)
        workers = children(agent.pid)
        [worker] = workers
        os.killpg(agent.pid, signal.SIGKILL)  # the agent's group: the worker, in its own session, is not in it
        killed = time.monotonic()
        while alive(worker) and time.monotonic() - killed < 10:
            time.sleep(0.05)
        assert not alive(worker), "the worker outlived its agent by 10 s"
        lines = output.read_text().splitlines()
        assert lines[1:] == [f"v2v: torchrun (pid {agent.pid}), which started this process, has stopped; stopping too",
                             "interrupted"]
    finally:
        agent.kill()
        agent.wait()
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


# Several machines, played by two torchrun agents on this one: each agent is a "machine" with its own
# working folder, and they meet through a rendezvous on 127.0.0.1, as machines meet on a cluster.

STEPS = 12
# Hard limits, so that a run that hangs fails its test instead of holding CI: a launch of two agents
# (about 25 s on two busy cores), the survivor of a killed machine stopping (3-5 s measured), a
# collective waiting for a peer (V2V_PEER_TIMEOUT), an agent waiting for the other to join (join_timeout).
LAUNCH_SECONDS = 300
PEER_GONE_SECONDS = 60
AGENT_ENVIRONMENT = {**ENVIRONMENT, "V2V_PEER_TIMEOUT": "60"}


def listening(port: int) -> bool:
    """Whether a process listens on TCP `port` (read from /proc: connecting would disturb the store)."""
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:] if table.exists() else []:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


def rendezvous(kind: str, port: int, node: int) -> list[str]:
    """torchrun's options for machine `node` to meet the other on `port`: "c10d" (ranks handed out as
    machines join) or "static" (machine `node` gets rank `node`, as --node-rank pins it on a cluster)."""
    if kind == "c10d":
        return ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "v2v-test",
                "--rdzv-conf", "join_timeout=60"]
    return ["--rdzv-backend", "static", "--master-addr", "127.0.0.1", "--master-port", str(port),
            "--node-rank", str(node), "--rdzv-conf", "timeout=60"]


class Agent:
    """`torchrun --nnodes 2 --nproc-per-node 1 RENDEZVOUS -m v2vcli train ARGUMENTS` working in `machine`,
    in a process group of its own, its stdout and stderr in files there."""

    def __init__(self, machine: Path, rendezvous: list[str], arguments: list[str]):
        machine.mkdir(parents=True, exist_ok=True)
        self.machine = machine
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                   *rendezvous, "--max-restarts", "0", "-m", "v2vcli", "train", *arguments]
        with open(machine / "stdout.txt", "w") as stdout, open(machine / "stderr.txt", "w") as stderr:
            self.process = subprocess.Popen(command, cwd=machine, stdout=stdout, stderr=stderr, env=AGENT_ENVIRONMENT,
                                            start_new_session=True)
        self.workers: set[int] = set()

    def wait(self, seconds: float) -> int:
        try:
            return self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"torchrun on {self.machine.name} still running after {seconds:.0f} s:\n{self.stderr[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the agent's process group (its workers run in sessions of their own)."""
        self.workers.update(children(self.process.pid))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    @property
    def stdout(self) -> str:
        return (self.machine / "stdout.txt").read_text()

    @property
    def stderr(self) -> str:
        return (self.machine / "stderr.txt").read_text()


class Cluster:
    """Two machines; `launch` starts an agent on each, and leaving the `with` block kills whatever of
    theirs still runs."""

    def __init__(self, machines: list[Path]):
        self.machines = machines
        self.started: list[Agent] = []

    def launch(self, arguments: list[str], kind: str = "c10d") -> list[Agent]:
        """An agent on each machine, meeting on a fresh port; the second starts once the first listens on
        it, so the first machine hosts the rendezvous (what MASTER_ADDR names on a cluster)."""
        port = free_port()
        first = Agent(self.machines[0], rendezvous(kind, port, 0), arguments)
        self.started.append(first)
        deadline = time.monotonic() + LAUNCH_SECONDS
        while not listening(port):
            if first.process.poll() is not None or time.monotonic() > deadline:
                first.kill()
                pytest.fail(f"torchrun never listened on port {port}:\n{first.stderr[-3000:]}")
            time.sleep(0.05)
        self.started.append(Agent(self.machines[1], rendezvous(kind, port, 1), arguments))
        return self.started[-2:]

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exception) -> None:
        for agent in self.started:
            if agent.process.poll() is None:
                agent.kill()
            for worker in agent.workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)


def train_arguments(dataset: Path, output: Path | str, *extra: str) -> list[str]:
    return [str(dataset), "--name", "run", "--steps", str(STEPS), "--device", "cpu", "--output-dir", str(output),
            "--sample-every", "0", *extra]


def checkpoint_steps(run: Path) -> list[int]:
    """Steps of the complete checkpoints (those with their state.json) in `run`, oldest first."""
    return sorted(int(path.parent.name.split("-")[1]) for path in run.glob("checkpoint-*/state.json"))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    return write_shapes_dataset(tmp_path_factory.mktemp("shapes") / "data", sequences=2, frames=6, size=(32, 32))


@pytest.fixture(scope="module")
def straight(shapes, tmp_path_factory) -> list[Agent]:
    """An uninterrupted run on two machines that share no storage: each writes under its own folder."""
    root = tmp_path_factory.mktemp("straight")
    with Cluster([root / "machine0", root / "machine1"]) as cluster:
        agents = cluster.launch(train_arguments(shapes, "weights", "--save-every", "6"))
        codes = [agent.wait(LAUNCH_SECONDS) for agent in agents]
    assert codes == [0, 0], "\n".join(agent.stderr[-3000:] for agent in agents)
    return agents


@pytest.mark.slow
def test_two_machines_train_and_only_rank_zero_writes_and_speaks(straight):
    [main] = [agent for agent in straight if (agent.machine / "weights").exists()]
    [other] = [agent for agent in straight if agent is not main]
    run = main.machine / "weights" / "run"
    assert checkpoint_steps(run) == [6, STEPS]
    assert sorted(path.name for path in other.machine.iterdir()) == ["stderr.txt", "stdout.txt"]  # wrote nothing
    records = read_log(run / "log.jsonl")
    assert [record["step"] for record in records if "event" not in record] == list(range(1, STEPS + 1))
    assert any("x 2 processes" in record.get("text", "") for record in records)
    assert f"weights/run/checkpoint-{STEPS:07d}" in main.stdout and "checkpoint" not in other.stdout
    assert "training run: preset tiny" in main.stderr and "training run" not in other.stderr
    assert "phase 0" in main.stderr and "phase 0" not in other.stderr


@pytest.mark.slow
def test_a_machine_killed_mid_run_stops_the_run_and_both_resume_from_its_last_checkpoint(shapes, straight, tmp_path):
    # The machines share no storage: --node-rank 0 pins rank 0, and with it the run folder, to machine 0;
    # on resuming, machine 1 gets the checkpoint from it.
    arguments = train_arguments(shapes, "weights", "--save-every", "1", "--resume")
    main, other = tmp_path / "machine0", tmp_path / "machine1"
    run = main / "weights" / "run"
    with Cluster([main, other]) as cluster:
        survivor, victim = cluster.launch(arguments, "static")
        deadline = time.monotonic() + LAUNCH_SECONDS
        while not checkpoint_steps(run):
            assert time.monotonic() < deadline and victim.process.poll() is None, victim.stderr[-3000:]
            time.sleep(0.02)
        victim.kill()
        assert survivor.wait(PEER_GONE_SECONDS) != 0  # it stops, rather than waits for its peer
        assert not any(alive(worker) for worker in victim.workers), "the killed machine's worker kept training"
        last = checkpoint_steps(run)[-1]
        assert 1 <= last < STEPS, "the run finished before the machine was killed"
        assert ("error: another process of the run is gone" in survivor.stderr
                and f"the last complete checkpoint is weights/run/checkpoint-{last:07d}" in survivor.stderr), \
            survivor.stderr[-3000:]

        resumed = cluster.launch(arguments, "static")
        assert [agent.wait(LAUNCH_SECONDS) for agent in resumed] == [0, 0], resumed[0].stderr[-3000:]
    starts = [record["resumed_from"] for record in read_log(run / "log.jsonl") if record.get("event") == "start"]
    assert starts == [None, last]
    assert checkpoint_steps(run)[-1] == STEPS
    assert not (other / "weights").exists()
    # The same weights as the uninterrupted run: every sample is a function of its number, the two ranks'
    # gradients are averaged the same way, and the checkpoint holds the Adam moments and the RNG.
    [reference] = [agent.machine / "weights" / "run" for agent in straight if (agent.machine / "weights").exists()]
    expected, got = (load_checkpoint(folder / f"checkpoint-{STEPS:07d}") for folder in (reference, run))
    for part in ("generator", "discriminators", "training"):
        left, right = getattr(expected, part), getattr(got, part)
        assert left.keys() == right.keys()
        assert all(torch.equal(left[key], right[key]) for key in left), part
