"""Synthesis of new shape sequences from the learned latent space (Sec 5.1, 5.3).

Methods
-------
``gaussian``
    z ~ N(0, s^2 I) (growing and dividing cells).
``near``
    A learned code plus N(0, s^2 I) noise (filopodial cells).
``gmm``
    Samples of a Gaussian mixture fitted to the learned codes (scikit-learn): the paper's
    stated future work, which follows the codes' actual distribution.

Every synthesized sequence gets a uniformly random rotation (scipy's ``Rotation.random``).

Scale of the sampling distribution
----------------------------------
The paper writes N(0, 0.001) and N(0, 0.0005) and says where the numbers come from
(Sec 5.1): its learned codes had standard deviations 0.0004 (DS_Plat), 0.0008 (DS_Cele)
and 0.0007 (DS_Filo), "rounded up to 0.001". The 0.001 is therefore a standard deviation
derived from the codes, and it only fits codes of that scale. By default
(:func:`paper_std`) we apply the same procedure to the codes of the run at hand: the
standard deviation of all code entries rounded up to the next power of ten for
``gaussian`` (0.0004 and 0.0008 -> 0.001, as the paper), half of it for ``near``
(0.0007 -> 0.0005, as the paper). An explicit ``std`` overrides it. Earlier versions
read 0.001 as a variance (std 0.032); ``variance=`` still gives that reading.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cellshapes.errors import InputError
from cellshapes.progress import track

__all__ = ["sample_codes", "random_rotations", "interpolate_codes", "generate_run",
           "paper_std", "PAPER_STD"]

#: The paper's sampling standard deviations for its codes (Sec 5.1), for reference.
PAPER_STD = {"gaussian": 1e-3, "near": 5e-4}


def paper_std(codes: np.ndarray, method: str) -> float:
    """The sampling standard deviation by the paper's rule (module notes).

    Parameters
    ----------
    codes : (N, D) array
        Learned codes.
    method : {"gaussian", "near"}

    Returns
    -------
    float
        ``10 ** ceil(log10(std(codes)))`` for ``gaussian``, half of it for ``near``.

    Raises
    ------
    InputError
        Codes with zero or non-finite spread, or another method.
    """
    sd = float(np.std(np.asarray(codes, np.float64)))
    if not np.isfinite(sd) or sd <= 0:
        raise InputError(f"cannot derive a sampling scale from codes with std {sd}")
    decade = 10.0 ** math.ceil(math.log10(sd) - 1e-9)
    if method == "gaussian":
        return decade
    if method == "near":
        return decade / 2.0
    raise InputError(f"paper_std: method must be gaussian or near, got {method!r}")


def _scale(codes: np.ndarray, method: str, std: float | None,
           variance: float | None) -> float:
    if std is not None and variance is not None:
        raise InputError("give std or variance, not both")
    if variance is not None:
        if not variance > 0:
            raise InputError(f"variance must be > 0, got {variance}")
        return math.sqrt(variance)
    if std is not None:
        if not std > 0:
            raise InputError(f"std must be > 0, got {std}")
        return float(std)
    return paper_std(codes, method)


def sample_codes(codes: np.ndarray, n: int, method: str = "gaussian", seed: int = 0,
                 variance: float | None = None,
                 std: float | None = None) -> tuple[np.ndarray, np.ndarray]:
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
        Variance s^2 of ``gaussian`` / ``near`` (the earlier reading of the paper).
    std : float, optional
        Standard deviation s of ``gaussian`` / ``near``; default :func:`paper_std`.

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
        new = rng.normal(0.0, _scale(codes, method, std, variance), (n, d))
    elif method == "near":
        sd = _scale(codes, method, std, variance)
        source = rng.integers(0, codes.shape[0], n)
        new = codes[source] + rng.normal(0.0, sd, (n, d))
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

    from cellshapes.model import matrix_to_euler

    mats = torch.tensor(Rotation.random(n, random_state=seed).as_matrix(), dtype=torch.float32)
    return matrix_to_euler(mats).numpy()


def interpolate_codes(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """Linear path from z0 to z1 (both (D,)) in ``steps`` points -> (steps, D)."""
    w = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1.0 - w) * np.asarray(z0)[None] + w * np.asarray(z1)[None]).astype(np.float32)


def generate_run(run: str | os.PathLike, out: str | os.PathLike, n: int = 1,
                 method: str = "gaussian", seed: int = 0, size: int | None = None,
                 frames: int | None = None, device: str = "auto", overwrite: bool = False,
                 progress: bool = True, variance: float | None = None,
                 std: float | None = None, drop_islands_voxels: int = 0) -> dict[str, Any]:
    """``cellshapes generate``: synthesize ``n`` new sequences.

    Writes a run-like folder ``out`` (config, checkpoint with the new codes and
    rotations, so ``reconstruct`` works on it), plus ``out/masks/gen_NNNN.tif`` and
    ``out/sdf.h5`` with the synthesized sequences.

    The report says what was made, islands included: per sequence and frame the number of
    26-connected ``components`` and the ``island_fraction``, the share of the foreground
    outside the largest component (a dividing cell's second daughter counts there too;
    ``components`` tells them apart). ``drop_islands_voxels`` > 0 removes components
    smaller than that from the written masks only (the SDFs stay as generated); it is off
    by default, and when used it is recorded in the report and the run's config.
    """
    from cellshapes.atomic import atomic_dir, check_output
    from cellshapes.inference.fit import write_derived_run
    from cellshapes.inference.grid import (check_grid_args, check_grid_memory, grid_attrs,
                                           sequence_sdf)
    from cellshapes.inference.reconstruct import load_run
    from cellshapes.io import SDFSequence, write_dataset, write_tiff
    from cellshapes.measure.topology import drop_islands, largest_component_share
    from cellshapes.training.sampling import frame_times

    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InputError(f"--n must be >= 1, got {n!r}")
    check_grid_args(size, frames)
    check_output(out, overwrite)
    model, config = load_run(run, device)
    learned = model.codes.detach().cpu().numpy()
    codes, source = sample_codes(learned, n, method, seed, variance, std)
    scale = (None if method == "gmm" else _scale(learned, method, std, variance))
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
                                        "variance": variance, "std": std,
                                        "sampling_std": scale,
                                        "codes_std": float(np.std(learned)),
                                        "source_codes": source.tolist(),
                                        "drop_islands_voxels": int(drop_islands_voxels)}})
        derived, _ = load_run(tmp, dev)
        seqs = []
        topology: dict[str, list[dict[str, float]]] = {}
        it = track(range(n), progress, desc="generate", unit="seq")
        for i in it:
            sdf, _ = sequence_sdf(derived, frame_times(t), s, seq=i)
            attrs = {**attrs0, **grid_attrs(attrs0, s), "source": f"generated from {run}"}
            masks = sdf <= 0
            topology[names[i]] = [largest_component_share(m) for m in masks]
            if drop_islands_voxels > 0:
                masks = np.stack([drop_islands(m, drop_islands_voxels) for m in masks])
            write_tiff(tmp / "masks" / f"{names[i]}.tif", masks.astype(np.uint8),
                       spacing=(attrs["voxel_um"],) * 3)
            seqs.append(SDFSequence(names[i], sdf, attrs))
        write_dataset(tmp / "sdf.h5", seqs)
    empty = [names[i] for i, q in enumerate(seqs) if not (q.sdf <= 0).any()]
    fractions = [f["island_fraction"] for frames_ in topology.values() for f in frames_]
    return {"out": str(out), "names": names, "method": method, "seed": seed,
            "sampling_std": scale, "empty_sequences": empty, "topology": topology,
            "island_fraction_mean": float(np.mean(fractions)) if fractions else 0.0,
            "drop_islands_voxels": int(drop_islands_voxels)}
