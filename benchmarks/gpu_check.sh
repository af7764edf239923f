#!/usr/bin/env bash
# The GPU checks of generation, in under 8 minutes on one GPU: the `gpu` tests, then `v2v generate`
# against the bare generator loop at base 512x256 and hd 1024x512 (eager, with a profile of where the
# gap goes), then the same with CUDA graphs. Every step has its own time limit, so one that hangs does
# not take the others with it. Figures go to stdout and, where $OUT is set, to $OUT/gpu_check.txt.
#
#     bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
LOG=${OUT:-/tmp}/gpu_check.txt
: > "$LOG"

step() {  # step SECONDS COMMAND...: run it under a time limit, log it, say how it ended
    local limit=$1
    shift
    echo "== $* (limit ${limit}s)" | tee -a "$LOG"
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    echo "== exit ${PIPESTATUS[0]}" | tee -a "$LOG"
}

"$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print(torch.cuda.get_device_name(0))" \
    | tee -a "$LOG" || exit 1
step 180 "$PYTHON" -m pytest -q -m gpu -p no:cacheprovider tests/
# Eager pipeline at base 512x256, then the hd 1024x512 GPU row; profiles of both.
step 170 "$PYTHON" benchmarks/bench_generate.py --device cuda --preset base --size 512x256 --frames 240 \
    --rounds 2 --profile
# CUDA graphs at base 512x256, then the hd 1024x512 row, in one process (compiled once per model: the
# warm-up run pays for it, the timed rounds do not).
step 130 "$PYTHON" benchmarks/bench_generate.py --device cuda --preset base --size 512x256 --frames 240 \
    --rounds 2 --cuda-graphs
