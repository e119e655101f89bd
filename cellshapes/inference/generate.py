"""Synthesis of new shape sequences from the learned latent space (Sec 5.1, 5.3).

New codes come from a sampler of :mod:`cellshapes.inference.samplers` (one registry; the
default ``span`` draws inside the convex hull of the learned codes at a scale chosen from
the measured validity-novelty frontier; the paper's ``gaussian`` and ``near`` stay
available by name). Every synthesized sequence gets a uniformly random rotation (scipy's
``Rotation.random``).

The report of :func:`generate_run` judges what was made, per sequence: validity (whole
cells in every frame, :func:`cellshapes.measure.population.sequence_validity`) and novelty
(DSC of the new cell to its nearest training cell at the last frame, in the model's own
frame, against the DSC between different training cells).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cellshapes.errors import InputError
from cellshapes.inference.samplers import (DEFAULT_SAMPLER, PAPER_STD, SAMPLERS,  # noqa: F401
                                           draw, paper_std)
from cellshapes.progress import track

__all__ = ["sample_codes", "random_rotations", "interpolate_codes", "generate_run",
           "paper_std", "PAPER_STD", "DEFAULT_SAMPLER", "cells_per_frame"]


def _paper_scale(method: str, std: float | None, variance: float | None,
                 scale: float | None) -> float | None:
    """The scale given through the paper's ``std`` / ``variance`` arguments, if any."""
    given = [x is not None for x in (std, variance, scale)]
    if sum(given) > 1:
        raise InputError("give one of std, variance or scale")
    if (std is not None or variance is not None) and not SAMPLERS.get(
            method, SAMPLERS["gaussian"]).paper:
        raise InputError(f"std / variance set the paper's samplers (gaussian, near); "
                         f"{method!r} takes a relative scale (--scale)")
    if variance is not None:
        if not variance > 0:
            raise InputError(f"variance must be > 0, got {variance}")
        return math.sqrt(variance)
    if std is not None:
        if not std > 0:
            raise InputError(f"std must be > 0, got {std}")
        return float(std)
    return scale


