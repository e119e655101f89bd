"""Does bfloat16 mixed precision cost accuracy? Train the same quick-profile model twice.

For each seed, trains the ``quick`` profile on a phantom dataset once in float32 and once
with ``amp=True`` (bfloat16 mixed precision, ``cellshapes.model.Decoder``), everything
else equal, then evaluates both in float32 against the training data (DSC, the last
epoch's L1 loss, wall time). Writes one JSON with every run.

Usage::

    python benchmarks/amp_accuracy.py --kind filopodial --seeds 0 1 \\
        --json benchmarks/amp_accuracy.json

About 2.5 min per float32 and 1.5 min per mixed-precision run on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import tempfile
import time
from pathlib import Path

import torch

from cellshapes import __version__
from cellshapes.config import model_config, train_config
from cellshapes.inference.evaluate import evaluate_run
from cellshapes.repro.workflow import phantom_dataset
from cellshapes.training.loop import train


def _last_loss(run: Path) -> float:
    with open(run / "log.csv") as fh:
        return float(list(csv.DictReader(fh))[-1]["loss"])


def compare(kind: str, seeds: list[int], epochs: int, data_dir: Path, runs_dir: Path
            ) -> list[dict]:
    """One row per (seed, precision): DSC, final loss and training time."""
    dataset = phantom_dataset(kind, data_dir, profile="quick")
    rows = []
    for seed in seeds:
        for amp in (False, True):
            run = runs_dir / f"{kind}_s{seed}_{'amp' if amp else 'fp32'}"
            t0 = time.perf_counter()
            train(dataset, run, model_config("quick"),
                  train_config("quick", epochs=epochs, amp=amp, seed=seed), device="cpu",
                  overwrite=True, progress=False, profile="quick")
            seconds = time.perf_counter() - t0
            report = evaluate_run(run, dataset, device="cpu", progress=False)
            rows.append({"kind": kind, "seed": seed, "amp": amp, "epochs": epochs,
                         "train_s": round(seconds, 1), "dsc_mean": report["dsc_mean"],
                         "final_loss": _last_loss(run)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", default="filopodial", choices=["growing", "dividing", "filopodial"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--data", type=Path, default=Path("data/generated"))
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = compare(a.kind, a.seeds, a.epochs, a.data, Path(tmp))
    out = {"rows": rows, "torch": torch.__version__, "cellshapes": __version__,
           "threads": torch.get_num_threads(),
           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "command": "python benchmarks/amp_accuracy.py " + " ".join(
               [f"--kind {a.kind}", "--seeds", *map(str, a.seeds), f"--epochs {a.epochs}"]
               + ([f"--json {a.json}"] if a.json else []))}
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"-> {a.json}")


if __name__ == "__main__":
    main()
