"""Is notebook 09's round DeepSDF caused by its reduced width or by its short schedule?

Notebook 09 compares the study sine model (9 x 128, latent 64) with a DeepSDF decoder
scaled to the sine model's width (8 x 128, latent 64; the paper's is 8 x 512, latent
256) and both stop on the same loss-plateau rule; the DeepSDF stays a round body without
filopodia. This script trains, on a smaller filopodial set (2 phantom sequences x 3
frames at 64^3, data seed 0) with the study training profile and the plateau rule of the
study base models (``repro.presets.base_stop_rule("study")``: 50 epochs, 1 %, cap 400 epochs),
five arms: the sine model, DeepSDF 8 x 128 (as notebook 09), DeepSDF at the paper's
width (8 x 512, latent 256), DeepSDF 8 x 128 on the ``paper`` profile's schedule (lr
halved every 350 epochs instead of 50, cap 2000 epochs, the paper's budget; the same
plateau rule), and the same without the stopping rule (2000 epochs: does DeepSDF grow
filopodia if it trains on after its loss plateaus?). Each run is scored on the last frame
of every sequence (DSC, island fraction, connected protrusion recall;
:func:`benchmarks.studies.last_frame_scores`). Three training seeds per arm. About 100
minutes on 2 CPU cores; rows already in ``--out`` (same arm and seed) are kept, not
trained again, so an interrupted run goes on where it stopped.

    python benchmarks/deepsdf_width.py --out benchmarks/deepsdf_width.json

It prints the docs/benchmarks.md table at the end.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from cellshapes.config import model_config, train_config
from cellshapes.repro.presets import base_stop_rule
from cellshapes.repro.runs import epochs_trained, stopped_on_plateau

try:
    from benchmarks.studies import continued_run, last_frame_scores, out_argument, phantom_data
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from studies import continued_run, last_frame_scores, out_argument, phantom_data

CAP = 400
SEEDS = (0, 1, 2)
_DEEPSDF = dict(arch="deepsdf", hidden=128, latent_dim=64)
#: arm -> (model overrides, train overrides, cap in epochs)
ARMS = {
    "sine 9 x 128, latent 64": ({}, {}, CAP),
    "DeepSDF 8 x 128, latent 64 (notebook 09)": (_DEEPSDF, {}, CAP),
    "DeepSDF 8 x 512, latent 256 (paper width)": (dict(arch="deepsdf"), {}, CAP),
    "DeepSDF 8 x 128, latent 64, lr halved every 350 epochs, cap 2000": (
        _DEEPSDF, dict(lr_step=350), 2000),
    "DeepSDF 8 x 128, latent 64, lr halved every 350 epochs, 2000 epochs, no stopping rule": (
        _DEEPSDF, dict(lr_step=350, plateau_epochs=0), 2000),
}


def arm_row(name: str, ds: Path, work: Path, seed: int) -> dict:
    """Train one arm with one seed to the plateau rule (up to the arm's cap) and score it."""
    model, extra, cap = ARMS[name]
    run = work / f"arm{list(ARMS).index(name)}_seed{seed}"
    first = train_config("study", seed=seed, checkpoint_every=50, **{**base_stop_rule("study"), **extra})

    def score(n: int) -> dict:
        return {"epochs_trained": epochs_trained(run), "plateau": stopped_on_plateau(run),
                **last_frame_scores(ds, run, work / f"rec_{run.name}")}

    rows, _ = continued_run(ds, run, model_config("study", **model), first, (cap,), "study",
                            score)
    row = {"arm": name, "seed": seed, "cap": cap, **rows[0]}
    print(json.dumps(row), flush=True)
    return row


def summary(rows: list[dict]) -> str:
    """The docs table: per arm, the range over seeds of epochs and each score."""
    cols = [("epochs_trained", "epochs trained", 0),
            ("dsc_last", "DSC, last frame", 3), ("island_fraction_last", "island fraction", 4),
            ("connected_protrusion_recall_last", "connected protrusion recall", 3),
            ("train_s", "training s per run", 0)]
    out = ["| arm | seeds | stopped by the rule | " + " | ".join(c[1] for c in cols) + " |",
           "|---|---:|---:|" + "---|" * len(cols)]
    for arm in dict.fromkeys(r["arm"] for r in rows):
        sub = pd.DataFrame([r for r in rows if r["arm"] == arm])
        cells = [f"{sub[key].min():.{nd}f}-{sub[key].max():.{nd}f}" for key, _, nd in cols]
        out.append(f"| {arm} | {len(sub)} | {int(sub['plateau'].sum())} | "
                   + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    out = out_argument(__doc__, "deepsdf_width.json")
    done = {(r["arm"], r["seed"]): r
            for r in (json.loads(out.read_text())["rows"] if out.is_file() else [])}

    def write(rows: list[dict]) -> None:
        out.write_text(json.dumps({"setup": __doc__.split("\n\n")[1], "stop": base_stop_rule("study"),
                                   "rows": rows}, indent=1))

    with phantom_data("filopodial", "study", 0, sequences=2, frames=3, size=64) as (ds, work):
        for seed in SEEDS:
            for name in ARMS:
                if (name, seed) not in done:
                    done[name, seed] = arm_row(name, ds, work, seed)
                    write(list(done.values()))  # every row so far, kept ones included
    rows = [done[name, seed] for seed in SEEDS for name in ARMS]
    write(rows)
    print(summary(rows))


if __name__ == "__main__":
    main()
