"""Run the cellshapes benchmarks (``harness.py``): the same code path as ``cellshapes bench``.

Usage::

    python benchmarks/run.py --quick --device cpu --json benchmarks/cpu_quick.json
    python benchmarks/run.py --device cuda --json benchmarks/gpu_full.json
"""
from __future__ import annotations

import sys

from cellshapes.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
