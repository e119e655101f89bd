"""One GPU check, ready for the few minutes a GPU is lent: run it, keep its JSON.

``bash benchmarks/gpu_check.sh [--out DIR] [--budget-s S] [--dry-run]`` runs, on one CUDA
device and with what is installed (nothing is downloaded):

1. ``cellshapes bench --device cuda`` at its full CUDA sizes: the training ratio to the
   baseline and the fraction of the bf16 matmul peak, narrow-band fraction and speed-up on
   the shipped trained model, and the paper-scale case of 30 x 256^3 frames (time and
   peak memory, against the paper's ~15 s on an A100 and ~3 GB);
2. the ``paper`` profile trained for a few epochs on 2 filopodial phantom sequences x 30
   frames at 256^3: seconds per epoch and the device's peak memory against
   ``cellshapes plan`` for the same dataset.

Each step runs under its own time limit; one that fails or runs out of time is recorded
with its error and the check goes on. Everything lands in ``DIR/gpu_check.json``.
``--dry-run`` prints the plan (steps, commands, time limits) and exits 0 on any machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: (name, time limit in s, command as argv; ``{out}`` is the output folder).
STEPS: list[tuple[str, int, list[str]]] = [
    ("bench", 300, ["cellshapes", "bench", "--device", "cuda", "--json", "{out}/bench_cuda.json"]),
    ("phantoms", 60, ["cellshapes", "phantoms", "filopodial", "--out", "{out}/phantoms",
                      "--sequences", "2", "--frames", "30", "--size", "256", "--overwrite",
                      "-q"]),
    ("prepare", 90, ["cellshapes", "prepare", "{out}/phantoms/seq_000.tif",
                     "{out}/phantoms/seq_001.tif", "--out", "{out}/filo256.h5", "--size", "256",
                     "--overwrite", "-q"]),
    ("plan", 30, ["cellshapes", "plan", "--dataset", "{out}/filo256.h5", "--profile", "paper",
                  "--device", "cuda", "--json", "{out}/plan.json", "--overwrite"]),
    ("train", 150, [sys.executable, "-c",
                    "import json, sys, torch; from cellshapes.config import model_config, "
                    "train_config; from cellshapes.training.loop import train; "
                    "h = train(sys.argv[1], sys.argv[2], model_config('paper'), "
                    "train_config('paper', epochs=3, checkpoint_every=3), device='cuda', "
                    "overwrite=True, progress=False, profile='paper'); "
                    "print(json.dumps({'epochs': h, 'max_memory_allocated': "
                    "torch.cuda.max_memory_allocated(), 'max_memory_reserved': "
                    "torch.cuda.max_memory_reserved()}))",
                    "{out}/filo256.h5", "{out}/run_paper"]),
]


def _argv(cmd: list[str], out: Path) -> list[str]:
    return [c.replace("{out}", str(out)) for c in cmd]


def plan_text(out: Path, budget_s: int) -> str:
    """The steps, their commands and limits, as ``--dry-run`` prints them."""
    total = sum(limit for _, limit, _ in STEPS)
    lines = [f"gpu_check: {len(STEPS)} steps, at most {total} s of step limits "
             f"(budget {budget_s} s), results in {out}/gpu_check.json"]
    for name, limit, cmd in STEPS:
        lines.append(f"  {name:<9} <= {limit:>3} s  {' '.join(_argv(cmd, out))}")
    return "\n".join(lines)


def _run(name: str, limit: int, cmd: list[str], left: float) -> dict[str, Any]:
    limit = int(max(1, min(limit, left)))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
        rec = {"rc": proc.returncode, "stdout_tail": proc.stdout[-4000:],
               "stderr_tail": proc.stderr[-4000:]}
    except subprocess.TimeoutExpired:
        rec = {"rc": None, "error": f"timed out after {limit} s"}
    except OSError as exc:
        rec = {"rc": None, "error": str(exc)}
    rec.update(name=name, limit_s=limit, wall_s=round(time.perf_counter() - t0, 2))
    print(f"gpu_check: {name}: rc {rec['rc']}, {rec['wall_s']} s", flush=True)
    return rec


def _summary(out: Path, steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The numbers the README and RESULTS.md quote, from the step outputs."""
    summary: dict[str, Any] = {}
    bench = out / "bench_cuda.json"
    if bench.exists():
        b = json.loads(bench.read_text())
        summary["bench"] = {k: b.get(k) for k in (
            "train_speedup", "train_peak_fraction", "narrowband_fraction",
            "narrowband_speedup", "narrowband_identical", "narrowband_by_size")}
        summary["bench"]["paper_case"] = b.get("inference", {}).get("paper_case")
        summary["device_name"] = b.get("environment", {}).get("device_name")
    train = steps.get("train", {})
    if train.get("rc") == 0:
        doc = json.loads(train["stdout_tail"].strip().splitlines()[-1])
        times = [row["time_s"] for row in doc["epochs"]]
        summary["train_paper"] = {"seconds_per_epoch": times,
                                  "max_memory_allocated": doc["max_memory_allocated"],
                                  "max_memory_reserved": doc["max_memory_reserved"]}
        plan = out / "plan.json"
        if plan.exists():
            summary["train_paper"]["plan_device_bytes"] = json.loads(
                plan.read_text())["device_bytes"]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check")),
                        help="output folder (default $OUT, else ./gpu_check)")
    parser.add_argument("--budget-s", type=int, default=600,
                        help="wall-clock budget of all steps together (default 600)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit 0")
    a = parser.parse_args(argv)
    print(plan_text(a.out, a.budget_s), flush=True)
    if a.dry_run:
        return 0
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: error: no CUDA device (use --dry-run to see the plan)",
              file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    steps: dict[str, dict[str, Any]] = {}
    for name, limit, cmd in STEPS:
        left = a.budget_s - (time.perf_counter() - start)
        if left < 5:
            steps[name] = {"name": name, "rc": None, "error": "budget spent"}
            continue
        steps[name] = _run(name, limit, _argv(cmd, a.out), left)
    doc = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
           "total_s": round(time.perf_counter() - start, 1), "steps": steps,
           "summary": _summary(a.out, steps)}
    (a.out / "gpu_check.json").write_text(json.dumps(doc, indent=1))
    print(json.dumps(doc["summary"], indent=1))
    return 0 if all(s.get("rc") == 0 for s in steps.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
