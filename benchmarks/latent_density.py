"""How many training sequences does sampling new cells need? Validity and novelty against N.

Filopodial phantom models (the hard kind) trained on N sequences (3 frames at 48^3, the
study decoder and profile, training seed 0). An arm is ``kind:N:prior[:epochs]``; without
``epochs`` it trains to the base models' plateau rule (``plateau_epochs=50``,
``plateau_tol=0.01``) with a cap of 400 epochs (the base models' cap) or 2000 steps of 5
frames x 4096 points, whichever comes first (N = 4: 400 epochs; N = 16: 200 epochs; N = 32:
100); with ``epochs`` it trains that many under the same rule (the first look's 200). The
JSON records per model the epochs and steps trained, whether the rule fired and the
minutes. The default arms, in the order they run: N = 4 to the cap, the paper prior at
N = 4 and 200 epochs, then ours at N = 16, 8 and 4 at 200 epochs (a series of equal epochs;
200 epochs is the cap at N = 16), the paper prior at N = 8 and 200 epochs, then the paper
prior at N = 16 and ours at N = 32 to the cap. Two forms of the code prior:

* ``ours``: the package default, ``code_reg`` 1e-4 * mean ||z||^2 after a 20-epoch ramp;
* ``paper``: Eq. 3, (1/sigma^2) ||z||^2 with no ramp (``TrainConfig.code_sigma``). Our
  reconstruction term is the mean L1 over a frame's points where the paper sums them, so
  ``code_sigma = 1 / sqrt(points_per_frame)`` gives the prior the weight it has next to
  the L1 term in the paper (1/(sigma^2 N) = 1, as sigma = 1e-3 with N = 1e6 points), as
  ``benchmarks/rotation_paper_prior.py`` does.

From each model, ``generate_run`` (the command users run) makes 8 new sequences at 48^3
per sampling seed with the default sampler (``local`` 0.25, seeds 0 and 1) and with
``span`` 0.5 (seed 0). Per row (model, sampler, seed): ``valid`` (share of whole sequences,
every frame), ``nearest`` (median DSC of a new cell to its nearest training cell, last
frame, model frame), ``between`` (median DSC between different training cells), ``copy``
(mean DSC of the model's reconstruction of its training cells: what a copy scores),
``novelty`` (median :func:`cellshapes.measure.population.novelty_index`: 0 a copy, 1 as
far as two training cells) and ``diversity`` (median DSC between pairs of new cells). Per
model: epochs and steps actually trained, whether the plateau rule stopped it, training
minutes (from the run's log), the codes' median nearest-code distance and mean norm, and
(``--reference``) ``train_valid``, the share of training sequences whose own decoding is
whole (a copy's validity, the ceiling of every sampler's).

The ``ours`` runs use the 200-epoch runs of the first look where they are at hand
(``--start``), as they are or trained on from where they stopped (training resumes
exactly, so the result equals one run of that length; the log's minutes are the whole
run's, measured on a CPU shared with other jobs: compare steps, not minutes).

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/latent_density.py \\
        [--arms filopodial:4:ours filopodial:4:paper ...] [--start DIR]

Resumable: every finished row is added to ``benchmarks/latent_density.json`` at once (two
processes with different ``--arms`` may share it) and kept on the next start; trained runs
are cached under ``out/study/latent_density``.
``--plot`` only redraws ``benchmarks/latent_density.png`` from the JSON.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "latent_density.json"
FIGURE = HERE / "latent_density.png"
#: Training arms in the order they run (the most needed first): kind, N, prior.
ARMS = ["filopodial:4:ours", "filopodial:4:paper:200", "filopodial:16:ours",
        "filopodial:8:ours:200", "filopodial:4:ours:200", "filopodial:8:paper:200",
        "filopodial:16:paper", "filopodial:32:ours"]
#: (sampler, scale, sampling seeds): the default with two seeds, ``span`` with one.
SAMPLERS = [("local", 0.25, (0, 1)), ("span", 0.5, (0,))]
FRAMES, SIZE, NEW = 3, 48, 8
CAP_EPOCHS, CAP_STEPS = 400, 2000
PLATEAU = dict(plateau_epochs=50, plateau_tol=0.01)


def cpu_model() -> str:
    """The CPU model line of ``lscpu`` (or the platform's processor string)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(ln.split(":", 1)[1].strip() for ln in out.splitlines()
                    if ln.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor()


def prior_overrides(prior: str) -> dict:
    """TrainConfig overrides of a code prior (``ours`` or ``paper``)."""
    from cellshapes.config import train_config

    if prior == "ours":
        return {}
    return dict(code_sigma=1.0 / math.sqrt(train_config("study").points_per_frame),
                code_reg_warmup=0)


def cap_epochs(n: int) -> int:
    """400 epochs or 2000 steps, whichever comes first (steps = ceil(N * frames / 5))."""
    from cellshapes.config import train_config

    steps = math.ceil(n * FRAMES / train_config("study").frames_per_batch)
    return min(CAP_EPOCHS, CAP_STEPS // steps)


def train_arm(kind: str, n: int, prior: str, epochs: int, root: Path,
              start: Path | None) -> Path:
    """The trained run of one arm (cached; a first-look run is used as it is when it has
    ``epochs``, else trained on from where it stopped)."""
    from cellshapes.repro.runs import continue_run, epochs_trained, train_or_load
    from cellshapes.repro.workflow import phantom_dataset

    src = start / "runs" / f"{kind}_n{n}" if start else None
    if prior == "ours" and src is not None and (src / "log.csv").exists():
        if epochs_trained(src) == epochs:
            return src
        return continue_run(src, root / "runs" / f"{kind}_n{n}_{prior}", epochs, device="cpu")
    data = (start / "data" / f"{kind}_study_n{n}_t{FRAMES}_s{SIZE}_seed0.h5") if start else None
    if data is None or not data.exists():
        data = phantom_dataset(kind, root / "data", "study", 0, sequences=n, frames=FRAMES,
                               size=SIZE)
    # the folder under runs/ is named by the run's specification (repro.spec.RunSpec)
    return train_or_load(data, root / "runs", "study", "cpu", 0, progress=False,
                         epochs=epochs, **PLATEAU, **prior_overrides(prior))


def model_record(run: Path) -> dict:
    """Epochs, steps, minutes, stop reason, code geometry and copy DSC of a trained run."""
    import numpy as np

    from cellshapes import io
    from cellshapes.inference import grid, reconstruct
    from cellshapes.inference.samplers import code_geometry
    from cellshapes.measure import metrics
    from cellshapes.repro.runs import stopped_on_plateau
    from cellshapes.training.sampling import frame_times

    with open(run / "log.csv", newline="") as f:
        log = list(csv.DictReader(f))
    model, config = reconstruct.load_run(run, "cpu")
    tc = config["train"]
    frames = sum(config["data"]["frames"])
    codes = model.codes.detach().cpu().numpy()
    t_last = frame_times(int(max(config["data"]["frames"])))[-1:]
    real = {q.name: q.sdf[-1] <= 0 for q in io.read_dataset(config["data"]["path"])}
    copy = [metrics.dice(grid.sequence_sdf(model, t_last, SIZE, seq=i)[0][0] <= 0, real[name])
            for i, name in enumerate(config["data"]["names"])]
    return {"epochs": len(log), "cap_epochs": int(tc["epochs"]),
            "steps": len(log) * math.ceil(frames / tc["frames_per_batch"]),
            "plateau": stopped_on_plateau(run),
            "minutes": round(sum(float(r["time_s"]) for r in log) / 60, 1),
            "final_rec_loss": float(log[-1]["rec_loss"]),
            "code_weight": float(tc["code_sigma"] and 1 / (tc["code_sigma"] ** 2
                                                           * tc["points_per_frame"])
                                 or tc["code_reg"]),
            "nn_distance": code_geometry(codes)["nn_median"],
            "code_norm": float(np.linalg.norm(codes, axis=1).mean()),
            "copy": float(np.mean(copy))}


def training_validity(run: str | Path) -> float:
    """Share of the training sequences whose own decoding (code and learned rotation, every
    frame at 48^3) is whole: the validity of a copy, the ceiling of any sampler's."""
    import numpy as np

    from cellshapes.inference import grid, reconstruct
    from cellshapes.measure.population import sequence_validity
    from cellshapes.training.sampling import frame_times

    model, config = reconstruct.load_run(run, "cpu")
    frames = frame_times(int(max(config["data"]["frames"])))
    return float(np.mean([sequence_validity(grid.sequence_sdf(model, frames, SIZE, seq=i)[0]
                                            <= 0, max_cells=1)[0]
                          for i in range(len(config["data"]["names"]))]))


def sample_row(run: Path, method: str, scale: float, seed: int, copy: float) -> dict:
    """Validity, novelty and diversity of NEW new sequences from ``run``."""
    import numpy as np

    from cellshapes.inference.generate import generate_run
    from cellshapes.measure.population import novelty_index

    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        r = generate_run(run, Path(tmp) / "g", n=NEW, method=method, scale=scale, seed=seed,
                         size=SIZE, device="cpu", progress=False)
    nov = r["novelty"]
    near = [v["nearest_training_dsc"] for v in r["sequences"].values()]
    index = (float(np.median(novelty_index(near, copy, nov["between_training_dsc"])))
             if copy > nov["between_training_dsc"] else None)
    return {"method": method, "scale": r["scale"], "seed": seed, "valid": r["valid_share"],
            "nearest": nov["nearest_training_dsc_median"],
            "between": nov["between_training_dsc"], "copy": copy, "novelty": index,
            "diversity": nov["diversity_dsc"], "seconds": round(time.time() - t0, 1)}


def load() -> dict:
    """The JSON so far (a fresh skeleton if none or if it is the first look's)."""
    doc = json.loads(OUT.read_text()) if OUT.exists() else {}
    if "models" not in doc:
        doc = {"setup": __doc__.split("\n\n    ")[0], "models": {}, "rows": []}
    return doc


def save(model: tuple[str, dict] | None = None, row: dict | None = None,
         **fields) -> dict:
    """Add a model record, a row or top-level fields to the JSON on disk (re-read first,
    written by rename, so that two processes of this script may add to it)."""
    doc = load()
    if model is not None:
        doc["models"][model[0]] = model[1]
    if row is not None:
        doc["rows"].append(row)
    doc.update(fields)
    tmp = OUT.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, OUT)
    return doc


def plot(doc: dict, path: Path) -> None:
    """Validity, novelty index and diversity against N, per prior and sampler."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(13.5, 5))
    panels = [("valid", "share of whole sequences"),
              ("novelty", "novelty index (0 copy, 1 = two training cells)"),
              ("diversity", "DSC between new cells (lower: more diverse)")]
    styles = {"ours": "-", "paper": "--"}
    colors = {"local": "C0", "span": "C1"}
    series = sorted({(r["prior"], r["method"], r["epochs"]) for r in doc["rows"]})
    for ax, (key, label) in zip(axes, panels):
        for prior, method, epochs in series:
            pts = {}
            for r in doc["rows"]:
                if (r["prior"], r["method"], r["epochs"]) == (prior, method, epochs) \
                        and r[key] is not None:
                    pts.setdefault(r["sequences"], []).append(r[key])
            if not pts:
                continue
            ns = sorted(pts)
            ax.plot(ns, [np.mean(pts[n]) for n in ns], ("s" if epochs > 200 else "o")
                    + styles[prior], color=colors[method], ms=8 if epochs > 200 else 5,
                    label=f"{method}, {prior} prior, {epochs} epochs")
            for n in ns:
                ax.plot([n] * len(pts[n]), pts[n], ".", color=colors[method], alpha=0.4)
        ax.set(xscale="log", xlabel="training sequences N", ylabel=label)
        ax.minorticks_off()
        ax.set_xticks([4, 8, 16, 32], ["4", "8", "16", "32"])
        ax.set_xlim(3.5, 37)
        if key == "valid":  # the copies' validity: the ceiling of every sampler's
            for prior, epochs in sorted({(m["prior"], m["epochs"])
                                         for m in doc["models"].values()}):
                ms = sorted((m["sequences"], m["train_valid"]) for m in doc["models"].values()
                            if (m["prior"], m["epochs"]) == (prior, epochs)
                            and m.get("train_valid") is not None)
                if ms:
                    ax.plot(*zip(*ms), "x" + styles[prior], color="grey", lw=0.8,
                            label=f"training codes (copies), {prior} prior, {epochs} epochs")
            ax.axhline(0.9, color="grey", lw=1, ls=":")
            ax.set_ylim(-0.05, 1.05)
        if key == "novelty":
            ax.axhline(1.0, color="grey", lw=1, ls=":")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize=7)
    fig.suptitle("filopodial phantoms, 3 frames at 48^3 (study decoder); 8 new sequences "
                 "per sampling seed, local: 2 seeds, span: 1 (dots: seeds, line: mean); "
                 "squares: trained longer", fontsize=9)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    fig.savefig(path, dpi=110)


def table(doc: dict) -> str:
    """The results as a markdown table: one line per model, by N, prior and epochs."""
    import numpy as np

    def cell(rows: list[dict], key: str) -> str:
        vals = [r[key] for r in rows if r[key] is not None]
        return " / ".join(f"{v:.2f}" for v in vals) if vals else "-"

    lines = ["| N | prior | epochs (steps) | copies whole | local 0.25: whole (per seed) "
             "| local: novelty index | span 0.5: whole | span: novelty index "
             "| nearest-code distance |",
             "|---|---|---|---|---|---|---|---|---|"]
    models = sorted(doc["models"].items(),
                    key=lambda kv: (kv[1]["sequences"], kv[1]["prior"], kv[1]["epochs"]))
    for arm, m in models:
        rows = {k: [r for r in doc["rows"] if r["arm"] == arm and r["method"] == k]
                for k in ("local", "span")}
        tv = m.get("train_valid")
        lines.append(f"| {m['sequences']} | {m['prior']} | {m['epochs']} ({m['steps']}) | "
                     f"{'-' if tv is None else f'{tv:.2f}'} | {cell(rows['local'], 'valid')} | "
                     f"{cell(rows['local'], 'novelty')} | {cell(rows['span'], 'valid')} | "
                     f"{cell(rows['span'], 'novelty')} | {m['nn_distance']:.3f} |")
    return "\n".join(lines) + f"\n\n(CPU: {doc.get('cpu', '?')}; {np.size(doc['rows'])} rows)"


def main() -> None:
    import torch

    from cellshapes.repro.paths import repo_root

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arms", nargs="+", default=ARMS,
                    help="kind:N:prior[:epochs], in order (default epochs: the cap)")
    ap.add_argument("--start", type=Path, default=None,
                    help="a first-look folder (with runs/ and data/) to continue from")
    ap.add_argument("--plot", action="store_true", help="only redraw the figure")
    ap.add_argument("--table", action="store_true", help="only print the markdown table")
    ap.add_argument("--reference", action="store_true",
                    help="only add the validity of the training codes to every model")
    a = ap.parse_args()
    if a.plot:  # also states the current setup text in the JSON
        plot(save(setup=__doc__.split("\n\n    ")[0]), FIGURE)
        return
    if a.table:
        print(table(load()))
        return
    if a.reference:
        for arm, rec in load()["models"].items():
            if "train_valid" not in rec:
                share = training_validity(rec["run"])
                save(model=(arm, {**load()["models"][arm], "train_valid": share}))
                print(arm, "training sequences whole:", share, flush=True)
        return
    doc = load()
    commands = [c for c in doc.get("commands", []) if c]
    save(cpu=cpu_model(), commands=commands + [" ".join(["python", *sys.argv])])
    root = repo_root() / "out" / "study" / "latent_density"
    for arm in a.arms:
        kind, n, prior, *e = arm.split(":")
        n = int(n)
        epochs = int(e[0]) if e else cap_epochs(n)
        doc = load()
        todo = [(m, s, seed) for m, s, seeds in SAMPLERS for seed in seeds
                if not any(r["arm"] == arm and r["method"] == m and r["seed"] == seed
                           for r in doc["rows"])]
        if not todo:
            continue
        run = train_arm(kind, n, prior, epochs, root, a.start)
        if arm not in doc["models"]:
            rec = {"kind": kind, "sequences": n, "prior": prior, "run": str(run),
                   **model_record(run)}
            doc = save(model=(arm, rec))
            print(json.dumps({arm: rec}), flush=True)
        for method, scale, seed in todo:
            row = {"arm": arm, "kind": kind, "sequences": n, "prior": prior,
                   "epochs": doc["models"][arm]["epochs"],
                   **sample_row(run, method, scale, seed, doc["models"][arm]["copy"])}
            doc = save(row=row)
            print(json.dumps(row), flush=True)
        plot(doc, FIGURE)

if __name__ == "__main__":
    main()
