#!/usr/bin/env bash
# The GPU check of benchmarks/gpu_check.py: <= 600 s of step limits on one H100.
#   bash benchmarks/gpu_check.sh [--out DIR] [--work DIR] [--budget-s S] [--dry-run]
# Installs nothing from the network: papermill and its kernel come from the wheels of
# benchmarks/gpu_wheels.sh (carry .whl), installed under --work with pip --no-index.
# Uses .venv/ of the checkout when there is one (else python3 on PATH, which must have
# torch with CUDA); cellshapes runs from this checkout. --dry-run prints every step with
# its limit and exits 0 anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
exec python3 benchmarks/gpu_check.py "$@"
