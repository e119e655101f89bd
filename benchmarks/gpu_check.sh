#!/usr/bin/env bash
# The GPU check of benchmarks/gpu_check.py: <= 10 minutes on one H100, installs nothing.
#   bash benchmarks/gpu_check.sh [--out DIR] [--budget-s S] [--dry-run]
# Uses .venv/ of the checkout when there is one (else the python on PATH, which must have
# torch with CUDA and cellshapes installed). --dry-run prints the plan and exits 0 anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
exec python benchmarks/gpu_check.py "$@"
