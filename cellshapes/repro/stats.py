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
                 "verdict": "reproduced" | "contradicted" | "not settled",
                 "test": ..., "effect": {...}, "power": {...}, ...}]}

Verdict rule
------------
With d_i = a_i - b_i the per-seed difference of the two arms (paired by seed; b may be
a fixed value), n >= ``min_seeds`` (3) seeds and level ``alpha`` (0.05), the claim's
shape picks a **one-sided one-sample t-test of mean(d)** over the seeds (seeds are the
independent replicates; df = n - 1):

=============  ==================================  ========================  ==========================
direction      the paper says                      "reproduced" when         "contradicted" when
=============  ==================================  ========================  ==========================
"greater"      a > b                               mean(d) > 0, p < alpha    mean(d) < 0, p < alpha
"less"         a < b                               mean(d) < 0, p < alpha    mean(d) > 0, p < alpha
"not greater"  a brings no gain over b (non-       mean(d) < tol, p < alpha  mean(d) > tol, p < alpha
               inferiority: a - b below margin)
"not less"     a is no worse / no closer (a - b    mean(d) > -tol, p < alpha mean(d) < -tol, p < alpha
               above -margin)
"equal"        |a - b| <= tol (both sides)         TOST: both one-sided      mean(d) beyond either
                                                   tests p < alpha           margin, p < alpha
=============  ==================================  ========================  ==========================

Otherwise, and always with fewer than ``min_seeds`` seeds, the verdict is "not settled".
A claim of "no improvement" is "not greater" (or "not less" for an error), not "equal":
a result that is *worse* satisfies it. There is no shortcut for "every seed in the
claimed direction": three of three seeds alone is a sign test at p = 0.125, so the size
of the differences against their spread decides. When the differences have no spread at
all, the t statistic is infinite: p = 0 when the mean lies on the claimed side of the
tested value, 1 otherwise (stated in the reason).

Every claim record also states
* ``test``: the test in words (its null and alternative hypothesis, margin, alpha);
* ``effect``: mean(d), its sd over seeds, the two-sided 1 - 2 alpha (90 %) t-interval
  (its bound on the claimed side is the one the test decides by: "reproduced" for
  "greater" exactly when the lower bound is above 0) and the standardised effect
  dz = mean(d) / sd(d);
* ``power``: the smallest shift of mean(d) from the tested value that this test finds
  with 80 % power at this n and this sd (noncentral t), and a ``note`` in words; for the
  margin directions also the power at a true difference of 0. A notebook whose per-seed
  quantity comes from a test with a floor on its p-value (e.g. a permutation test over
  4 + 4 sequences cannot give p < 0.029) states that floor with ``min_p``: a floor at or
  above alpha makes the claim "not settled", whatever the values.

:func:`rejudge` applies the rule to a stored claim again (its arms, direction and margin
are in the record), so a results file written under an older rule can be brought up to
date without retraining (``cellshapes results --rejudge``).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import stats as _st

from cellshapes.errors import InputError
from cellshapes.repro.effects import effect_size, power_line

__all__ = ["VERDICTS", "DIRECTIONS", "CLAIM_KEYS", "Verdict", "summarise", "verdict",
           "claim_record", "rejudge", "describe_test", "effect_size", "power_line",
           "per_seed_means"]

#: The three verdicts a claim can get.
VERDICTS = ("reproduced", "contradicted", "not settled")
#: What the paper says about arm a relative to arm b (table in the module notes).
DIRECTIONS = ("greater", "less", "equal", "not greater", "not less")
#: Keys every claim of a results file holds (:mod:`cellshapes.repro.results`).
CLAIM_KEYS = ("claim", "paper", "per_seed", "mean", "sd", "verdict")


