"""How new shapes compare with the training shapes: novelty, diversity and realism.

The judging half of ``cellshapes generate`` (:func:`cellshapes.inference.generate.
generate_run`): the DSC of each new cell to its nearest training cell against the DSC
between training cells (novelty), between new cells (diversity), both at one time point in
the model's own frame, and the per-time-point descriptor tests against the training data
(realism, :func:`cellshapes.measure.population.realism_per_time`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from cellshapes.errors import InputError

__all__ = ["model_frame_masks", "population_report", "realism_report"]


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
