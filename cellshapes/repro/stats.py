"""Statistics of the reproduced claims, written once for every notebook.

Each claim of the paper compares two arms (e.g. the sine model and the DeepSDF baseline),
or one arm with a fixed value, and every arm is run with several seeds. The functions
here turn the per-seed values into a summary (:func:`summarise`), a verdict
(:func:`verdict`), a claim record (:func:`claim_record`) and the notebook's results file
(:func:`write_results`), whose layout is::

    {"notebook": "08_omega_sweep", "profile": "study", "seeds": [0, 1, 2],
     "date": "2025-01-31T12:00:00+00:00",
     "versions": {"cellshapes": ..., "torch": ..., "numpy": ..., "python": ...},
     "claims": [{"claim": ..., "paper": ..., "per_seed": [...], "mean": ..., "sd": ...,
                 "verdict": "reproduced" | "contradicted" | "not settled", ...}]}

Verdict rule
------------
With d_i = a_i - b_i the per-seed difference of the two arms (paired by seed), and
at least ``min_seeds`` (3) seeds:

* ``direction="greater"`` (the paper says a > b): "reproduced" when d_i > 0 for every
  seed, or a one-sided paired t-test over seeds gives p < alpha; "contradicted" when
  d_i < 0 for every seed or the opposite one-sided test gives p < alpha;
* ``direction="less"``: the same with the signs swapped;
* ``direction="equal"`` (the paper says "no gain", within a margin ``tol`` > 0):
  "reproduced" when |d_i| <= tol for every seed or the two one-sided tests (TOST) give
  p < alpha; "contradicted" when d_i > tol for every seed, or d_i < -tol for every seed,
  or a one-sided test against the margin gives p < alpha;
* otherwise "not settled". Fewer than ``min_seeds`` seeds is always "not settled".

The rule is a decision about the *direction* over seeds, not about the size of an
effect; the claim record keeps the per-seed values so that a reader can judge the size.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import stats as _st

from cellshapes.errors import InputError

__all__ = ["VERDICTS", "DIRECTIONS", "CLAIM_KEYS", "Verdict", "summarise", "verdict",
           "claim_record", "per_seed_means"]

#: The three verdicts a claim can get.
VERDICTS = ("reproduced", "contradicted", "not settled")
#: What the paper says about arm a relative to arm b.
DIRECTIONS = ("greater", "less", "equal")
#: Keys every claim of a results file holds (:mod:`cellshapes.repro.results`).
CLAIM_KEYS = ("claim", "paper", "per_seed", "mean", "sd", "verdict")


class Verdict(str):
    """A verdict string (one of :data:`VERDICTS`) that also carries why and a p-value.

    It compares, prints and serialises to JSON as the plain string; ``reason`` (str) and
    ``pvalue`` (float or None: the paired test's p-value in the claimed direction) are
    extra attributes.
    """

    reason: str
    pvalue: float | None

    def __new__(cls, label: str, reason: str, pvalue: float | None = None) -> "Verdict":
        if label not in VERDICTS:
            raise InputError(f"verdict must be one of {VERDICTS}, got {label!r}")
        obj = super().__new__(cls, label)
        obj.reason = reason
        obj.pvalue = pvalue
        return obj


def _values(values: Any, what: str) -> np.ndarray:
    """Per-seed values as a finite float vector (InputError otherwise)."""
    try:
        v = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, got {values!r}") from None
    if v.size == 0:
        raise InputError(f"{what} is empty")
    if not np.all(np.isfinite(v)):
        raise InputError(f"{what} contains NaN or infinite values: {v.tolist()}")
    return v


def summarise(values: Sequence[float]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation and count of per-seed values.

    Parameters
    ----------
    values : sequence of float, length n >= 1
        One value per seed (finite).

    Returns
    -------
    dict
        ``mean``, ``sd`` (ddof = 1; None when n = 1) and ``n``.

    Raises
    ------
    InputError
        Empty, non-numeric or non-finite values.
    """
    v = _values(values, "values")
    sd = float(np.std(v, ddof=1)) if v.size > 1 else None
    return {"mean": float(np.mean(v)), "sd": sd, "n": int(v.size)}


def _one_sided(d: np.ndarray, shift: float, alternative: str) -> float | None:
    """p of a one-sample t-test of mean(d) against ``shift``; None if undefined."""
    if d.size < 2 or np.ptp(d) <= 1e-9 * max(1.0, float(np.abs(d).max())):
        return None  # no spread: the t statistic is undefined, the sign rule decides
    p = float(_st.ttest_1samp(d, shift, alternative=alternative).pvalue)
    return p if math.isfinite(p) else None


def _differences(per_seed_a: Any, per_seed_b: Any) -> np.ndarray:
    a = _values(per_seed_a, "per_seed_a")
    if np.ndim(per_seed_b) == 0:
        return a - _values([per_seed_b], "per_seed_b")[0]
    b = _values(per_seed_b, "per_seed_b")
    if a.shape != b.shape:
        raise InputError(f"the arms need one value per seed each, got {a.size} and {b.size}")
    return a - b


def verdict(per_seed_a: Sequence[float], per_seed_b: Sequence[float] | float,
            direction: str, tol: float = 0.0, alpha: float = 0.05,
            min_seeds: int = 3) -> Verdict:
    """Whether the paper's direction holds over seeds (rule in the module notes).

    Parameters
    ----------
    per_seed_a : sequence of float, length n
        Arm a, one value per seed.
    per_seed_b : sequence of float, length n, or float
        Arm b with the same seeds in the same order (paired), or a fixed reference.
    direction : {"greater", "less", "equal"}
        The paper's claim: a > b, a < b, or |a - b| <= ``tol``.
    tol : float
        Margin of ``"equal"`` (> 0, in the unit of the values); unused otherwise.
    alpha : float
        Level of the paired tests.
    min_seeds : int
        Fewer seeds give "not settled".

    Returns
    -------
    Verdict
        "reproduced", "contradicted" or "not settled" (a ``str``), with ``.reason`` and
        ``.pvalue`` (the paired test in the claimed direction; TOST for ``"equal"``).

    Raises
    ------
    InputError
        Unknown direction, ``tol <= 0`` with ``"equal"``, arms of different lengths,
        non-finite values.
    """
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if direction == "equal" and not tol > 0:
        raise InputError(f"direction 'equal' needs a margin tol > 0, got {tol}")
    d = _differences(per_seed_a, per_seed_b)
    n = d.size
    if n < min_seeds:
        return Verdict("not settled", f"only {n} seed(s); at least {min_seeds} are needed")
    if direction == "equal":
        p_lo, p_hi = _one_sided(d, -tol, "greater"), _one_sided(d, tol, "less")
        p = None if p_lo is None or p_hi is None else max(p_lo, p_hi)
        if np.all(np.abs(d) <= tol):
            return Verdict("reproduced", f"|a - b| <= {tol:g} for all {n} seeds", p)
        if p is not None and p < alpha:
            return Verdict("reproduced", f"equivalence test (TOST, margin {tol:g}) "
                                         f"p = {p:.3g}", p)
        for side, alt, shift in (("above", "greater", tol), ("below", "less", -tol)):
            beyond = d > tol if side == "above" else d < -tol
            if np.all(beyond):
                return Verdict("contradicted", f"a - b {side} the margin {tol:g} for all "
                                               f"{n} seeds", p)
            q = _one_sided(d, shift, alt)
            if q is not None and q < alpha:
                return Verdict("contradicted", f"paired t-test: a - b {side} the margin "
                                               f"{tol:g}, p = {q:.3g}", p)
        return Verdict("not settled", f"neither within nor beyond the margin {tol:g} over "
                                      f"{n} seeds", p)
    sign = 1.0 if direction == "greater" else -1.0
    claimed, opposite = ("greater", "less") if sign > 0 else ("less", "greater")
    p = _one_sided(d, 0.0, claimed)
    q = _one_sided(d, 0.0, opposite)
    rel = "a > b" if sign > 0 else "a < b"
    anti = "a < b" if sign > 0 else "a > b"
    if np.all(sign * d > 0):
        return Verdict("reproduced", f"{rel} for all {n} seeds", p)
    if p is not None and p < alpha:
        return Verdict("reproduced", f"paired t-test over {n} seeds: {rel}, p = {p:.3g}", p)
    if np.all(sign * d < 0):
        return Verdict("contradicted", f"{anti} for all {n} seeds", p)
    if q is not None and q < alpha:
        return Verdict("contradicted", f"paired t-test over {n} seeds: {anti}, "
                                       f"p = {q:.3g}", p)
    holds = int(np.count_nonzero(sign * d > 0))
    return Verdict("not settled", f"{rel} for {holds} of {n} seeds, paired test not "
                                  "significant", p)


def claim_record(claim: str, paper: Any, per_seed_a: Sequence[float],
                 per_seed_b: Sequence[float] | float, direction: str, tol: float = 0.0,
                 labels: tuple[str, str] = ("a", "b"), alpha: float = 0.05,
                 min_seeds: int = 3) -> dict[str, Any]:
    """One entry of a results file's ``claims``: values, summary and verdict.

    Parameters
    ----------
    claim : str
        The claim in words, e.g. ``"w0 = 30 fits at least as well as w0 = 60"``.
    paper : str or number
        What the paper reports (value or statement, with its source).
    per_seed_a, per_seed_b, direction, tol, alpha, min_seeds
        As for :func:`verdict`.
    labels : (str, str)
        Names of arms a and b, e.g. ``("sine", "deepsdf")``.

    Returns
    -------
    dict
        ``claim``, ``paper``, ``per_seed`` (the compared quantity per seed: a - b for
        two arms, a itself against a fixed reference), ``mean``, ``sd`` (of
        ``per_seed``), ``verdict`` (str), plus ``reason``, ``pvalue``, ``direction``,
        ``tol`` and ``arms`` ({label: {"per_seed", "mean", "sd"}}; the reference value of
        a fixed arm b as ``{"value": b}``).
    """
    v = verdict(per_seed_a, per_seed_b, direction, tol=tol, alpha=alpha,
                min_seeds=min_seeds)
    a = _values(per_seed_a, "per_seed_a")
    fixed = np.ndim(per_seed_b) == 0
    quantity = a if fixed else _differences(a, per_seed_b)
    s = summarise(quantity)
    arms: dict[str, Any] = {labels[0]: {"per_seed": a.tolist(), **_ms(a)}}
    if fixed:
        arms[labels[1]] = {"value": float(per_seed_b)}
    else:
        b = _values(per_seed_b, "per_seed_b")
        arms[labels[1]] = {"per_seed": b.tolist(), **_ms(b)}
    return {"claim": str(claim), "paper": paper, "per_seed": quantity.tolist(),
            "mean": s["mean"], "sd": s["sd"], "verdict": str(v), "reason": v.reason,
            "pvalue": v.pvalue, "direction": direction, "tol": float(tol), "arms": arms}


def per_seed_means(table: Any, value: str, arm_column: str, arm: Any, seeds: Sequence[int],
                   seed_column: str = "train_seed",
                   sequence_column: str = "sequence") -> list[float]:
    """One arm's per-seed mean of ``value`` over the sequences defined for every arm and seed.

    A sequence enters only where ``value`` is defined (not NaN) in every row of ``table``
    (every arm, every seed), so that the arms of a claim are compared on the same shapes.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per sequence, arm and seed (e.g. :func:`cellshapes.repro.experiments.
        frame_scores` of one frame with the arm and seed assigned as columns).
    value : str
        Column to average, e.g. ``"dsc"``.
    arm_column, arm
        Column naming the arm and the arm to take, e.g. ``"omega0"``, ``30.0``.
    seeds : sequence of int
        Training seeds, in the order of the returned values.
    seed_column, sequence_column : str
        Columns of the training seed and the sequence name.

    Returns
    -------
    list of float, length len(seeds)
        NaN for a seed when no sequence is defined everywhere.
    """
    defined = table.groupby(sequence_column)[value].apply(lambda v: bool(v.notna().all()))
    sub = table[(table[arm_column] == arm) & table[sequence_column].isin(defined[defined].index)]
    return [float(sub[sub[seed_column] == s][value].mean()) if len(sub) else float("nan")
            for s in seeds]


def _ms(v: np.ndarray) -> dict[str, float | None]:
    s = summarise(v)
    return {"mean": s["mean"], "sd": s["sd"]}
