#!/usr/bin/env bash
# Install v2v into ./.venv and run one job:  bash setup.sh demo | test | install
#   demo     the main job on the bundled example clips
#   test     the test suite
#   install  only the installation
# As root on Debian/Ubuntu it first installs the system libraries OpenCV needs. Without an NVIDIA GPU it
# installs PyTorch's CPU build (torch==2.13.0) before the package, so pip does not pull CUDA packages.
set -euo pipefail
cd "$(dirname "$0")"
job="${1:-demo}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for package in libgl1 libglib2.0-0 python3-venv; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi >/dev/null 2>&1; then
  .venv/bin/python -c "import torch" 2>/dev/null || "${pip[@]}" torch==2.13.0
fi
"${pip[@]}" -e ".[test]"

case "$job" in
  demo) exec .venv/bin/v2v demo ;;
  test) exec .venv/bin/python -m pytest -q -m "slow or not slow" ;;
  install) echo "installed: .venv/bin/v2v" ;;
  *) echo "usage: bash setup.sh demo|test|install" >&2; exit 2 ;;
esac
