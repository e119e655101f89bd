"""The validity-novelty frontier of the latent samplers, per kind of cell.

For each shipped study model (``growing_study``, ``dividing_study``, ``filopodial_study``:
4 training sequences x 5 frames, seed 0) and each sampler and scale, ``generate_run``
makes 8 new sequences at 48^3 (the command users run) and reports:

* ``valid``: share of sequences that are whole cells in every frame (one cell; for
  dividing cells one, then two, never fused again; < 1 % of the foreground outside);
* ``nearest``: median DSC of a new cell to its nearest training cell (last frame, model
  frame; near the reconstruction DSC = a copy);
* ``between``: median DSC between different training cells (the novelty yardstick);
* ``diversity``: median DSC between pairs of new cells (lower = more diverse).

Resumable (rows already in the JSON are kept), one thread per process; writes
``benchmarks/sampler_frontier.json`` and ``benchmarks/sampler_frontier.png``.

    python benchmarks/sampler_frontier.py [--kinds filopodial] [--n 8] [--size 48]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "sampler_frontier.json"
FIGURE = HERE / "sampler_frontier.png"

#: (sampler, scale); None = the paper's rule (gaussian / near).
SETTINGS = {
    "growing": [("span", 0.25), ("span", 0.5), ("span", 1.0), ("local", 0.5), ("local", 1.0),
                ("pca", 1.0), ("gaussian", None)],
    "dividing": [("span", 0.25), ("span", 0.5), ("span", 1.0), ("local", 0.5),
                 ("local", 1.0), ("pca", 1.0), ("gaussian", None)],
    "filopodial": [("span", 0.25), ("span", 0.5), ("span", 1.0), ("hull", 0.5),
                   ("local", 0.25), ("local", 0.5), ("pca", 1.0), ("gmm", 1.0),
                   ("near", None)],
}


def measure(kind: str, method: str, scale: float | None, n: int, size: int, seed: int) -> dict:
    from cellshapes import pretrained
    from cellshapes.inference.generate import generate_run

    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        r = generate_run(pretrained.load(f"{kind}_study"), Path(tmp) / "gen", n=n,
                         method=method, scale=scale, seed=seed, size=size, device="cpu",
                         progress=False)
    nov = r["novelty"]
    return {"kind": kind, "method": method, "scale": r["scale"], "requested_scale": scale,
            "n": n, "size": size, "seed": seed, "valid": r["valid_share"],
            "nearest": nov["nearest_training_dsc_median"], "between": nov["between_training_dsc"],
            "diversity": nov["diversity_dsc"], "seconds": round(time.time() - t0, 1)}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in SETTINGS if any(r["kind"] == k for r in rows)]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.6 * len(kinds), 4), squeeze=False)
    for ax, k in zip(axes[0], kinds):
        sub = [r for r in rows if r["kind"] == k]
        for method in dict.fromkeys(r["method"] for r in sub):
            pts = sorted((r for r in sub if r["method"] == method), key=lambda r: r["scale"])
            ax.plot([1 - r["nearest"] for r in pts], [r["valid"] for r in pts], "o-",
                    label=method)
            for r in pts:
                ax.annotate(f"{r['scale']:.3g}", (1 - r["nearest"], r["valid"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        ax.axvline(1 - sub[0]["between"], color="grey", ls="--", lw=1,
                   label="1 - DSC between training cells")
        ax.set(title=f"{k} (shipped {k}_study model)", ylim=(-0.05, 1.05),
               xlabel="novelty: 1 - DSC to the nearest training cell",
               ylabel="share of whole sequences")
        ax.legend(fontsize=7)
    fig.suptitle("validity vs novelty of new cells per sampler and scale "
                 "(8 sequences at 48^3; labels: scale)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", nargs="+", default=list(SETTINGS))
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rows = json.loads(OUT.read_text())["rows"] if OUT.exists() else []
    done = {(r["kind"], r["method"], r["requested_scale"]) for r in rows}
    for kind in a.kinds:
        for method, scale in SETTINGS[kind]:
            if (kind, method, scale) in done:
                continue
            rows.append(measure(kind, method, scale, a.n, a.size, a.seed))
            print(json.dumps(rows[-1]), flush=True)
            OUT.write_text(json.dumps({"rows": rows}, indent=1))
    plot(rows, FIGURE)
    print(f"wrote {OUT} and {FIGURE}")


if __name__ == "__main__":
    main()
