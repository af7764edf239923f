"""run_all's results as a Markdown table, and as docs/benchmarks.md from templates/benchmarks.md.

A row is the dict run_all's child process prints for one stage at one size: stage, size, unit,
throughput and limit (items a second), ratio, peak_mib, ffmpeg_peak_mib, gpu_peak_mib (None without
CUDA), load; or stage, size, error and load when the stage failed.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from string import Template

from benchmarks.harness import Stage

TEMPLATE = Path(__file__).resolve().parent / "templates" / "benchmarks.md"
# What follows this line in the output file (notes written by hand) is kept when the file is rewritten.
GENERATED_END = "<!-- run_all.py writes everything above this line; what follows is kept -->"


def format_rate(value: float, unit: str) -> str:
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"


def table(rows: list[dict], stages: dict[str, Stage]) -> str:
    """The results as a Markdown table (also readable as plain text)."""
    lines = ["| stage | size | throughput | limit | limit throughput | ratio | target | peak RSS MiB "
             "(python / largest ffmpeg) | load |", "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        stage = stages[row["stage"]]
        if "error" in row:
            lines.append(f"| {stage.name} | {row['size']} | failed: {row['error']} | {stage.limit} | | | | "
                         f"| {row['load']} |")
            continue
        peak = f"{row['peak_mib']:.0f} / {row['ffmpeg_peak_mib']:.0f}"
        if row["gpu_peak_mib"] is not None:
            peak += f" (GPU {row['gpu_peak_mib']:.0f})"
        target = f"{stage.target:.2f}" if stage.target else "—"
        lines.append(f"| {stage.name} | {row['size']} | {format_rate(row['throughput'], stage.unit)} | {stage.limit} | "
                     f"{format_rate(row['limit'], stage.unit)} | {row['ratio']:.2f} | {target} | {peak} | "
                     f"{row['load']} |")
    return "\n".join(lines)


def describe_machine(info: dict, load_before: list[float], load_after: list[float], skipped: list[str]) -> str:
    gpu = info["gpu"] or f"none (CUDA not available{'; not run: ' + ', '.join(skipped) if skipped else ''})"
    return (f"- CPU: {info['cpu']}, {info['cores']} cores; torch {info['torch']} ({info['threads']} threads), "
            f"Python {info['python']}\n- GPU: {gpu}\n"
            f"- load average (1, 5, 15 min): {', '.join(map(str, load_before))} before, "
            f"{', '.join(map(str, load_after))} after")


def document(rows: list[dict], stages: dict[str, Stage], quick: bool, command: str, info: dict,
             loads: tuple[list[float], list[float]], seconds: float, skipped: list[str]) -> str:
    """docs/benchmarks.md above GENERATED_END: the template filled in. `skipped`: stages that ran at no size."""
    return Template(TEMPLATE.read_text()).substitute(
        command=command, minutes=f"{seconds / 60:.1f}",
        measured=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=describe_machine(info, *loads, skipped), table=table(rows, stages),
        stages="\n".join(f"| {stage.name} | {stage.pipeline} | {stage.limit} | {stage.workload(quick).describe()} |"
                         for stage in stages.values()))


def write_document(path: Path, generated: str) -> None:
    """Write `generated` and GENERATED_END to `path`, followed by what came after GENERATED_END there before."""
    from v2vcli.io.outputs import atomic_path

    old = path.read_text() if path.is_file() else ""
    kept = old.split(GENERATED_END, 1)[1].lstrip("\n") if GENERATED_END in old else ""
    with atomic_path(path) as partial:
        partial.write_text(f"{generated}{GENERATED_END}\n{kept}")
