"""Is the latent space denser, and safer to sample between codes, with more training cells?

Filopodial phantom models trained on N = 4, 8, 16 sequences (3 frames at 48^3, study
decoder, the same epochs and plateau rule for every N, training seed 0), then 8 new
sequences per sampler at 48^3 from each: ``span`` 0.5 (up to the midpoint of two codes),
``local`` 0.25 (the default) and ``local`` 0.5. Reported per N and sampler: the share of
whole sequences, the median DSC to the nearest training cell and between training cells
(as ``benchmarks/sampler_frontier.py``), the codes' median nearest-code distance and the
training minutes. A first, small look at "how many training sequences does sampling
between codes need"; the shipped base models keep N = 4. At 200 epochs the models are
under-trained and a larger N also means more steps per epoch (README): the next run
should train each N to the plateau rule.

    python benchmarks/latent_density.py [--sizes 4 8 16] [--epochs 200]

Resumable (rows in ``benchmarks/latent_density.json`` are kept; trained runs are cached
under ``out/study/runs/latent_density``).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "latent_density.json"
SAMPLERS = [("span", 0.5), ("local", 0.25), ("local", 0.5)]


def train_model(n: int, epochs: int, root: Path) -> tuple[Path, float]:
    from cellshapes.repro.runs import train_or_load
    from cellshapes.repro.workflow import phantom_dataset

    data = phantom_dataset("filopodial", root / "data", "study", 0, sequences=n, frames=3,
                           size=48)
    t0 = time.time()
    run = train_or_load(data, root / "runs", "study", "cpu", 0,
                        progress=False, epochs=epochs, plateau_epochs=50, plateau_tol=0.01)
    return run, (time.time() - t0) / 60


def main() -> None:
    import torch

    from cellshapes.inference.generate import generate_run
    from cellshapes.inference.samplers import code_geometry
    from cellshapes.latent import run_codes
    from cellshapes.repro.paths import repo_root

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--epochs", type=int, default=200)
    a = ap.parse_args()
    root = repo_root() / "out" / "study" / "latent_density"
    rows = json.loads(OUT.read_text())["rows"] if OUT.exists() else []
    done = {(r["sequences"], r["method"], r["scale"]) for r in rows}
    for n in a.sizes:
        run, minutes = train_model(n, a.epochs, root)
        geometry = code_geometry(run_codes(run)[0])
        for method, scale in SAMPLERS:
            if (n, method, scale) in done:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                r = generate_run(run, Path(tmp) / "g", n=8, method=method, scale=scale,
                                 size=48, device="cpu", progress=False)
            rows.append({"sequences": n, "method": method, "scale": scale,
                         "valid": r["valid_share"],
                         "nearest": r["novelty"]["nearest_training_dsc_median"],
                         "between": r["novelty"]["between_training_dsc"],
                         "nn_distance": geometry["nn_median"],
                         "train_minutes": round(minutes, 1), "epochs": a.epochs})
            print(json.dumps(rows[-1]), flush=True)
            OUT.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
