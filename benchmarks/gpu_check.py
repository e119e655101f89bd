"""One GPU check, ready for the few minutes a GPU is lent: run it, keep its JSON.

``bash benchmarks/gpu_check.sh [--out DIR] [--work DIR] [--budget-s S] [--dry-run]`` runs,
on one CUDA device, within 600 s of step limits:

0. ``wheels``: installs the wheels of ``benchmarks/gpu_wheels.sh`` (papermill, a Jupyter
   kernel, meshio; the folder ``.whl`` carried to the machine) with ``pip install
   --no-index --no-deps --target``, unless papermill and ipykernel import already;
1. ``bench``: ``cellshapes bench --device cuda`` at its full CUDA sizes (training ratio to
   the baseline, fraction of the bf16 matmul peak, narrow band on the shipped model, the
   paper-scale inference case of 30 x 256^3 against the paper's ~15 s and ~3 GB);
2. ``phantoms``, ``prepare``, ``plan``, ``train``: the ``paper`` profile (eager, so that
   its peak memory compares with the plan's eager estimate) for 3 epochs on one
   filopodial sequence of 4 frames at 256^3: seconds per epoch and peak device memory
   against ``cellshapes plan`` for the same data;
3. ``papermill``: ``cellshapes notebooks --profile gpu --only 07 --device cuda`` (notebook
   07 at the ``gpu`` profile, 128^3, the paper's decoder, three training seeds); the
   executed notebook, its results JSON and a zip of its figures and run logs are kept.

Each step runs under its own time limit; one that fails or runs out of time is recorded
with its error and the check goes on. Bulky files (phantoms, datasets, runs) go to
``--work``; what comes back (at most 8 small files) goes to ``--out``, the summary in
``gpu_check.json``. ``--dry-run`` prints every step with its limit and exits 0 anywhere.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "cellshapes.cli"]
#: The notebook the check executes under papermill (the cheapest of the ``gpu`` notebooks:
#: ``benchmarks/gpu_profile_estimate.py``).
NOTEBOOK = "07_spatial_interpolation"
PIP = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
       "--no-cache-dir", "--upgrade", "--target", "{site}"]
_TRAIN = ("import json, sys, torch; from cellshapes.config import model_config, train_config; "
          "from cellshapes.training.loop import train; "
          "h = train(sys.argv[1], sys.argv[2], model_config('paper'), train_config('paper', "
          "epochs=3, checkpoint_every=3, compile=False), device='cuda', overwrite=True, "
          "progress=False, profile='paper'); "
          "print(json.dumps({'epochs': h, 'max_memory_allocated': "
          "torch.cuda.max_memory_allocated(), 'max_memory_reserved': "
          "torch.cuda.max_memory_reserved()}))")

#: (name, time limit in s, command as argv). ``{out}``, ``{work}``, ``{site}`` are the
#: output, work and wheel-install folders; ``{wheels}`` the wheel files.
STEPS: list[tuple[str, int, list[str]]] = [
    ("wheels", 30, [*PIP, "{wheels}"]),
    ("bench", 150, [*CLI, "bench", "--device", "cuda", "--json", "{out}/bench_cuda.json"]),
    ("phantoms", 45, [*CLI, "phantoms", "filopodial", "--out", "{work}/phantoms",
                      "--sequences", "1", "--frames", "4", "--size", "256", "--overwrite",
                      "-q"]),
    ("prepare", 75, [*CLI, "prepare", "{work}/phantoms/seq_000.tif", "--out",
                     "{work}/filo256.h5", "--size", "256", "--overwrite", "-q"]),
    ("plan", 15, [*CLI, "plan", "--dataset", "{work}/filo256.h5", "--profile", "paper",
                  "--device", "cuda", "--json", "{out}/plan.json", "--overwrite"]),
    ("train", 75, [sys.executable, "-c", _TRAIN, "{work}/filo256.h5", "{work}/run_paper"]),
    ("papermill", 210, [*CLI, "notebooks", "--profile", "gpu", "--only", NOTEBOOK[:2],
                        "--device", "cuda", "--out", "{work}/notebooks"]),
]


def _argv(cmd: list[str], where: dict[str, Path], wheels: list[str]) -> list[str]:
    out: list[str] = []
    for c in cmd:
        if c == "{wheels}":
            out += wheels
            continue
        for key, path in where.items():
            c = c.replace("{" + key + "}", str(path))
        out.append(c)
    return out


def _wheels(folder: Path) -> list[str]:
    return sorted(str(w) for w in folder.glob("*.whl"))


def plan_text(where: dict[str, Path], budget_s: int, wheels: Path) -> str:
    """The steps, their commands and limits, as ``--dry-run`` prints them."""
    total = sum(limit for _, limit, _ in STEPS)
    found = _wheels(wheels)
    shown = [f"{wheels}/*.whl ({len(found)} found)"]
    lines = [f"gpu_check: {len(STEPS)} steps, at most {total} s of step limits "
             f"(budget {budget_s} s), results in {where['out']}/gpu_check.json"]
    for name, limit, cmd in STEPS:
        lines.append(f"  {name:<9} <= {limit:>3} s  {' '.join(_argv(cmd, where, shown))}")
    return "\n".join(lines)


def _run(name: str, limit: int, cmd: list[str], left: float,
         env: dict[str, str]) -> dict[str, Any]:
    limit = int(max(1, min(limit, left)))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, env=env,
                              cwd=ROOT)
        rec = {"rc": proc.returncode, "stdout_tail": proc.stdout[-4000:],
               "stderr_tail": proc.stderr[-4000:]}
    except subprocess.TimeoutExpired:
        rec = {"rc": None, "error": f"timed out after {limit} s"}
    except OSError as exc:
        rec = {"rc": None, "error": str(exc)}
    rec.update(name=name, limit_s=limit, wall_s=round(time.perf_counter() - t0, 2))
    print(f"gpu_check: {name}: rc {rec['rc']}, {rec['wall_s']} s", flush=True)
    return rec


def _have_papermill(env: dict[str, str]) -> bool:
    probe = [sys.executable, "-c", "import papermill, ipykernel, meshio"]
    return subprocess.run(probe, capture_output=True, env=env).returncode == 0


def keep_notebook_outputs(work: Path, out: Path) -> list[str]:
    """Copy the executed notebook and its results JSON to ``out``; zip its figures and the
    run logs (``log.csv``, ``config.json``, ``converged.json``) into one file there."""
    kept = []
    for src in (work / "notebooks" / "notebooks" / f"{NOTEBOOK}.ipynb",
                work / "notebooks" / "results" / f"{NOTEBOOK}.json"):
        if src.exists():
            shutil.copy2(src, out / src.name)
            kept.append(src.name)
    files = sorted((work / "notebooks" / "figures").glob(f"{NOTEBOOK[:2]}_*.png"))
    for name in ("log.csv", "config.json", "converged.json"):
        files += sorted((work / "notebooks" / "runs").rglob(name))
    if files:
        with zipfile.ZipFile(out / f"{NOTEBOOK}_files.zip", "w", zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(f, f.relative_to(work / "notebooks"))
        kept.append(f"{NOTEBOOK}_files.zip")
    return kept


def _epoch_seconds(runs: Path) -> dict[str, float]:
    """Median seconds per epoch of each run under ``runs`` (its ``log.csv``)."""
    out = {}
    for log in sorted(runs.rglob("log.csv")):
        with open(log, newline="") as fh:
            times = sorted(float(r["time_s"]) for r in csv.DictReader(fh) if r.get("time_s"))
        if times:
            out[log.parent.name] = times[len(times) // 2]
    return out


def _summary(where: dict[str, Path], steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The numbers the README and RESULTS.md quote, from the step outputs."""
    out, summary = where["out"], {}
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
        summary["train_paper"] = {"seconds_per_epoch": [r["time_s"] for r in doc["epochs"]],
                                  "max_memory_allocated": doc["max_memory_allocated"],
                                  "max_memory_reserved": doc["max_memory_reserved"]}
        plan = out / "plan.json"
        if plan.exists():
            summary["train_paper"]["plan_device_bytes"] = json.loads(
                plan.read_text())["device_bytes"]
    results = out / f"{NOTEBOOK}.json"
    summary["notebook"] = {"name": NOTEBOOK, "profile": "gpu",
                           "ok": steps.get("papermill", {}).get("rc") == 0,
                           "seconds": steps.get("papermill", {}).get("wall_s"),
                           "seconds_per_epoch": _epoch_seconds(where["work"] / "notebooks")}
    if results.exists():
        summary["notebook"]["verdicts"] = [c.get("verdict") for c in
                                           json.loads(results.read_text()).get("claims", [])]
    return summary