class Verdict(str):
    """A verdict string (one of :data:`VERDICTS`) that also carries why and a p-value.

    It compares, prints and serialises to JSON as the plain string; ``reason`` (str) and
    ``pvalue`` (float or None: the one-sided test in the claimed direction, TOST for
    ``"equal"``) are extra attributes.
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


def _flat(d: np.ndarray) -> bool:
    """True when the differences have no spread (the t statistic is undefined)."""
    return bool(np.ptp(d) <= 1e-12 * max(1.0, float(np.abs(d).max())))


def _one_sided(d: np.ndarray, shift: float, alternative: str) -> float | None:
    """p of a one-sample t-test of mean(d) against ``shift`` (``alternative`` "greater"
    or "less"); without spread the limit of the t-test (0 or 1); None for n < 2."""
    if d.size < 2:
        return None
    if _flat(d):
        m = float(d.mean())
        hit = m > shift if alternative == "greater" else m < shift
        return 0.0 if hit and not math.isclose(m, shift, abs_tol=1e-12) else 1.0
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


#: direction -> (tested value as a multiple of tol, alternative of "reproduced")
_SHAPES = {"greater": (0.0, "greater"), "less": (0.0, "less"),
           "not greater": (1.0, "less"), "not less": (-1.0, "greater")}
_OPPOSITE = {"greater": "less", "less": "greater"}


def _check_direction(direction: str, tol: float) -> None:
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if direction in ("equal", "not greater", "not less") and not tol > 0:
        raise InputError(f"direction {direction!r} needs a margin tol > 0, got {tol}")


def describe_test(direction: str, tol: float = 0.0, alpha: float = 0.05) -> str:
    """The test of a direction in words, e.g. ``"one-sided paired t-test over seeds,
    H0: mean(a - b) <= 0 vs H1: mean(a - b) > 0, alpha 0.05"``."""
    _check_direction(direction, tol)
    if direction == "equal":
        return (f"equivalence (TOST, two one-sided t-tests over seeds), H1: "
                f"-{tol:g} < mean(a - b) < {tol:g}, alpha {alpha:g}")
    k, alt = _SHAPES[direction]
    at = f"{k * tol:g}"
    h0, h1 = ("<=", ">") if alt == "greater" else (">=", "<")
    kind = "non-inferior, " if k else ""
    margin = f" (margin {tol:g})" if k else ""
    return (f"{kind}one-sided t-test over seeds, H0: mean(a - b) {h0} {at} vs H1: "
            f"mean(a - b) {h1} {at}{margin}, alpha {alpha:g}")


def _decide_equal(d: np.ndarray, tol: float, alpha: float) -> Verdict:
    n = d.size
    p_lo, p_hi = _one_sided(d, -tol, "greater"), _one_sided(d, tol, "less")
    p = None if p_lo is None or p_hi is None else max(p_lo, p_hi)
    if p is not None and p < alpha:
        return Verdict("reproduced", f"within +-{tol:g}: TOST over {n} seeds, p = {p:.3g}", p)
    for side, alt, shift in (("above", "greater", tol), ("below", "less", -tol)):
        q = _one_sided(d, shift, alt)
        if q is not None and q < alpha:
            return Verdict("contradicted", f"mean(a - b) {side} the margin {shift:g}: "
                                           f"one-sided t-test over {n} seeds, p = {q:.3g}", p)
    return Verdict("not settled", f"neither within nor beyond +-{tol:g} at alpha {alpha:g} "
                                  f"over {n} seeds (TOST p = {_p(p)})", p)


def _p(p: float | None) -> str:
    return "undefined" if p is None else f"{p:.3g}"


def _decide(d: np.ndarray, direction: str, tol: float, alpha: float) -> Verdict:
    n = d.size
    k, alt = _SHAPES[direction]
    at = k * tol
    other = _OPPOSITE[alt]
    p, q = _one_sided(d, at, alt), _one_sided(d, at, other)
    rel = {"greater": ">", "less": "<"}
    flat = " (no spread over seeds)" if _flat(d) else ""
    if p is not None and p < alpha:
        return Verdict("reproduced", f"mean(a - b) {rel[alt]} {at:g}: one-sided t-test over "
                                     f"{n} seeds, p = {p:.3g}{flat}", p)
    if q is not None and q < alpha:
        return Verdict("contradicted", f"mean(a - b) {rel[other]} {at:g}: one-sided t-test "
                                       f"over {n} seeds, p = {q:.3g}{flat}", p)
    return Verdict("not settled", f"mean(a - b) {rel[alt]} {at:g} not shown: one-sided "
                                  f"t-test over {n} seeds, p = {_p(p)} (opposite p = "
                                  f"{_p(q)})", p)


def verdict(per_seed_a: Sequence[float], per_seed_b: Sequence[float] | float,
            direction: str, tol: float = 0.0, alpha: float = 0.05,
            min_seeds: int = 3, min_p: float | None = None) -> Verdict:
    """Whether the paper's claim holds over seeds (rule in the module notes).

    Parameters
    ----------
    per_seed_a : sequence of float, length n
        Arm a, one value per seed.
    per_seed_b : sequence of float, length n, or float
        Arm b with the same seeds in the same order (paired), or a fixed reference.
    direction : {"greater", "less", "equal", "not greater", "not less"}
        The paper's claim: a > b, a < b, |a - b| <= ``tol``, a - b < ``tol`` (no gain
        of a over b beyond the margin), a - b > -``tol`` (no loss beyond the margin).
    tol : float
        Margin of the last three directions (> 0, in the unit of the values); unused
        by ``"greater"`` and ``"less"``.
    alpha : float
        Level of the one-sided tests.
    min_seeds : int
        Fewer seeds give "not settled".
    min_p : float, optional
        Smallest p-value the test behind the per-seed values can give (a floor of a
        permutation or sign test); at or above ``alpha`` the claim cannot be settled.

    Returns
    -------
    Verdict
        "reproduced", "contradicted" or "not settled" (a ``str``), with ``.reason`` and
        ``.pvalue`` (the one-sided test in the claimed direction; TOST for ``"equal"``).

    Raises
    ------
    InputError
        Unknown direction, no margin where one is needed, arms of different lengths,
        non-finite values.
    """
    _check_direction(direction, tol)
    d = _differences(per_seed_a, per_seed_b)
    n = d.size
    if n < min_seeds:
        return Verdict("not settled", f"only {n} seed(s); at least {min_seeds} are needed")
    if min_p is not None and min_p >= alpha:
        return Verdict("not settled", f"the test cannot reach alpha {alpha:g} with this "
                                      f"sample: its smallest possible p is {min_p:.3g}")
    if direction == "equal":
        return _decide_equal(d, tol, alpha)
    return _decide(d, direction, tol, alpha)


