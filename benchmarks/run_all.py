"""Every stage of v2v against its limit, at two sizes, in one run: one table of throughput, peak memory and ratio.

    python benchmarks/run_all.py                                  # full run (about 10 minutes on 2 cores)
    python benchmarks/run_all.py --quick                          # smoke run: small sizes, short clips
    python benchmarks/run_all.py --output docs/benchmarks.md      # also write the table there
    python benchmarks/run_all.py --stages decode+encode,generate --sizes 512x256

Each stage is declared in its bench_*.py file (the protocol: benchmarks/harness.py). This driver makes
every stage's inputs first (the example clips scaled to each size, a dataset made by `v2v prepare`,
random-weights generators), then runs each stage at each size in its own process: one warm-up run of
the pipeline (whose peak resident memory is the figure reported), then the limit and the pipeline
alternately, so a busy machine slows both alike; throughputs are medians. The ratio is pipeline / limit.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as `python benchmarks/run_all.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import (  # noqa: E402
    bench_batch,
    bench_dance,
    bench_flow,
    bench_generate,
    bench_io,
    bench_loader,
    bench_pose,
    bench_prepare,
    bench_segment,
    bench_train,
    report,
)
from benchmarks.common import ROOT, load_average, machine  # noqa: E402
from benchmarks.harness import Setting, Size, Stage, measure  # noqa: E402
from benchmarks.inputs import size_name  # noqa: E402
from v2vcli.config import parse_size  # noqa: E402
from v2vcli.errors import BadInput  # noqa: E402

STAGES = {stage.name: stage for stage in (
    bench_io.STAGE, bench_pose.STAGE, bench_pose.DETAIL_STAGE, bench_segment.STAGE, bench_flow.STAGE,
    bench_prepare.STAGE, *bench_train.STAGES, *bench_loader.STAGES, bench_generate.STAGE, bench_dance.STAGE,
    bench_generate.CUDA_STAGE, bench_batch.STAGE)}
SIZES, QUICK_SIZES = ((256, 256), (512, 256)), ((128, 128), (256, 128))


def setting(stage: Stage, size: Size, work: Path, quick: bool, device: str) -> Setting:
    """The same in the driver (making the inputs) and in the stage's process (finding them)."""
    return Setting(work / size_name(size), size, stage.workload(quick), device)


def measured_row(stage: Stage, at: Setting) -> dict:
    """The stage measured at one size (in this process), as a row of the table."""
    result = measure(stage.trial(at), at.workload.rounds)
    return {"stage": stage.name, "size": size_name(at.size), "items": result.items, "rounds": result.rounds,
            "throughput": result.rate(), "limit": result.rate("limit"), "ratio": result.ratio,
            "peak_mib": result.peak_mib, "ffmpeg_peak_mib": result.ffmpeg_peak_mib,
            "gpu_peak_mib": result.gpu_peak_mib, "seconds": result.seconds}


def run_child(stage: Stage, size: Size, work: Path, quick: bool, device: str) -> dict:
    """One stage at one size in a fresh process: its row, or one with the last line it printed as 'error'."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", stage.name, "--sizes", size_name(size),
               "--work", str(work), "--device", device] + (["--quick"] if quick else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return {"stage": stage.name, "size": size_name(size), "error": lines[-1] if lines else f"exit {done.returncode}"}


def parse_arguments() -> tuple[argparse.Namespace, list[Stage], tuple[Size, ...]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, short clips, one round")
    parser.add_argument("--sizes", help="comma-separated WxH (default 256x256,512x256; quick 128x128,256x128)")
    parser.add_argument("--stages", help=f"comma-separated subset of: {', '.join(STAGES)}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", type=Path, help="write the table and the machine into this Markdown file "
                        f"(what follows the line {report.GENERATED_END!r} there is kept)")
    parser.add_argument("--work", type=Path, help="keep the inputs and outputs here (default: a temporary folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # run this stage here and print its row
    args = parser.parse_args()
    names = [name.strip() for name in (args.child or args.stages or ",".join(STAGES)).split(",")]
    unknown = [name for name in names if name not in STAGES]
    if unknown:
        parser.error(f"unknown stages {unknown}; choose from: {', '.join(STAGES)}")
    try:
        sizes = tuple(tuple(parse_size(text)) for text in args.sizes.split(",")) if args.sizes \
            else QUICK_SIZES if args.quick else SIZES
    except BadInput:
        parser.error(f"--sizes {args.sizes!r}: expected WxH[,WxH...], e.g. 256x256,512x256")
    return args, [STAGES[name] for name in names], sizes


def main() -> None:
    args, stages, sizes = parse_arguments()
    if args.child:
        stage, size = stages[0], sizes[0]
        print("RESULT " + json.dumps(measured_row(stage, setting(stage, size, args.work, args.quick, args.device))),
              flush=True)
        return
    pairs = [(stage, size) for stage in stages for size in stage.sizes(sizes, args.quick)]
    skipped = [stage.name for stage in stages if not stage.sizes(sizes, args.quick)]
    info, load_before, started = machine(), load_average(), time.perf_counter()
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}, load {load_before}", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        work = (args.work or Path(temporary)).resolve()
        print("making inputs (scaled clips, datasets, models) ...", file=sys.stderr, flush=True)
        failed = {}
        for stage, size in pairs:
            try:
                stage.inputs(setting(stage, size, work, args.quick, args.device))
            except Exception as error:  # the other stages still run; the table says why this one did not
                failed[stage.name, size] = f"making its inputs: {type(error).__name__}: {error}".splitlines()[0]
        for stage, size in pairs:
            started_stage = time.perf_counter()
            row = ({"stage": stage.name, "size": size_name(size), "error": failed[stage.name, size]}
                   if (stage.name, size) in failed else run_child(stage, size, work, args.quick, args.device))
            row["load"] = round(load_average()[0], 1)
            rows.append(row)
            summary = row.get("error") or (f"{report.format_rate(row['throughput'], stage.unit)}, "
                                           f"ratio {row['ratio']:.2f}, peak {row['peak_mib']:.0f} MiB")
            print(f"{stage.name:>14} {size_name(size):>8}: {summary}  ({time.perf_counter() - started_stage:.0f} s)",
                  file=sys.stderr, flush=True)
    seconds, load_after = time.perf_counter() - started, load_average()
    print(report.table(rows, STAGES))
    print(f"{seconds / 60:.1f} minutes; load average {load_before} before, {load_after} after")
    if args.output:
        command = shlex.join(["python", "benchmarks/run_all.py", *sys.argv[1:]])
        report.write_document(args.output, report.document(rows, STAGES, args.quick, command, info,
                                                           (load_before, load_after), seconds, skipped))
        print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