def _environment(site: Path) -> dict[str, str]:
    """The steps' environment: the installed wheels and this checkout on PYTHONPATH."""
    path = [str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p),
            "PYTHONUNBUFFERED": "1"}


def _execute(where: dict[str, Path], budget_s: int, wheels: list[str]) -> dict[str, Any]:
    env, start = _environment(where["site"]), time.perf_counter()
    steps: dict[str, dict[str, Any]] = {}
    for name, limit, cmd in STEPS:
        left = budget_s - (time.perf_counter() - start)
        if name == "wheels" and _have_papermill(env):
            steps[name] = {"name": name, "rc": 0, "skipped": "papermill already importable"}
        elif name == "wheels" and not wheels:
            steps[name] = {"name": name, "rc": None, "error": "no wheels: run "
                           "benchmarks/gpu_wheels.sh where pip works and carry .whl"}
        elif left < 5:
            steps[name] = {"name": name, "rc": None, "error": "budget spent"}
        else:
            steps[name] = _run(name, limit, _argv(cmd, where, wheels), left, env)
        if name == "papermill":
            steps[name]["kept"] = keep_notebook_outputs(where["work"], where["out"])
    return {"total_s": round(time.perf_counter() - start, 1), "steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check")),
                        help="output folder, small files only (default $OUT, else ./gpu_check)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cellshapes_gpu_check"),
                        help="folder for phantoms, datasets and runs")
    parser.add_argument("--wheels", type=Path, default=ROOT / ".whl",
                        help="wheels of benchmarks/gpu_wheels.sh (default .whl)")
    parser.add_argument("--budget-s", type=int, default=600,
                        help="wall-clock budget of all steps together (default 600)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit 0")
    a = parser.parse_args(argv)
    where = {"out": a.out.resolve(), "work": a.work.resolve(), "site": a.work.resolve() / "site"}
    print(plan_text(where, a.budget_s, a.wheels), flush=True)
    if a.dry_run:
        return 0
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: error: no CUDA device (use --dry-run to see the plan)",
              file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    doc = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
           **_execute(where, a.budget_s, _wheels(a.wheels))}
    doc["summary"] = _summary(where, doc["steps"])
    (a.out / "gpu_check.json").write_text(json.dumps(doc, indent=1))
    print(json.dumps(doc["summary"], indent=1))
    return 0 if all(s.get("rc") == 0 for s in doc["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
