"""Convergence curve of the study filopodial model: how many epochs does it need?

Notebook 02's study filopodial setting (4 phantom sequences x 5 frames at 64^3, seed 0;
the ``study`` model and training profile: 9 x 128 sine decoder, latent 64, 4096 points per
frame, bf16 mixed precision + compile, the paper's near set, the study default
when the curve was measured), trained in one continued run (exact resume) and
scored after each of the listed epochs: mean training loss of the epoch, and on the last
frame of every sequence (reconstructed on the training grid) DSC, island fraction and
connected protrusion recall (:func:`cellshapes.measure.compare.compare_path`). Also where
the plateau rule (``TrainConfig.plateau_epochs`` = 50, 1 %) would have stopped. Two
training seeds. About 12 minutes on 2 CPU cores.

    python benchmarks/convergence.py --out benchmarks/convergence.json

Committed so far: ``benchmarks/convergence_seed0.log``, the printed rows of seed 0 up to 400
epochs (the run was stopped there, before 600 epochs and seed 1, to free the cores for the
study notebooks of 2026-12-06); each line is ``seed {row}`` as :func:`curve` prints it.
"""
from __future__ import annotations

import json
from pathlib import Path

from cellshapes.config import model_config, train_config
from cellshapes.training.stopping import plateau_reached

try:
    from benchmarks.studies import continued_run, last_frame_scores, out_argument, phantom_data
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from studies import continued_run, last_frame_scores, out_argument, phantom_data

EPOCHS = (50, 100, 200, 400, 600)
SEEDS = (0, 1)
PLATEAU = (50, 0.01)


def curve(ds: Path, work: Path, seed: int) -> dict:
    run = work / f"seed{seed}"

    def score(epochs: int) -> dict:
        log = (run / "log.csv").read_text().strip().splitlines()
        row = {"loss": float(dict(zip(log[0].split(","), log[-1].split(",")))["loss"]),
               **last_frame_scores(ds, run, work / f"rec_{seed}_{epochs}")}
        print(seed, json.dumps({"epochs": epochs, **row}), flush=True)
        return row

    # the paper's near set: the study default when this curve was measured (now the band)
    first = train_config("study", seed=seed, checkpoint_every=50, near_set="paper")
    rows, _ = continued_run(ds, run, model_config("study"), first, EPOCHS, "study", score)
    header, *lines = (run / "log.csv").read_text().strip().splitlines()
    losses = [float(dict(zip(header.split(","), ln.split(",")))["loss"]) for ln in lines]
    stop = next((e for e in range(1, len(losses) + 1)
                 if plateau_reached(losses[:e], *PLATEAU)), None)
    return {"seed": seed, "rows": rows, "plateau_stop_epoch": stop, "losses": losses}


def main() -> None:
    out = out_argument(__doc__, "convergence.json")
    with phantom_data("filopodial", "study", 0, sequences=4, frames=5) as (ds, work):
        results = [curve(ds, work, s) for s in SEEDS]
    out.write_text(json.dumps({"setup": __doc__.split("\n\n")[1], "epochs": list(EPOCHS),
                               "plateau": list(PLATEAU), "results": results}, indent=1))


if __name__ == "__main__":
    main()
