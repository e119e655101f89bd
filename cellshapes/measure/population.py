"""Measures of a synthesized population: validity, realism, novelty and diversity.

A population of new cells is judged per time point, never pooled over time (pooling hides
wrong dynamics, e.g. dividing cells that start already deformed):

* **validity** (:func:`frame_validity`, :func:`sequence_validity`): every frame holds the
  expected cells (one; for dividing cells one, then two after the division and never one
  again), no empty frame, and at most ``max_island`` of a frame's foreground outside them;
* **realism** (:func:`realism_per_time`): per time point, two-sample Kolmogorov-Smirnov
  tests and 1-Wasserstein distances of each descriptor against the real cells;
* **novelty** (:func:`nearest_dsc`, :func:`novelty_index`): the DSC of each new cell to its
  nearest training cell, set against two yardsticks: the DSC of a copy (the model's own
  reconstruction of its training cells) and the DSC between *different* training cells;
* **diversity** (:func:`pairwise_dsc`): the DSC between pairs of new cells.

All functions take arrays (masks as (T, Z, Y, X) or (Z, Y, X) bool) or data frames of
descriptors (:func:`cellshapes.measure.metrics.describe_sequence` rows) and return arrays,
dicts or data frames.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from cellshapes.errors import InputError
from cellshapes.measure.cells import components

__all__ = ["frame_validity", "sequence_validity", "nearest_dsc", "pairwise_dsc",
           "novelty_index", "realism_per_time", "min_ks_pvalue"]


def frame_validity(mask: Any, max_cells: int = 1, max_island: float = 0.01
                   ) -> dict[str, float]:
    """Cells and islands of one frame of a synthesized shape.

    Parameters
    ----------
    mask : (Z, Y, X) bool array
    max_cells : int
        Cells a frame may hold (2 for dividing cells).
    max_island : float
        A 26-connected component holding less than this share of the foreground is an
        island, not a cell.

    Returns
    -------
    dict
        ``components`` (26-connected), ``cells`` (components of at least ``max_island``
        of the foreground), ``island_fraction`` (share of the foreground outside the
        ``max_cells`` largest components), ``empty`` (bool) and ``valid``: not empty,
        1 <= cells <= max_cells and island fraction below ``max_island``.
    """
    if int(max_cells) < 1:
        raise InputError(f"max_cells must be >= 1, got {max_cells!r}")
    m = np.asarray(mask, dtype=bool)
    lab, n = components(m)
    size = int(m.sum())
    if size == 0:
        return {"components": 0, "cells": 0, "island_fraction": 0.0, "empty": True,
                "valid": False}
    sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:]  # largest first (components)
    cells = int((sizes >= max_island * size).sum())
    islands = 1.0 - float(sizes[:int(max_cells)].sum()) / size
    return {"components": int(n), "cells": cells, "island_fraction": islands,
            "empty": False,
            "valid": bool(1 <= cells <= max_cells and islands < max_island)}


def sequence_validity(masks: Any, max_cells: int = 1, max_island: float = 0.01
                      ) -> tuple[bool, pd.DataFrame]:
    """Is a synthesized sequence whole cells in every frame?

    Parameters
    ----------
    masks : (T, Z, Y, X) bool array
    max_cells, max_island
        As :func:`frame_validity`. With ``max_cells > 1`` the number of cells may grow
        over time (a division) but never shrink (daughters that fuse again).

    Returns
    -------
    valid : bool
    frames : pandas.DataFrame
        One row per frame (:func:`frame_validity`) with its ``frame`` index.
    """
    m = np.asarray(masks, dtype=bool)
    if m.ndim != 4:
        raise InputError(f"masks must be (T, Z, Y, X), got shape {m.shape}")
    rows = [{"frame": t, **frame_validity(f, max_cells, max_island)} for t, f in enumerate(m)]
    df = pd.DataFrame(rows)
    never_fuse = bool(np.all(np.diff(df["cells"].to_numpy()) >= 0)) if max_cells > 1 else True
    return bool(df["valid"].all() and never_fuse), df


def _stack(masks: Any, what: str) -> np.ndarray:
    m = np.asarray(masks, dtype=bool)
    if m.ndim != 4 or len(m) == 0:
        raise InputError(f"{what} must be a non-empty (N, Z, Y, X) stack, got shape {m.shape}")
    return m.reshape(len(m), -1)


def _dice_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DSC between every row of ``a`` and every row of ``b`` (flat bool masks)."""
    af, bf = a.astype(np.float32), b.astype(np.float32)
    inter = af @ bf.T
    total = af.sum(axis=1)[:, None] + bf.sum(axis=1)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(total > 0, 2.0 * inter / total, 1.0)
    return d


