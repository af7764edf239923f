"""Judging generated videos: temporal warping error, flicker, PSNR, SSIM and pose error (`v2v eval`, docs/eval.md)."""

from v2vcli.evaluate.run import COLUMNS, evaluate_videos, run_evaluation

__all__ = ["COLUMNS", "evaluate_videos", "run_evaluation"]