def claim_record(claim: str, paper: Any, per_seed_a: Sequence[float],
                 per_seed_b: Sequence[float] | float, direction: str, tol: float = 0.0,
                 labels: tuple[str, str] = ("a", "b"), alpha: float = 0.05,
                 min_seeds: int = 3, min_p: float | None = None) -> dict[str, Any]:
    """One entry of a results file's ``claims``: values, summary, test and verdict.

    Parameters
    ----------
    claim : str
        The claim in words, e.g. ``"w0 = 60 brings no DSC gain over w0 = 30"``.
    paper : str or number
        What the paper reports (value or statement, with its source).
    per_seed_a, per_seed_b, direction, tol, alpha, min_seeds, min_p
        As for :func:`verdict`.
    labels : (str, str)
        Names of arms a and b, e.g. ``("sine", "deepsdf")``.

    Returns
    -------
    dict
        ``claim``, ``paper``, ``per_seed`` (the compared quantity per seed: a - b for
        two arms, a itself against a fixed reference), ``mean``, ``sd`` (of
        ``per_seed``), ``verdict`` (str), plus ``reason``, ``pvalue``, ``direction``,
        ``tol``, ``alpha``, ``test`` (in words), ``effect`` (:func:`effect_size` of
        a - b), ``power`` (:func:`power_line`) and ``arms`` ({label: {"per_seed",
        "mean", "sd"}}; the reference value of a fixed arm b as ``{"value": b}``).
    """
    v = verdict(per_seed_a, per_seed_b, direction, tol=tol, alpha=alpha,
                min_seeds=min_seeds, min_p=min_p)
    a = _values(per_seed_a, "per_seed_a")
    fixed = np.ndim(per_seed_b) == 0
    d = _differences(a, per_seed_b)
    quantity = a if fixed else d
    s = summarise(quantity)
    arms: dict[str, Any] = {labels[0]: {"per_seed": a.tolist(), **_ms(a)}}
    if fixed:
        arms[labels[1]] = {"value": float(per_seed_b)}
    else:
        b = _values(per_seed_b, "per_seed_b")
        arms[labels[1]] = {"per_seed": b.tolist(), **_ms(b)}
    return {"claim": str(claim), "paper": paper, "per_seed": quantity.tolist(),
            "mean": s["mean"], "sd": s["sd"], "verdict": str(v), "reason": v.reason,
            "pvalue": v.pvalue, "direction": direction, "tol": float(tol),
            "alpha": float(alpha), "test": describe_test(direction, tol, alpha),
            "effect": effect_size(d, alpha), "power": power_line(d, direction, tol, alpha,
                                                                 min_p),
            "arms": arms}


def rejudge(claim: dict[str, Any], min_seeds: int = 3) -> dict[str, Any]:
    """A stored claim judged again by the current rule, from its own arms.

    ``claim`` (:func:`claim_record` of any version of the rule) is read for its ``arms``
    (two; the second possibly ``{"value": b}``), ``direction``, ``tol``, ``alpha`` and
    ``min_p``; the result has every field of :func:`claim_record` recomputed and every
    other field kept.

    Raises
    ------
    InputError
        A claim without two arms, a direction or per-seed values.
    """
    arms = claim.get("arms")
    if not isinstance(arms, dict) or len(arms) != 2 or "direction" not in claim:
        raise InputError(f"claim {claim.get('claim')!r} has no two arms and direction to "
                         "judge again")
    (la, a), (lb, b) = arms.items()
    b_values = b["value"] if "value" in b else b["per_seed"]
    new = claim_record(claim["claim"], claim["paper"], a["per_seed"], b_values,
                       claim["direction"], tol=float(claim.get("tol", 0.0)), labels=(la, lb),
                       alpha=float(claim.get("alpha", 0.05)), min_seeds=min_seeds,
                       min_p=(claim.get("power") or {}).get("min_p"))
    return {**claim, **new}


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
