"""Synthesis of new shape sequences from the learned latent space (Sec 5.1, 5.3).

Methods
-------
``gaussian``
    z ~ N(0, sigma^2 I) with the paper's sigma^2 = 0.001 (growing and dividing cells).
``near``
    A learned code plus N(0, sigma^2 I) noise, paper sigma^2 = 0.0005 (filopodial cells).
``gmm``
    Samples of a Gaussian mixture fitted to the learned codes (scikit-learn): the paper's
    stated future work, which follows the codes' actual distribution.

Every synthesized sequence gets a uniformly random rotation (scipy's ``Rotation.random``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import InputError
from .progress import track

__all__ = ["sample_codes", "random_rotations", "interpolate_codes", "generate_run",
           "PAPER_VARIANCE"]

#: The paper's sampling variances per method.
PAPER_VARIANCE = {"gaussian": 1e-3, "near": 5e-4}


def sample_codes(codes: np.ndarray, n: int, method: str = "gaussian", seed: int = 0,
                 variance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` new latent codes.

    Parameters
    ----------
    codes : (N, D) array
        Learned codes of the training sequences.
    n : int
        Number of codes to draw.
    method : {"gaussian", "near", "gmm"}
    seed : int
    variance : float, optional
        Override the paper's variance of ``gaussian`` / ``near``.

    Returns
    -------
    new : (n, D) float32 array
    source : (n,) int array
        For ``near``: the index of the learned code each sample started from; else -1.
    """
    if n < 1:
        raise InputError(f"--n must be >= 1, got {n}")
    codes = np.asarray(codes, np.float64)
    rng = np.random.default_rng(seed)
    d = codes.shape[1]
    source = np.full(n, -1)
    if method == "gaussian":
        var = PAPER_VARIANCE["gaussian"] if variance is None else variance
        new = rng.normal(0.0, np.sqrt(var), (n, d))
    elif method == "near":
        var = PAPER_VARIANCE["near"] if variance is None else variance
        source = rng.integers(0, codes.shape[0], n)
        new = codes[source] + rng.normal(0.0, np.sqrt(var), (n, d))
    elif method == "gmm":
        from sklearn.mixture import GaussianMixture

        k = max(1, min(3, codes.shape[0] // 2))
        gmm = GaussianMixture(k, covariance_type="diag", random_state=seed, reg_covar=1e-6)
        gmm.fit(codes)
        new, _ = gmm.sample(n)
        new = new[rng.permutation(n)]  # sklearn returns samples grouped by component
    else:
        raise InputError(f"unknown method {method!r}; use gaussian, near or gmm")
    return new.astype(np.float32), source


def random_rotations(n: int, seed: int = 0) -> np.ndarray:
    """``n`` uniformly random rotations as Euler angles (n, 3) in our convention."""
    from scipy.spatial.transform import Rotation

    from .model import matrix_to_euler

    mats = torch.tensor(Rotation.random(n, random_state=seed).as_matrix(), dtype=torch.float32)
    return matrix_to_euler(mats).numpy()


def interpolate_codes(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """Linear path from z0 to z1 (both (D,)) in ``steps`` points -> (steps, D)."""
    w = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1.0 - w) * np.asarray(z0)[None] + w * np.asarray(z1)[None]).astype(np.float32)


def generate_run(run: str | os.PathLike, out: str | os.PathLike, n: int = 1,
                 method: str = "gaussian", seed: int = 0, size: int | None = None,
                 frames: int | None = None, device: str = "auto", overwrite: bool = False,
                 progress: bool = True, variance: float | None = None) -> dict[str, Any]:
    """``cellshapes generate``: synthesize ``n`` new sequences.

    Writes a run-like folder ``out`` (config, checkpoint with the new codes and
    rotations, so ``reconstruct`` works on it), plus ``out/masks/gen_NNNN.tif`` and
    ``out/sdf.h5`` with the synthesized sequences.
    """
    from .atomic import atomic_dir, check_output
    from .fit import write_derived_run
    from .grid import check_grid_args, check_grid_memory, grid_attrs, sequence_sdf
    from .io import SDFSequence, write_dataset, write_tiff
    from .reconstruct import load_run
    from .sampling import frame_times

    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InputError(f"--n must be >= 1, got {n!r}")
    check_grid_args(size, frames)
    check_output(out, overwrite)
    model, config = load_run(run, device)
    learned = model.codes.detach().cpu().numpy()
    codes, source = sample_codes(learned, n, method, seed, variance)
    angles = random_rotations(n, seed) if model.config.equivariant else None
    data = config["data"]
    s = size or int(data["size"])
    t = frames or int(max(data["frames"]))
    attrs0 = dict(data["attrs"][0]) if data.get("attrs") else {}
    check_grid_memory(n * t, s, "generate")
    names = [f"gen_{i:04d}" for i in range(n)]
    dev = next(model.parameters()).device
    summary = {"path": None, "names": names, "frames": [t] * n, "size": s,
               "attrs": [attrs0] * n}
    with atomic_dir(out, overwrite=overwrite) as tmp:
        z = torch.tensor(codes, device=dev)
        ang = torch.tensor(angles, device=dev) if angles is not None else None
        write_derived_run(config, model, z, ang, tmp, summary,
                          {"generated_from": str(Path(run).resolve()),
                           "generate": {"method": method, "seed": seed, "n": n,
                                        "variance": variance, "source_codes": source.tolist()}})
        derived, _ = load_run(tmp, dev)
        seqs = []
        it = track(range(n), progress, desc="generate", unit="seq")
        for i in it:
            sdf, _ = sequence_sdf(derived, frame_times(t), s, seq=i)
            attrs = {**attrs0, **grid_attrs(attrs0, s), "source": f"generated from {run}"}
            write_tiff(tmp / "masks" / f"{names[i]}.tif", (sdf <= 0).astype(np.uint8),
                       spacing=(attrs["voxel_um"],) * 3)
            seqs.append(SDFSequence(names[i], sdf, attrs))
        write_dataset(tmp / "sdf.h5", seqs)
    empty = [names[i] for i, q in enumerate(seqs) if not (q.sdf <= 0).any()]
    return {"out": str(out), "names": names, "method": method, "seed": seed,
            "empty_sequences": empty}