def sample_codes(codes: np.ndarray, n: int, method: str = DEFAULT_SAMPLER, seed: int = 0,
                 variance: float | None = None, std: float | None = None,
                 scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` new latent codes (:func:`cellshapes.inference.samplers.draw`).

    Parameters
    ----------
    codes : (N, D) array
        Learned codes of the training sequences.
    n : int
        Number of codes to draw.
    method : str
        A sampler of :data:`cellshapes.inference.samplers.SAMPLERS` (default ``span``).
    seed : int
    variance, std : float, optional
        Variance or standard deviation of the paper's ``gaussian`` / ``near`` sampling
        (default :func:`paper_std`).
    scale : float, optional
        The sampler's own scale (relative to the codes' geometry, module notes of
        :mod:`cellshapes.inference.samplers`).

    Returns
    -------
    new : (n, D) float32 array
    source : (n,) int array
        The learned code each sample started from (-1 where none).
    """
    new, source, _ = draw(codes, n, method, seed, _paper_scale(method, std, variance, scale))
    return new, source


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


def cells_per_frame(attrs: dict[str, Any]) -> int:
    """Cells a valid frame of this kind may hold: 2 for dividing cells, else 1."""
    return 2 if "divid" in str(attrs.get("cell_type", "")).lower() else 1


def model_frame_masks(model: Any, codes: Any, size: int, time: float) -> np.ndarray:
    """Masks of codes decoded at one time point without rotation, (N, S, S, S) bool.

    The model's own frame, so that comparing two cells measures shape, not orientation.
    """
    from cellshapes.inference.grid import sequence_sdf

    dev = next(model.parameters()).device
    return np.stack([sequence_sdf(model, [float(time)], size,
                                  code=torch.as_tensor(z, device=dev))[0][0] <= 0
                     for z in np.asarray(codes, np.float32)])


def population_report(model: Any, codes: np.ndarray, size: int, time: float
                      ) -> dict[str, Any]:
    """Novelty and diversity of new codes against the model's training codes.

    At time ``time``, in the model frame: the DSC of each new cell to its nearest training
    cell, the median DSC between different training cells (the novelty baseline) and the
    median DSC between pairs of new cells (diversity; lower is more diverse).
    """
    from cellshapes.measure.population import nearest_dsc, pairwise_dsc

    train = model_frame_masks(model, model.codes.detach().cpu().numpy(), size, time)
    new = model_frame_masks(model, codes, size, time)
    near, which = nearest_dsc(new, train)
    return {"nearest_training_dsc": near.tolist(), "nearest_training_cell": which.tolist(),
            "between_training_dsc": float(np.median(pairwise_dsc(train))),
            "diversity_dsc": float(np.median(pairwise_dsc(new))) if len(new) > 1 else None}


def realism_report(seqs: list, config: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """Descriptors of the new sequences and, where the training data are at hand, their
    realism per time point against the training cells.

    Returns
    -------
    summary : dict
        ``reference`` (the training data file, or None when it is gone or has another
        number of frames) and, per descriptor, the largest per-time-point KS statistic,
        the smallest p-value and the median relative 1-Wasserstein distance
        (:func:`cellshapes.measure.population.realism_per_time`).
    per_sequence : dict
        Name -> last-frame ``volume_um3``, ``surface_um2``, ``sphericity`` (None for a
        sequence with an empty frame).
    """
    import pandas as pd

    from cellshapes.io import read_dataset
    from cellshapes.measure.metrics import describe_sequence
    from cellshapes.measure.population import realism_per_time

    cols = ["volume_um3", "surface_um2", "sphericity"]

    def describe(seq):
        try:
            return describe_sequence(seq.sdf, (float(seq.attrs.get("voxel_um", 1.0)),) * 3,
                                     is_sdf=True)
        except InputError:  # an empty frame: validity reports it
            return None

    tables = {q.name: describe(q) for q in seqs}
    per_seq = {n: (None if t is None else {c: float(t[c].iloc[-1]) for c in cols})
               for n, t in tables.items()}
    path = config["data"].get("path")
    new = [t for t in tables.values() if t is not None]
    if not path or not Path(path).is_file() or not new:
        return {"reference": None}, per_seq
    real = [t for t in (describe(q) for q in read_dataset(path)) if t is not None]
    if not real or real[0]["frame"].max() != new[0]["frame"].max():
        return {"reference": None}, per_seq
    r = realism_per_time(pd.concat(real), pd.concat(new), columns=cols)
    summary = {c: {"ks_max": float(g["ks"].max()), "pvalue_min": float(g["pvalue"].min()),
                   "w1_relative_median": float(g["w1_relative"].median())}
               for c, g in r.groupby("descriptor")}
    return {"reference": str(path), **summary}, per_seq


def generate_run(run: str | os.PathLike, out: str | os.PathLike, n: int = 1,
                 method: str = DEFAULT_SAMPLER, seed: int = 0, size: int | None = None,
                 frames: int | None = None, device: str = "auto", overwrite: bool = False,
                 progress: bool = True, variance: float | None = None,
                 std: float | None = None, drop_islands_voxels: int = 0,
                 scale: float | None = None, max_cells: int | None = None
                 ) -> dict[str, Any]:
    """``cellshapes generate``: synthesize ``n`` new sequences.

    Writes a run-like folder ``out`` (config, checkpoint with the new codes and
    rotations, so ``reconstruct`` works on it), plus ``out/masks/gen_NNNN.tif`` and
    ``out/sdf.h5`` with the synthesized sequences.

    The report says what was made, per sequence: ``valid`` (whole cells in every frame:
    no empty frame, ``max_cells`` cells at most, never fewer after a division, < 1 % of
    the foreground outside them; :func:`cellshapes.measure.population.sequence_validity`),
    per frame the number of 26-connected ``components`` and the ``island_fraction``, the
    novelty of the new cell (:func:`population_report`) and its last-frame descriptors;
    for the population, realism per time point against the training cells where their
    data file is at hand (:func:`realism_report`). ``drop_islands_voxels`` > 0
    removes components smaller than that from the written masks only (the SDFs and every
    reported number stay as generated); it is off by default, and when used it is
    recorded in the report and the run's config.

    Parameters
    ----------
    method : str
        A sampler of :data:`cellshapes.inference.samplers.SAMPLERS`.
    scale : float, optional
        The sampler's scale; ``std`` / ``variance`` give the paper's samplers' scale.
    max_cells : int, optional
        Cells a valid frame may hold; default from the training data's ``cell_type``
        (:func:`cells_per_frame`).
    """
    from cellshapes.atomic import atomic_dir, check_output
    from cellshapes.inference.fit import write_derived_run
    from cellshapes.inference.grid import (check_grid_args, check_grid_memory, grid_attrs,
                                           sequence_sdf)
    from cellshapes.inference.reconstruct import load_run
    from cellshapes.io import SDFSequence, write_dataset, write_tiff
    from cellshapes.measure.population import sequence_validity
    from cellshapes.measure.topology import drop_islands
    from cellshapes.training.sampling import frame_times

    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InputError(f"--n must be >= 1, got {n!r}")
    check_grid_args(size, frames)
    check_output(out, overwrite)
    model, config = load_run(run, device)
    learned = model.codes.detach().cpu().numpy()
    codes, source, used = draw(learned, n, method, seed,
                               _paper_scale(method, std, variance, scale))
    angles = random_rotations(n, seed) if model.config.equivariant else None
    data = config["data"]
    s = size or int(data["size"])
    t = frames or int(max(data["frames"]))
    attrs0 = dict(data["attrs"][0]) if data.get("attrs") else {}
    cells = int(max_cells or cells_per_frame(attrs0))
    check_grid_memory(n * t, s, "generate")
    names = [f"gen_{i:04d}" for i in range(n)]
    dev = next(model.parameters()).device
    summary = {"path": None, "names": names, "frames": [t] * n, "size": s,
               "attrs": [attrs0] * n}
    settings = {"method": method, "seed": seed, "n": n, "scale": used, "variance": variance,
                "std": std, "scale_means": SAMPLERS[method].scale_means,
                "codes_std": float(np.std(learned)), "source_codes": source.tolist(),
                "max_cells": cells, "drop_islands_voxels": int(drop_islands_voxels)}
    with atomic_dir(out, overwrite=overwrite) as tmp:
        z = torch.tensor(codes, device=dev)
        ang = torch.tensor(angles, device=dev) if angles is not None else None
        write_derived_run(config, model, z, ang, tmp, summary,
                          {"generated_from": str(Path(run).resolve()), "generate": settings})
        derived, _ = load_run(tmp, dev)
        seqs, per_seq = [], {}
        for i in track(range(n), progress, desc="generate", unit="seq"):
            sdf, _ = sequence_sdf(derived, frame_times(t), s, seq=i)
            attrs = {**attrs0, **grid_attrs(attrs0, s), "source": f"generated from {run}"}
            masks = sdf <= 0
            valid, frames_df = sequence_validity(masks, max_cells=cells)
            per_seq[names[i]] = {"valid": valid, "frames": frames_df[
                ["components", "cells", "island_fraction", "valid"]].to_dict("records")}
            if drop_islands_voxels > 0:
                masks = np.stack([drop_islands(m, drop_islands_voxels) for m in masks])
            write_tiff(tmp / "masks" / f"{names[i]}.tif", masks.astype(np.uint8),
                       spacing=(attrs["voxel_um"],) * 3)
            seqs.append(SDFSequence(names[i], sdf, attrs))
        write_dataset(tmp / "sdf.h5", seqs)
        population = population_report(model, codes, s, frame_times(t)[-1])
    realism, descriptors = realism_report(seqs, config)
    for i, name in enumerate(names):
        per_seq[name]["nearest_training_dsc"] = population["nearest_training_dsc"][i]
        per_seq[name]["nearest_training_cell"] = population["nearest_training_cell"][i]
        per_seq[name]["last_frame"] = descriptors[name]
    empty = [names[i] for i, q in enumerate(seqs) if not (q.sdf <= 0).any()]
    fractions = [f["island_fraction"] for v in per_seq.values() for f in v["frames"]]
    return {"out": str(out), "names": names, "method": method, "seed": seed, "scale": used,
            "scale_means": settings["scale_means"], "max_cells": cells,
            "valid_share": float(np.mean([v["valid"] for v in per_seq.values()])),
            "novelty": {"nearest_training_dsc_median": float(np.median(
                population["nearest_training_dsc"])),
                "between_training_dsc": population["between_training_dsc"],
                "diversity_dsc": population["diversity_dsc"],
                "reads": "a new cell about as far from its nearest training cell as two "
                         "training cells are from each other is new; near 1 is a copy"},
            "realism": realism,
            "empty_sequences": empty, "sequences": per_seq,
            "island_fraction_mean": float(np.mean(fractions)) if fractions else 0.0,
            "drop_islands_voxels": int(drop_islands_voxels)}