def nearest_dsc(new: Any, training: Any) -> tuple[np.ndarray, np.ndarray]:
    """DSC of each new cell to its nearest training cell.

    Parameters
    ----------
    new : (M, Z, Y, X) bool array
        New cells (e.g. the last frame of each synthesized sequence, in the model's own
        unrotated frame, so that a rotation does not pass for novelty).
    training : (N, Z, Y, X) bool array
        Training cells decoded on the same grid.

    Returns
    -------
    dsc : (M,) float array
        Highest DSC of each new cell to any training cell.
    index : (M,) int array
        Which training cell that is.
    """
    d = _dice_matrix(_stack(new, "new"), _stack(training, "training"))
    return d.max(axis=1), d.argmax(axis=1)


def pairwise_dsc(masks: Any) -> np.ndarray:
    """DSC between every pair of different cells, (K (K - 1) / 2,) float array.

    Between training cells it is the novelty baseline (how far apart real cells are);
    between new cells it measures the population's diversity (lower: more diverse).
    """
    m = _stack(masks, "masks")
    if len(m) < 2:
        raise InputError("pairwise DSC needs at least two cells")
    d = _dice_matrix(m, m)
    return d[np.triu_indices(len(m), k=1)]


def novelty_index(nearest: Any, copy_dsc: float, between_dsc: float) -> np.ndarray:
    """Where new cells lie between a copy (0) and a different training cell (1).

    index = (copy_dsc - nearest) / (copy_dsc - between_dsc): 0 for a new cell as close to
    a training cell as the model's own reconstruction of it (a copy), 1 for one as far
    from its nearest training cell as two different training cells are from each other.

    Parameters
    ----------
    nearest : (M,) array
        :func:`nearest_dsc` of the new cells.
    copy_dsc : float
        DSC of a copy (mean reconstruction DSC of the training cells).
    between_dsc : float
        DSC between different training cells (median of :func:`pairwise_dsc`).
    """
    if not copy_dsc > between_dsc:
        raise InputError(f"copy DSC ({copy_dsc:.3f}) must exceed the between-training DSC "
                         f"({between_dsc:.3f})")
    return (copy_dsc - np.asarray(nearest, dtype=float)) / (copy_dsc - between_dsc)


def min_ks_pvalue(n_a: int, n_b: int) -> float:
    """Smallest two-sided p-value an exact two-sample KS test of these sizes can give.

    It is reached when the samples do not overlap at all; a claim "p < alpha" cannot pass
    when this is above alpha (the power line of a claim).
    """
    from scipy.stats import ks_2samp

    a = np.arange(int(n_a), dtype=float)
    b = np.arange(int(n_b), dtype=float) + n_a + 1.0
    return float(ks_2samp(a, b, method="exact").pvalue)


def realism_per_time(real: pd.DataFrame, synthetic: pd.DataFrame,
                     columns: Sequence[str] = ("volume_um3", "surface_um2", "sphericity"),
                     by: str = "frame") -> pd.DataFrame:
    """Per time point: KS test and 1-Wasserstein distance of each descriptor.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
        One row per sequence and frame, with column ``by`` (the frame index; both
        populations must share the time grid) and the descriptor ``columns``.
    columns : sequence of str
    by : str

    Returns
    -------
    pandas.DataFrame
        One row per time point and descriptor: ``n_real``, ``n_synthetic``, ``ks``
        (statistic), ``pvalue`` (two-sided, scipy's exact or asymptotic choice),
        ``min_pvalue`` (:func:`min_ks_pvalue`, what the sizes allow), ``w1`` (the
        1-Wasserstein distance in the descriptor's unit) and ``w1_relative`` (w1 over
        the real values' mean absolute value).
    """
    from scipy.stats import ks_2samp, wasserstein_distance

    for name, df in (("real", real), ("synthetic", synthetic)):
        missing = [c for c in (by, *columns) if c not in df]
        if missing:
            raise InputError(f"{name} descriptors lack column(s) {missing}")
    rows = []
    for t in sorted(set(real[by]) & set(synthetic[by])):
        a, b = real[real[by] == t], synthetic[synthetic[by] == t]
        for c in columns:
            x, y = a[c].dropna().to_numpy(float), b[c].dropna().to_numpy(float)
            if len(x) == 0 or len(y) == 0:
                continue
            ks = ks_2samp(x, y)
            w1 = float(wasserstein_distance(x, y))
            scale = float(np.mean(np.abs(x)))
            rows.append({by: t, "descriptor": c, "n_real": len(x), "n_synthetic": len(y),
                         "ks": float(ks.statistic), "pvalue": float(ks.pvalue),
                         "min_pvalue": min_ks_pvalue(len(x), len(y)), "w1": w1,
                         "w1_relative": w1 / scale if scale > 0 else float("nan")})
    return pd.DataFrame(rows)
