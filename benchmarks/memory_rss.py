"""Peak host RSS of ``cellshapes train`` on the CPU against the memory plan it prints.

For each shape (sequences x frames x size^3) the script writes a dataset of growing,
off-centre ellipsoids, runs ``python -m cellshapes.cli train DATA --profile smoke --epochs
E --device cpu`` as the only child of a small wrapper process and reads the wrapper's
``RUSAGE_CHILDREN`` peak (Linux: KiB), and parses "host peak" from the plan that ``train``
printed before it read any frame.

Usage::

    python benchmarks/memory_rss.py --shapes 4x10x32 8x10x48 8x10x64 8x10x128 \
        --epochs 2 --json benchmarks/memory_rss.json

``--train-args "--near-set paper"`` adds train options. ``--pythonpath DIR`` runs the
train command in DIR with ``PYTHONPATH=DIR`` (e.g. an older checkout, to compare; one
without the plan prints none).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

WRAPPER = ("import resource, subprocess, sys; "
           "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "sys.stdout.write(p.stderr); "
           "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)")


def write_ellipsoids(path: Path, sequences: int, frames: int, size: int, seed: int = 0) -> None:
    """Growing off-centre ellipsoids, SDF in cube units (as ``tests/conftest.py``)."""
    from cellshapes.io import SDFSequence, write_dataset

    rng = np.random.default_rng(seed)
    g = np.linspace(-1, 1, size, dtype=np.float32)
    z, y, x = np.meshgrid(g, g, g, indexing="ij", sparse=True)
    seqs = []
    for i in range(sequences):
        axes = np.sort(rng.uniform(0.3, 0.6, 3))[::-1] * np.array([1.0, 0.8, 0.6]) + 0.1
        shift = rng.uniform(-0.1, 0.1, 3)
        vol = np.empty((frames, size, size, size), np.float32)
        for k in range(frames):
            a = axes * (1 + 0.3 * k / max(frames - 1, 1))
            q = np.sqrt(((z - shift[0]) / a[0]) ** 2 + ((y - shift[1]) / a[1]) ** 2
                        + ((x - shift[2]) / a[2]) ** 2)
            vol[k] = (q - 1) * a.min()
        attrs = dict(spacing_um=[1.0, 1.0, 1.0], scale_um=10.0, voxel_um=20.0 / (size - 1),
                     sdf_unit_um=10.0, cell_type="ellipsoid", source="analytic")
        seqs.append(SDFSequence(f"seq_{i:04d}", vol, attrs))
    write_dataset(path, seqs, overwrite=True)


def measure(data: Path, run: Path, epochs: int, pythonpath: str | None = None,
            extra: Sequence[str] = ()) -> dict:
    """Run ``train`` on ``data`` (plus ``extra`` options); return planned and peak bytes."""
    cmd = [sys.executable, "-m", "cellshapes.cli", "train", str(data), "--out", str(run),
           "--profile", "smoke", "--epochs", str(epochs), "--device", "cpu", "--overwrite",
           *extra]
    env = dict(os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {}))
    res = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True,
                         env=env, cwd=pythonpath)  # ``-m`` imports from the cwd first
    peak_kib, rc = map(int, re.search(r"PEAK (\d+) (-?\d+)", res.stdout).groups())
    if rc != 0:
        raise RuntimeError(f"train failed (exit {rc}):\n{res.stdout[-3000:]}")
    plan = re.search(r"host peak\s+\S+ \S+ \(([\d,]+) bytes\)", res.stdout)
    parts = re.search(r"data on host\s+volumes (.*)", res.stdout)
    out = {"command": " ".join(["cellshapes", *cmd[3:]]), "measured_bytes": peak_kib * 1024}
    if plan:
        out["planned_bytes"] = int(plan.group(1).replace(",", ""))
        out["ratio"] = round(out["measured_bytes"] / out["planned_bytes"], 3)
        out["plan_text"] = res.stdout[res.stdout.index("memory plan"):].split("\ncellshapes")[0]
        out["data"] = parts.group(1) if parts else ""
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shapes", nargs="+", default=["4x10x32", "8x10x48", "8x10x64"],
                   help="NxTxS: sequences x frames x size")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--pythonpath", default=None, help="PYTHONPATH of the train command")
    p.add_argument("--train-args", default="", help="more train options, e.g. '--near-set paper'")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in a.shapes:
            n, t, s = (int(v) for v in shape.split("x"))
            data = Path(tmp) / f"e_{shape}.h5"
            write_ellipsoids(data, n, t, s)
            row = {"shape": shape, "dataset_float32_bytes": n * t * s**3 * 4,
                   **measure(data, Path(tmp) / f"run_{shape}", a.epochs, a.pythonpath,
                               a.train_args.split())}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "plan_text"}), flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
