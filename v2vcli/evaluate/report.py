"""What `v2v eval` writes: a per-frame CSV, the summary as JSON, and a PNG plot of the metrics over time."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from v2vcli.evaluate.run import COLUMNS, EvalResult
from v2vcli.io.outputs import atomic_path
from v2vcli.results import write_json

CSV_NAME = "metrics.csv"
SUMMARY_NAME = "summary.json"
PLOT_NAME = "metrics.png"
NO_MATPLOTLIB = "matplotlib is not installed, so no plot was drawn (pip install 'v2v[eval]')"


def default_output(generated: Path) -> Path:
    """GENERATED's stem + "_eval", beside it: out.mp4 -> out_eval/."""
    generated = Path(generated)
    return generated.with_name(f"{generated.stem}_eval")


def write_csv(rows: list[dict], path: Path) -> None:
    """One line per frame with the columns of COLUMNS; a metric that does not apply is left empty."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(["" if row[column] is None else _format(row[column]) for column in COLUMNS])


def _format(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def write_plot(result: EvalResult, path: Path) -> bool:
    """Draw the metrics over time into a PNG (a pose error panel when `result` has poses); False (nothing
    written) when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    rows = result.rows
    has_reference = result.reference is not None

    def series(column: str) -> tuple[list[int], list[float]]:
        points = [(row["frame"], row[column]) for row in rows if row[column] is not None]
        return [frame for frame, _ in points], [value for _, value in points]

    has_poses = result.poses is not None
    panels = 1 + 2 * has_reference + has_poses
    # The Figure API, not pyplot: no global backend switch in a caller's process.
    figure = Figure(figsize=(8, 1.2 + 2.2 * panels), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    temporal = axes[0]
    warp_label = "warping error (vs reference)" if has_reference else "warping error"
    temporal.plot(*series("warp_error"), label=warp_label, color="tab:red")
    if has_reference:
        temporal.plot(*series("warp_error_absolute"), label="warping error, absolute", color="tab:orange")
        temporal.plot(*series("warp_error_reference"), label="reference's own", color="tab:gray", linestyle="--")
    temporal.plot(*series("flicker"), label="flicker (static pixels)", color="tab:blue")
    if has_reference:
        temporal.plot(*series("flicker_reference"), label="reference's flicker", color="tab:cyan", linestyle="--")
    temporal.set_ylabel("levels (0-255)")
    temporal.set_title(f"{Path(result.generated).name}: flow from the {result.flow_source} video")
    temporal.legend(fontsize="small")
    temporal.grid(alpha=0.3)
    if has_reference:
        axes[1].plot(*series("psnr"), color="tab:green")
        axes[1].set_ylabel(f"PSNR (dB, cap {result.psnr_cap:g})")
        axes[1].grid(alpha=0.3)
        axes[2].plot(*series("ssim"), color="tab:purple")
        axes[2].set_ylabel("SSIM")
        axes[2].grid(alpha=0.3)
    if has_poses:
        axes[-1].plot(*series("pose_error"), label="pose error (1: person not found)", color="tab:brown")
        if has_reference:
            axes[-1].plot(*series("pose_error_reference"), label="reference's own", color="tab:gray", linestyle="--")
        axes[-1].set_ylabel("pose error (person sizes)")
        axes[-1].set_ylim(-0.02, result.pose_error_cap + 0.05)
        axes[-1].legend(fontsize="small")
        axes[-1].grid(alpha=0.3)
    axes[-1].set_xlabel("frame")
    figure.savefig(path, dpi=100)
    return True


def write_report(result: EvalResult, output: Path) -> tuple[dict, list[str]]:
    """Write metrics.csv, summary.json (the result without its rows) and metrics.png into the folder
    `output`, atomically.

    Returns ({"folder": ..., "csv": ..., "summary": ..., "plot": ... or None}, warnings).
    """
    output = Path(output)
    warnings = []
    with atomic_path(output) as folder:
        folder.mkdir()
        write_csv(result.rows, folder / CSV_NAME)
        drawn = write_plot(result, folder / PLOT_NAME)
        if not drawn:
            warnings.append(NO_MATPLOTLIB)
        outputs = {
            "folder": str(output),
            "csv": str(output / CSV_NAME),
            "summary": str(output / SUMMARY_NAME),
            "plot": str(output / PLOT_NAME) if drawn else None,
        }
        write_json(folder / SUMMARY_NAME, replace(result, outputs=outputs, warnings=warnings))
    return outputs, warnings
