"""The per-time KS test of cellshapes.measure.ks against answers worked out by hand and
against a brute-force enumeration of every split (what the p-value means), with ties,
unequal arms and several time points."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cellshapes.measure.ks import ks_tests


def _table(values: np.ndarray, prefix: str) -> pd.DataFrame:
    """(sequences, frames) array -> a descriptor table with one row per (sequence, frame)."""
    return pd.DataFrame([{"sequence": f"{prefix}{s}", "frame": t, "v": float(values[s, t])}
                         for s in range(values.shape[0]) for t in range(values.shape[1])])


def _per_time(a: np.ndarray, b: np.ndarray, **kw) -> tuple[float, float]:
    out = ks_tests(_table(a, "a"), _table(b, "b"), columns=["v"], **kw).iloc[0]
    return float(out["statistic"]), float(out["pvalue"])


def _brute_force(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean over time of scipy's two-sample KS statistic, and the share of all
    C(n, n_a) splits of the sequences whose statistic reaches the observed one."""
    x = np.vstack([a, b])
    n, n_a = len(x), len(a)

    def stat(rows_a):
        rows_b = [i for i in range(n) if i not in rows_a]
        return np.mean([stats.ks_2samp(x[list(rows_a), t], x[rows_b, t]).statistic
                        for t in range(x.shape[1])])

    observed = stat(tuple(range(n_a)))
    null = [stat(c) for c in itertools.combinations(range(n), n_a)]
    return observed, sum(v >= observed - 1e-12 for v in null) / len(null)


def test_two_against_two_by_hand():
    """One time point. Arms {0, 1} and {2, 3} are apart (D = 1); of the 6 splits only
    this one and its mirror reach D = 1, p = 2/6. Arms {0, 2} and {1, 3} interleave
    (D = 1/2), which every split reaches, p = 1."""
    assert _per_time(np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]])) == (
        pytest.approx(1.0), pytest.approx(1 / 3))
    assert _per_time(np.array([[0.0], [2.0]]), np.array([[1.0], [3.0]])) == (
        pytest.approx(0.5), pytest.approx(1.0))


def test_time_points_are_averaged_not_pooled():
    """Apart at t = 0 (D = 1), interleaved at t = 1 (D = 1/2): the statistic is 3/4."""
    a = np.array([[0.0, 0.0], [1.0, 2.0]])
    b = np.array([[2.0, 1.0], [3.0, 3.0]])
    stat, p = _per_time(a, b)
    assert stat == pytest.approx(0.75)
    assert p == pytest.approx(_brute_force(a, b)[1])


@pytest.mark.parametrize("n_a, n_b, frames, seed", [(3, 5, 4, 0), (4, 4, 6, 1), (2, 6, 3, 2),
                                                    (5, 4, 5, 3), (4, 4, 2, 4)])
def test_exact_p_equals_the_enumeration_of_every_split(n_a, n_b, frames, seed):
    """Rounded values give ties within and across arms; arm b is shifted a little so
    the p-values spread over (0, 1] instead of sitting at 1."""
    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(size=(n_a, frames)), 1)
    b = np.round(rng.normal(0.8, 1.0, size=(n_b, frames)), 1)
    stat, p = _per_time(a, b)
    ref_stat, ref_p = _brute_force(a, b)
    assert stat == pytest.approx(ref_stat) and p == pytest.approx(ref_p)
    assert p * math.comb(n_a + n_b, n_a) == pytest.approx(round(p * math.comb(n_a + n_b, n_a)))


def test_random_splits_bound_the_exact_p():
    """Above ``n_permutations`` splits the test draws that many seeded splits: the same
    seed gives the same p, and p is the exact one within sampling error."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(5, 3)), rng.normal(0.7, 1.0, size=(5, 3))
    exact = _per_time(a, b)[1]  # C(10, 5) = 252 splits
    p1 = _per_time(a, b, n_permutations=200, seed=3)[1]
    assert p1 == _per_time(a, b, n_permutations=200, seed=3)[1]
    assert abs(p1 - exact) < 4 * math.sqrt(exact * (1 - exact) / 200) + 1 / 201
