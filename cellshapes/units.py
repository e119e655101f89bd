"""Physical units: the voxel spacing (dz, dy, dx) in micrometres.

Every array in cellshapes is indexed (z, y, x); its voxel size is a ``spacing`` of three
positive numbers in um in the same order (``docs/contracts.md``). :func:`check_spacing`
is the one validator of such a spacing, used by every function that takes one.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from cellshapes.errors import InputError

__all__ = ["check_spacing", "SpacingLike"]

#: A voxel size (dz, dy, dx) in um: any length-3 sequence or array of numbers.
SpacingLike = Sequence[float]


def _shown(spacing: Any) -> str:
    """The spacing as a short tuple for messages (``repr`` if it is not numeric)."""
    try:
        return repr(tuple(np.asarray(spacing, dtype=np.float64).reshape(-1).tolist()))
    except (TypeError, ValueError):
        return repr(spacing)


def check_spacing(spacing: SpacingLike | np.ndarray | None,
                  default: SpacingLike | None = None, what: str = "spacing") -> np.ndarray:
    """Validate a voxel size (dz, dy, dx) in um.

    Parameters
    ----------
    spacing : length-3 sequence of float, or None
        Voxel size along z, y and x in um; each value finite and > 0.
    default : length-3 sequence of float, optional
        Returned (validated) when ``spacing`` is None; without it None is an error.
    what : str
        Name of the argument in error messages (e.g. ``"--spacing"``).

    Returns
    -------
    ndarray, shape (3,), float64
        A new array ``(dz, dy, dx)`` in um.

    Raises
    ------
    InputError
        None without a default, not three numbers, or a value that is zero, negative,
        NaN or infinite. The message names ``what`` and the value given.

    Examples
    --------
    >>> check_spacing((2, 0.5, 0.5))
    array([2. , 0.5, 0.5])
    >>> check_spacing(None, default=(1, 1, 1))
    array([1., 1., 1.])
    """
    if spacing is None:
        if default is None:
            raise InputError(f"{what} is required: three positive numbers (dz, dy, dx) in um")
        return check_spacing(default, what=what)
    try:
        sp = np.array(spacing, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        sp = None
    if sp is None or sp.shape != (3,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise InputError(f"{what} must be three positive numbers (dz, dy, dx) in um, got "
                         f"{_shown(spacing)}")
    return sp
