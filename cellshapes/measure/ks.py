"""Two-sample Kolmogorov-Smirnov tests of shape descriptors that respect the data's
dependence (the paper's Table 1 compares real, reconstructed and synthesized cells).

Why not pool
------------
A descriptor table has one row per (sequence, frame) (or per cell, or per seed). Frames of
one sequence are strongly autocorrelated and a reconstruction is paired with its real
sequence, so the rows are not independent draws: 4 sequences x 20 frames are closer to 4
observations than to 80. ``scipy.stats.ks_2samp`` on the pooled rows treats them as 80
and rejects equal distributions far too often: two arms of 4 sequences x 20 frames drawn
from the *same* distribution of sequences were called different (p < 0.05) in 30 of 30
synthetic cases, against 0 of 30 with the per-time scheme below
(``tests/test_stats.py``). The independent unit is the sequence.

Schemes
-------
``"per_time"`` (default)
    One value per sequence and time point (rows of the same sequence and frame, e.g.
    seeds or cells, are averaged). At each time point shared by both tables, the KS
    statistic D_t compares the two arms' per-sequence values; the test statistic is the
    mean of D_t over time points. Its p-value comes from a permutation test that
    exchanges *whole sequences* between the arms, so whatever dependence there is
    between the frames of a sequence is kept intact under the null hypothesis
    (:func:`scipy.stats.permutation_test` over the sequences' indices): exact
    (all splits) when there are at most ``n_permutations`` of them, else
    ``n_permutations`` seeded random splits, p = (1 + #{T* >= T}) / (1 + n). It uses
    the descriptor's time course, unlike a test at one fixed time point, and needs no
    assumption about how time points depend on each other, unlike combining per-time
    p-values (Fisher's method assumes independence). The price is honesty about sample
    size: with 4 sequences per arm no p-value is below 2/70 = 0.029.
``"sequence_mean"``
    One value per sequence (the mean over its frames and repeats), then
    :func:`scipy.stats.ks_2samp`. Also valid; for tables whose time points differ
    (synthesized sequences of another length).
``"pooled"``
    Every row as an independent sample (the former behaviour). Kept only to show the
    difference and to set our numbers next to a pooled analysis; its p-values are not
    valid for sequences.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from cellshapes.errors import InputError

__all__ = ["ks_tests", "min_pvalue", "KS_SCHEMES"]

#: Accepted values of ``scheme``.
KS_SCHEMES = ("per_time", "sequence_mean", "pooled")
_COLUMNS = ["descriptor", "statistic", "pvalue", "n_a", "n_b", "n_times", "scheme"]


def _per_sequence(df: pd.DataFrame, column: str, name: str) -> pd.DataFrame:
    """(sequences x frames) table of ``column``: rows of one (sequence, frame) averaged."""
    if column not in df.columns:
        raise InputError(f"column {column!r} not in the {name} table")
    if "frame" not in df.columns:
        raise InputError(f"the {name} table has no 'frame' column; the per-time and "
                         "per-sequence schemes need one (or use scheme='pooled')")
    keys = df["sequence"].astype(str) if "sequence" in df.columns else pd.Series(
        "", index=df.index)  # one sequence
    d = pd.DataFrame({"sequence": keys, "frame": df["frame"],
                      "v": pd.to_numeric(df[column], errors="coerce")}).dropna()
    if d.empty:
        raise InputError(f"KS test of {column!r} needs values in the {name} table")
    return d.groupby(["sequence", "frame"])["v"].mean().unstack("frame")


def _mean_ks_statistic(x: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Mean over time points of the two-sample KS statistic, for many splits at once.

    Parameters
    ----------
    x : ndarray, shape (n, T)
        One value per sequence (rows) and time point (columns), both arms stacked.
    member : ndarray, shape (S, n), bool
        Each row a split: True = the sequence is in arm a. Every row has the same count.

    Returns
    -------
    ndarray, shape (S,)
    """
    n = x.shape[0]
    n_a = int(member[0].sum())
    n_b = n - n_a
    total = np.zeros(member.shape[0])
    ranks = np.arange(1, n + 1)
    for t in range(x.shape[1]):
        order = np.argsort(x[:, t], kind="stable")
        v = x[order, t]
        last = np.r_[v[1:] != v[:-1], True]  # ECDFs are compared after each run of ties
        in_a = np.cumsum(member[:, order], axis=1)[:, last]
        fa = in_a / n_a
        fb = (ranks[last] - in_a) / n_b
        total += np.abs(fa - fb).max(axis=1)
    return total / x.shape[1]


def _split_statistic(x: np.ndarray):
    """The statistic :func:`scipy.stats.permutation_test` permutes: its samples are the
    row indices of ``x`` in each arm (shape (..., n_a) and (..., n_b)), so a resample
    exchanges whole sequences; the value is :func:`_mean_ks_statistic` of that split."""
    def statistic(idx_a: np.ndarray, idx_b: np.ndarray, axis: int = -1) -> np.ndarray:
        idx_a = np.moveaxis(np.asarray(idx_a), axis, -1)
        rows = idx_a.reshape(-1, idx_a.shape[-1]).astype(int)
        member = np.zeros((rows.shape[0], x.shape[0]), dtype=bool)
        np.put_along_axis(member, rows, True, axis=1)
        return _mean_ks_statistic(x, member).reshape(idx_a.shape[:-1])
    return statistic


