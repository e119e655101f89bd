"""Effect size and power of a claim's test over seeds (:mod:`cellshapes.repro.stats`).

The verdict rule tests mean(d), d the per-seed differences of two arms, with a one-sided
one-sample t-test. :func:`effect_size` states mean(d) with its interval; :func:`power_line`
states what that test can find with this many seeds and this spread (noncentral t), so
that a "not settled" can be told apart from "no effect".
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import stats as _st
from scipy.optimize import brentq as _brentq

from cellshapes.errors import InputError

__all__ = ["POWER", "MARGIN_DIRECTIONS", "effect_size", "power_line"]

#: Power a "power" line is stated at.
POWER = 0.8
#: Directions of :mod:`cellshapes.repro.stats` that test against a margin.
MARGIN_DIRECTIONS = ("equal", "not greater", "not less")


def _values(values: Any, what: str) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, got {values!r}") from None
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise InputError(f"{what} must be finite and non-empty, got {v.tolist()}")
    return v


def effect_size(d: Sequence[float], alpha: float = 0.05) -> dict[str, Any]:
    """Mean of the per-seed differences with its uncertainty over seeds.

    Parameters
    ----------
    d : sequence of float, length n
        Per-seed differences a - b (or values against a fixed reference).
    alpha : float
        The interval is the two-sided 1 - 2 alpha t-interval (90 % at alpha 0.05): its
        bound on the claimed side is the one the one-sided test at ``alpha`` decides by.

    Returns
    -------
    dict
        ``mean``, ``sd`` (None for n = 1), ``ci`` ([low, high], None for n = 1),
        ``ci_level`` and ``dz`` (mean / sd; None without spread).
    """
    v = _values(d, "differences")
    mean = float(v.mean())
    sd = float(np.std(v, ddof=1)) if v.size > 1 else None
    out: dict[str, Any] = {"mean": mean, "sd": sd, "ci": None,
                           "ci_level": 1.0 - 2.0 * alpha, "dz": None}
    if sd is not None:
        half = float(_st.t.ppf(1.0 - alpha, v.size - 1)) * sd / math.sqrt(v.size)
        out["ci"] = [mean - half, mean + half]
        out["dz"] = mean / sd if sd > 0 else None
    return out


def _power(shift: float, sd: float, n: int, alpha: float) -> float:
    """Power of a one-sided one-sample t-test to find a true shift ``shift`` > 0."""
    crit = _st.t.ppf(1.0 - alpha, n - 1)
    return float(_st.nct.sf(crit, n - 1, shift * math.sqrt(n) / sd))


def _mde(sd: float, n: int, alpha: float, power: float = POWER) -> float:
    """Smallest true shift a one-sided t-test finds with ``power`` (n, sd given)."""
    hi = sd
    while _power(hi, sd, n, alpha) < power:
        hi *= 2.0
    return float(_brentq(lambda x: _power(x, sd, n, alpha) - power, 0.0, hi, xtol=sd * 1e-6))


def power_line(d: Sequence[float], direction: str, tol: float = 0.0, alpha: float = 0.05,
               min_p: float | None = None) -> dict[str, Any]:
    """What the test can find with this many seeds and this spread.

    Parameters
    ----------
    d : sequence of float, length n
        Per-seed differences (their sd stands in for the true sd).
    direction, tol, alpha, min_p
        As for :func:`cellshapes.repro.stats.verdict`.

    Returns
    -------
    dict
        ``n``, ``alpha``, ``mde80`` (the smallest shift of mean(d) from the tested value
        found with 80 % power; None for n < 2, 0 without spread), ``power_at_zero`` (the
        margin directions: power to reproduce the claim when a and b are truly equal),
        ``min_p`` and ``note`` (a sentence).
    """
    if direction in MARGIN_DIRECTIONS and not tol > 0:
        raise InputError(f"direction {direction!r} needs a margin tol > 0, got {tol}")
    v = _values(d, "differences")
    n, sd = v.size, (float(np.std(v, ddof=1)) if v.size > 1 else None)
    out: dict[str, Any] = {"n": n, "alpha": alpha, "mde80": None, "power_at_zero": None,
                           "min_p": min_p}
    if min_p is not None and min_p >= alpha:
        out["note"] = (f"cannot reach alpha {alpha:g}: the smallest p of the test with this "
                       f"sample is {min_p:.3g}")
        return out
    floor = ("" if min_p is None else
             f"; the test behind each seed's value cannot give p below {min_p:.2g}")
    if n < 2:
        out["note"] = "one seed: no test" + floor
        return out
    if not sd or sd <= 1e-12 * max(1.0, float(np.abs(v).max())):  # rounding noise only
        out["mde80"] = 0.0
        out["note"] = (f"{n} seeds without spread: any shift is found (degenerate t-test)"
                       + floor)
        return out
    out["mde80"] = _mde(sd, n, alpha)
    note = (f"{n} seeds, sd {sd:.3g}: a true shift of {out['mde80']:.3g} or more from the "
            f"tested value is found with 80 % power")
    if direction in ("not greater", "not less"):
        out["power_at_zero"] = _power(tol, sd, n, alpha)
    elif direction == "equal":
        crit = _st.t.ppf(1.0 - alpha, n - 1)
        se = sd / math.sqrt(n)
        out["power_at_zero"] = max(0.0, float(2 * _st.t.cdf(tol / se - crit, n - 1) - 1))
    if out["power_at_zero"] is not None:
        note += (f"; if a = b, the margin {tol:g} is shown with power "
                 f"{out['power_at_zero']:.2f}")
    out["note"] = note + floor
    return out
