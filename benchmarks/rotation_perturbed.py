"""Does training bring a wrong start back? Perturbed starts (issue 33, item 1).

Notebook 04's `study` data (16 ``oriented`` cells x 4 uniformly random rotations, 2
frames, 32^3, data seed 0) and its equivariant model (64 x 5 decoder, latent 64, 40
epochs = 280 steps of 20 frames x 256 points, float32). Each sequence starts at its
principal axes after the sign-flip search (``rotation_start.align_start``, the notebook's
start), then turned by a further theta = 30, 60 or 90 degrees about a random axis (one per
sequence, drawn with the training seed); no search during training. Reported per theta
and training seed: the median relative-rotation error of the copies and the share of the
96 copy pairs within 20 degrees, at the start and after training. About 45 s per run on
one contended CPU thread (9 runs).

    OMP_NUM_THREADS=1 python benchmarks/rotation_perturbed.py \\
        --out benchmarks/rotation_perturbed.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from cellshapes.config import model_config, train_config
from cellshapes.inference.reconstruct import load_run
from cellshapes.io import read_dataset
from cellshapes.measure.rotation import relative_rotation_errors
from cellshapes.model import AutoDecoder, euler_to_matrix, matrix_to_euler
from cellshapes.repro import workflow
from cellshapes.training import loop
from cellshapes.training.data import load_training_data
from cellshapes.training.rotation_start import align_start
from cellshapes.training.sampling import SDFSampler

THETAS, SEEDS = (30.0, 60.0, 90.0), (0, 1, 2)
MODEL = dict(hidden=64, layers=5, latent_layers=(0, 3), latent_dim=64,
             angle_init="principal")
TRAIN = dict(epochs=40, frames_per_batch=20, points_per_frame=256, amp=False)


def searched_start(ds: Path) -> torch.Tensor:
    """(N, 3) Euler angles of notebook 04's start: principal axes, then the flip search."""
    data = load_training_data(ds)
    tcfg = train_config("study")
    sampler = SDFSampler(data.volumes, [data.band(i, tcfg.near_surface_um)
                                        for i in range(len(data.names))],
                         near_set=tcfg.near_set)
    model = AutoDecoder(model_config("study", **MODEL), len(data.names))
    with torch.no_grad():
        model.angles.copy_(loop.principal_angles(data))
    align_start(model, sampler, "flips")
    return model.angles.detach().clone()


def summary(rot: np.ndarray, applied: np.ndarray, groups: list) -> dict[str, float]:
    err = np.array([r["error_deg"] for r in relative_rotation_errors(rot, applied, groups)])
    return {"median_error_deg": float(np.median(err)), "within_20": float(np.mean(err < 20))}


def one_run(ds: Path, work: Path, start: torch.Tensor, theta: float, seed: int) -> dict:
    """Train from ``start`` turned by ``theta`` degrees per sequence; start and end."""
    seqs = read_dataset(ds)
    applied = np.stack([np.asarray(s.attrs["rotation"]) for s in seqs])
    groups = [s.attrs["source_sequence"] for s in seqs]
    axes = Rotation.random(len(seqs), random_state=seed).as_rotvec()
    turn = Rotation.from_rotvec(np.radians(theta) * axes
                                / np.linalg.norm(axes, axis=1, keepdims=True)).as_matrix()
    rot0 = euler_to_matrix(start).double().numpy() @ turn  # R_i <- R_i Exp(theta a_i)
    perturbed = matrix_to_euler(torch.as_tensor(rot0, dtype=torch.float32))
    run = work / f"theta{int(theta)}_seed{seed}"
    with mock.patch.object(loop, "principal_angles", lambda data: perturbed.clone()):
        loop.train(ds, run, model_config("study", **MODEL),
                   train_config("study", seed=seed, **TRAIN), device="cpu", progress=False,
                   profile="study")
    net, _ = load_run(run, "cpu")
    end = net.rotations(torch.arange(len(seqs))).detach().numpy()
    return {"theta_deg": theta, "seed": seed, "start": summary(rot0, applied, groups),
            "end": summary(end, applied, groups)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("rotation_perturbed.json"))
    a = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = workflow.phantom_dataset("oriented", work / "data", "study", 0, sequences=16,
                                       frames=2, size=32)
        ds = workflow.rotated_dataset(src, copies=4, seed=0)
        start = searched_start(ds)
        for theta in THETAS:
            for seed in SEEDS:
                results.append(one_run(ds, work, start, theta, seed))
                print(json.dumps(results[-1]), flush=True)
                a.out.write_text(json.dumps({"setup": __doc__.split("\n\n")[1],
                                             "results": results}, indent=1))


if __name__ == "__main__":
    main()