def min_pvalue(n_a: int, n_b: int, n_permutations: int = 9999) -> float:
    """Smallest p-value the ``"per_time"`` scheme can give for n_a + n_b sequences.

    The power line of a claim built on the test: a claim "p < alpha" cannot pass when
    this is at or above alpha, and just above it only completely separated arms pass.

    Parameters
    ----------
    n_a, n_b : int
        Sequences per arm (>= 1).
    n_permutations : int
        As for :func:`ks_tests`.

    Returns
    -------
    float
        2 / C(n_a + n_b, n_a) for the exact test (arms separated at every time point:
        the observed split and the one that puts the n_a most extreme sequences on the
        other side reach the largest statistic), 1 / (1 + n_permutations) for random
        splits.
    """
    if int(n_a) < 1 or int(n_b) < 1:
        raise InputError(f"both arms need sequences, got {n_a} and {n_b}")
    splits = math.comb(int(n_a) + int(n_b), int(n_a))
    return 2.0 / splits if splits <= int(n_permutations) else 1.0 / (1 + int(n_permutations))


def _per_time(a: pd.DataFrame, b: pd.DataFrame, n_permutations: int,
              seed: int) -> tuple[float, float, int, int, int]:
    frames = sorted(set(a.columns) & set(b.columns))
    if not frames:
        raise InputError("the two tables share no time point (frame); use "
                         "scheme='sequence_mean' for sequences of different lengths")
    a, b = a[frames].dropna(), b[frames].dropna()  # sequences with every shared frame
    if a.empty or b.empty:
        raise InputError("no sequence has a value at every shared time point; use "
                         "scheme='sequence_mean'")
    x = np.vstack([a.to_numpy(float), b.to_numpy(float)])
    # exact (every split of the sequences) when C(n, n_a) <= n_permutations, else
    # n_permutations seeded random splits with p = (1 + #{T* >= T}) / (1 + n)
    res = stats.permutation_test((np.arange(len(a)), np.arange(len(a), len(x))),
                                 _split_statistic(x), permutation_type="independent",
                                 vectorized=True, n_resamples=n_permutations,
                                 alternative="greater", rng=np.random.default_rng(seed))
    return float(res.statistic), float(res.pvalue), len(a), len(b), len(frames)


def ks_tests(df_a: pd.DataFrame, df_b: pd.DataFrame,
             columns: Iterable[str] = ("surface_um2", "volume_um3", "sphericity"),
             scheme: str = "per_time", n_permutations: int = 9999,
             seed: int = 0) -> pd.DataFrame:
    """Two-sample KS test per descriptor, with one value per sequence and time point.

    Parameters
    ----------
    df_a, df_b : pandas.DataFrame
        Two populations (e.g. real and reconstructed): descriptor tables such as
        :func:`cellshapes.measure.metrics.describe_sequence` outputs concatenated, with columns
        ``sequence`` (optional: one sequence if absent) and ``frame``; extra rows per
        (sequence, frame), e.g. seeds or cells, are averaged. ``"pooled"`` needs
        neither column.
    columns : iterable of str
        Descriptors to compare.
    scheme : {"per_time", "sequence_mean", "pooled"}
        How the dependence between frames is respected (module notes): the per-time KS
        statistic averaged over time points with a permutation test over whole
        sequences (default), KS of per-sequence means, or the invalid pooled test.
    n_permutations : int
        Largest number of splits enumerated exactly; above it, this many random splits.
    seed : int
        Seed of the random splits (the exact test uses none).

    Returns
    -------
    pandas.DataFrame
        Columns ``descriptor``, ``statistic`` (mean over time points of the KS statistic
        for ``"per_time"``), ``pvalue``, ``n_a`` and ``n_b`` (sequences; rows for
        ``"pooled"``), ``n_times`` (time points used; 0 for ``"sequence_mean"`` and
        ``"pooled"``) and ``scheme``.

    Raises
    ------
    InputError
        Unknown scheme, missing column, no values, or no shared time point.
    """
    if scheme not in KS_SCHEMES:
        raise InputError(f"scheme must be one of {', '.join(KS_SCHEMES)}, got {scheme!r}")
    if int(n_permutations) < 1:
        raise InputError(f"n_permutations must be >= 1, got {n_permutations}")
    rows = []
    for c in columns:
        if scheme == "pooled":
            for name, df in (("first", df_a), ("second", df_b)):
                if c not in df.columns:
                    raise InputError(f"column {c!r} not in the {name} table")
            a = df_a[c].dropna().to_numpy(dtype=float)
            b = df_b[c].dropna().to_numpy(dtype=float)
            if a.size == 0 or b.size == 0:
                raise InputError(f"KS test of {c!r} needs values in both tables")
            res = stats.ks_2samp(a, b)
            stat, p, n_a, n_b, n_t = res.statistic, res.pvalue, a.size, b.size, 0
        else:
            ta, tb = _per_sequence(df_a, c, "first"), _per_sequence(df_b, c, "second")
            if scheme == "per_time":
                stat, p, n_a, n_b, n_t = _per_time(ta, tb, int(n_permutations), seed)
            else:
                a, b = ta.mean(axis=1).to_numpy(), tb.mean(axis=1).to_numpy()
                res = stats.ks_2samp(a, b)
                stat, p, n_a, n_b, n_t = res.statistic, res.pvalue, a.size, b.size, 0
        rows.append({"descriptor": c, "statistic": float(stat), "pvalue": float(p),
                     "n_a": int(n_a), "n_b": int(n_b), "n_times": int(n_t),
                     "scheme": scheme})
    return pd.DataFrame(rows, columns=_COLUMNS)
