#!/bin/sh
# Create .venv and install cellshapes with the right build of PyTorch.
#
#   sh scripts/setup.sh           CPU build of torch (PyTorch's CPU wheel index),
#                                 falls back to PyPI when that index is unreachable
#   sh scripts/setup.sh --cuda    CUDA build of torch (PyPI's default Linux wheel)
#   CELLSHAPES_TORCH=cuda sh scripts/setup.sh      same as --cuda
#   CELLSHAPES_TORCH_INDEX=URL sh scripts/setup.sh  another torch index, e.g.
#                                 https://download.pytorch.org/whl/cu126
#
# Environment: PYTHON (default python3.11, else python3), VENV (default .venv).
set -eu
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
CPU_INDEX=https://download.pytorch.org/whl/cpu
MODE=${CELLSHAPES_TORCH:-cpu}
for arg in "$@"; do
    case "$arg" in
        --cuda) MODE=cuda ;;
        --cpu) MODE=cpu ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "setup.sh: error: unknown option $arg (use --cpu or --cuda)" >&2; exit 2 ;;
    esac
done
case "$MODE" in
    cpu|cuda) ;;
    *) echo "setup.sh: error: CELLSHAPES_TORCH must be cpu or cuda, not $MODE" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=${VENV:-.venv}

"$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip

# Is an index reachable? A 5 s look, no retries, so a machine that only
# reaches PyPI falls back at once.
reachable() {
    "$VENV/bin/python" - "$1" <<'PYEOF'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/torch/", timeout=5).close()
except Exception:
    sys.exit(1)
PYEOF
}

INDEX=${CELLSHAPES_TORCH_INDEX:-}
if [ -z "$INDEX" ] && [ "$MODE" = cpu ]; then
    if reachable "$CPU_INDEX"; then
        INDEX=$CPU_INDEX
    else
        echo "setup.sh: warning: $CPU_INDEX is not reachable; taking torch from PyPI." >&2
        echo "setup.sh: warning: on Linux PyPI's torch is the CUDA build (several GB of nvidia packages)" >&2
        echo "setup.sh: warning: unless a local CPU wheel is offered to pip." >&2
    fi
fi

if [ -n "$INDEX" ]; then
    echo "setup.sh: torch==$TORCH_VERSION from $INDEX"
    $PIP install -q --retries 1 --timeout 60 "torch==$TORCH_VERSION" --index-url "$INDEX"
else
    echo "setup.sh: torch==$TORCH_VERSION from PyPI"
    $PIP install -q "torch==$TORCH_VERSION"
fi
# The package and its extras; the constraint keeps the torch just installed.
$PIP install -q -e ".[dev,notebooks,docs]" -c constraints-cpu.txt
"$VENV/bin/cellshapes" --version
"$VENV/bin/python" -c "import torch; print('setup.sh: torch', torch.__version__, 'CUDA build' if torch.version.cuda else 'CPU build')"
echo "setup.sh: done; activate with: . $VENV/bin/activate"
