#!/usr/bin/env bash
# Wheels the GPU machine lacks (papermill, a Jupyter kernel, meshio) into a git-ignored
# folder to carry there; see benchmarks/gpu_wheels.py.
#   bash benchmarks/gpu_wheels.sh [--dir .whl] [--list | --dry-run]
# Needs pip and a package index (run it here, not on the GPU machine); --list needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."
py=python3
if [ -x .venv/bin/python ]; then py=.venv/bin/python; fi
exec "${PYTHON:-$py}" benchmarks/gpu_wheels.py "$@"
