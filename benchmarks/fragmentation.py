"""What fragments the filopodia? A small ablation of the study filopodial model.

Notebook 02's study filopodial setting (4 phantom sequences x 5 frames at 64^3, data
seed 0; the ``study`` model and training profile: 9 x 128 sine decoder, latent 64, 4096
points per frame, 70 % near / 30 % uniform, lr 5e-4 halved every 50 epochs, code
regulariser 1e-4, bf16) with the paper's near set (``BASE``: the study default before this
ablation made it the band) trained for 200 epochs (where the convergence curve,
``benchmarks/convergence_seed0.log``, first reached an island fraction of 0; the study
default is 400), and one change per arm: 100 epochs (the same run, scored on its way),
half the points, the near set ``band`` (|sdf| <= max(0.6 um, 1.5 voxels)) instead of the
paper's whole interior, a 50/50 near/uniform split, a constant learning rate, no code
regulariser (w0 and the grid have their own notebooks, 08 and 07). Each run is scored on
the last frame of every sequence, reconstructed on its training grid
(:func:`cellshapes.measure.compare.compare_path`): DSC, island fraction, connected
protrusion recall. Three training seeds per arm. About
60 minutes on 2 CPU cores.

    python benchmarks/fragmentation.py --out benchmarks/fragmentation.json

It prints the docs/benchmarks.md table at the end (:func:`summary`).
"""
from __future__ import annotations

import json
from pathlib import Path

from cellshapes.config import model_config, train_config
from cellshapes.errors import InputError

try:
    from benchmarks.studies import continued_run, last_frame_scores, out_argument, phantom_data
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from studies import continued_run, last_frame_scores, out_argument, phantom_data

EPOCHS = 200
SEEDS = (0, 1, 2)
#: the setting every arm changes: the study profile as it was when this ablation ran
BASE = dict(near_set="paper")
#: arm -> (model overrides, train overrides)
ARMS = {
    "study, 200 epochs": ({}, {}),
    "half the points (2048 per frame)": ({}, dict(points_per_frame=2048)),
    "near set band instead of the interior": ({}, dict(near_set="band")),
    "near / uniform 50 / 50 instead of 70 / 30": ({}, dict(near_fraction=0.5)),
    "constant learning rate": ({}, dict(lr_step=10_000)),
    "no code regulariser": ({}, dict(code_reg=0.0)),
}


def score_run(ds: Path, run: Path, rec: Path) -> dict:
    """:func:`last_frame_scores`, or NaN scores and the reason for a cell rebuilt as nothing."""
    try:
        return last_frame_scores(ds, run, rec)
    except InputError as exc:  # a cell rebuilt as nothing: recorded, not scored
        nan = float("nan")
        return {"dsc_last": nan, "island_fraction_last": nan,
                "connected_protrusion_recall_last": nan, "error": str(exc)}


def arm_rows(name: str, ds: Path, work: Path, seed: int) -> list[dict]:
    model, extra = ARMS[name]
    run = work / f"arm{list(ARMS).index(name)}_seed{seed}"
    first = train_config("study", seed=seed, checkpoint_every=50, **{**BASE, **extra})
    epochs = (100, EPOCHS) if name == "study, 200 epochs" else (EPOCHS,)

    def score(n: int) -> dict:
        row = score_run(ds, run, work / f"rec_{run.name}_{n}")
        arm = "study, 100 epochs" if n == 100 else name
        print(json.dumps({"arm": arm, "seed": seed, **row}), flush=True)
        return {"arm": arm, "seed": seed, **row}

    rows, _ = continued_run(ds, run, model_config("study", **model), first, epochs, "study",
                            score)
    return rows


def summary(rows: list[dict]) -> str:
    """The docs table: per arm, the range over seeds of each score."""
    import math

    cols = [("dsc_last", "DSC, last frame", 3), ("island_fraction_last", "island fraction", 4),
            ("connected_protrusion_recall_last", "connected protrusion recall", 3)]
    out = ["| arm (one change to the study setting) | seeds | " + " | ".join(c[1] for c in cols)
           + " |", "|---|---:|" + "---|" * len(cols)]
    for arm in dict.fromkeys(r["arm"] for r in rows):
        sub = [r for r in rows if r["arm"] == arm]
        cells = []
        for key, _, nd in cols:
            v = [r[key] for r in sub if not math.isnan(r[key])]
            empty = len(sub) - len(v)
            txt = f"{min(v):.{nd}f}-{max(v):.{nd}f}" if v else "-"
            cells.append(txt + (f" ({empty} empty)" if empty else ""))
        out.append(f"| {arm} | {len(sub)} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    out = out_argument(__doc__, "fragmentation.json")
    rows = []
    with phantom_data("filopodial", "study", 0, sequences=4, frames=5) as (ds64, work):
        for seed in SEEDS:
            for name in ARMS:
                rows += arm_rows(name, ds64, work, seed)
                out.write_text(json.dumps({"setup": __doc__.split("\n\n")[1],
                                           "epochs": EPOCHS, "rows": rows}, indent=1))
    print(summary(rows))


if __name__ == "__main__":
    main()
