"""Are the per-sequence rotations learned? Small controlled runs (README deviations table).

6 growing phantom cells x 4 uniformly random rotations (2 frames, 32^3), a 64 x 5 sine
decoder with latent 64, 40 epochs of 20 frames x 1024 points, float32, 3 training seeds,
for each of: the paper's rotation init, the principal-axes init, more epochs, a 10x code
and angle learning rate, a wide (near-uniform) init, and a non-equivariant model. Reported per run: the median
geodesic error of the learned relative rotation of each pair of copies
(:mod:`cellshapes.measure.rotation`), how many of the 36 pairs are within 20 degrees, and
the nearest-neighbour score of the copies' codes (:func:`cellshapes.latent.
rotation_invariance_scores`). About 2 minutes on 2 CPU cores.

    python benchmarks/rotation_init.py --out benchmarks/rotation_init.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cellshapes.config import model_config, train_config
from cellshapes.inference.reconstruct import load_run
from cellshapes.io import read_dataset
from cellshapes.latent import rotation_invariance_scores
from cellshapes.measure.rotation import relative_rotation_errors
from cellshapes.repro import workflow
from cellshapes.training.loop import train

#: name -> (epochs, ModelConfig overrides, TrainConfig overrides)
VARIANTS = {
    "paper init": (40, {}, {}),
    "principal init": (40, {"angle_init": "principal"}, {}),
    "paper init, 200 epochs": (200, {}, {}),
    "paper init, 10x lr_latent": (40, {}, {"lr_latent": 0.05}),
    "wide init (std pi, near uniform)": (40, {"angle_init_std": 3.14159}, {}),
    "non-equivariant": (40, {"equivariant": False}, {}),
}
SEEDS = (0, 1, 2)


def one_run(ds: Path, work: Path, epochs: int, model: dict, trainer: dict, seed: int) -> dict:
    seqs = read_dataset(ds)
    applied = np.stack([np.asarray(s.attrs["rotation"]) for s in seqs])
    groups = [s.attrs["source_sequence"] for s in seqs]
    mcfg = model_config("smoke", hidden=64, layers=5, latent_layers=(0, 3), latent_dim=64,
                        **model)
    tcfg = train_config("study", epochs=epochs, frames_per_batch=20, points_per_frame=1024,
                        checkpoint_every=epochs, amp=False, seed=seed, **trainer)
    run = work / f"run_{time.monotonic_ns()}"
    train(ds, run, mcfg, tcfg, device="cpu", progress=False, profile="study")
    net, _ = load_run(run, "cpu")
    rot = net.rotations(torch.arange(len(seqs)))
    out = {"seed": seed, "nn_accuracy": rotation_invariance_scores(
        net.codes.detach().numpy(), groups)["nn_accuracy"]}
    if rot is not None:
        err = np.array([r["error_deg"] for r in relative_rotation_errors(
            rot.detach().numpy(), applied, groups)])
        out.update(median_error_deg=float(np.median(err)), within_20=int((err < 20).sum()),
                   pairs=len(err))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("rotation_init.json"))
    a = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = workflow.phantom_dataset("growing", work / "data", "smoke", 0, sequences=6,
                                       frames=2, size=32)
        ds = workflow.rotated_dataset(src, copies=4, seed=0)
        results = {}
        for name, (epochs, model, trainer) in VARIANTS.items():
            results[name] = [one_run(ds, work, epochs, model, trainer, s) for s in SEEDS]
            print(name, json.dumps(results[name]), flush=True)
    a.out.write_text(json.dumps({"setup": __doc__.split("\n\n")[1], "seeds": list(SEEDS),
                                 "results": results}, indent=1))


if __name__ == "__main__":
    main()
