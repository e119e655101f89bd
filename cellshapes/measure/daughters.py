"""Descriptors of a dividing cell per daughter: one sequence in, two out (paper Sec 4.4).

The paper describes DS_Cele after the division per daughter: each frame's cells are
measured apart, and the sequence is split into two, ``<name>/d1`` and ``<name>/d2``.
Daughter k takes cell k (1 = largest, :func:`cellshapes.measure.cells.components`) of a
frame with at least k cells, else the largest cell (the mother before the division, or a
reconstruction that did not split); a frame with more than two cells (a detached
fragment) keeps the two largest.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from cellshapes.measure.metrics import describe_sequence
from cellshapes.units import SpacingLike

__all__ = ["describe_daughters", "DAUGHTER_COLUMNS"]

#: The descriptors each daughter row carries (besides ``sequence``, ``frame``, ``cells``).
DAUGHTER_COLUMNS = ("volume_um3", "surface_um2", "sphericity", "sphericity_wadell")


def describe_daughters(volumes: Any, spacing: SpacingLike | None = None, name: str = "cell",
                       is_sdf: bool | None = None) -> pd.DataFrame:
    """Descriptor rows of the two daughters of a dividing sequence, frame by frame.

    Parameters
    ----------
    volumes : array_like, shape (T, Z, Y, X)
        Masks or SDFs (inside <= 0) of one sequence.
    spacing : length-3 sequence of float, optional
        Voxel size (dz, dy, dx) in um (default 1 um).
    name : str
        The sequence's name; the daughters are ``<name>/d1`` and ``<name>/d2``.
    is_sdf : bool, optional
        None: detected as in :func:`~cellshapes.measure.metrics.describe_sequence`.

    Returns
    -------
    pandas.DataFrame
        Two rows per frame (d1 first): ``sequence``, ``frame``, ``cells`` (how many cells
        the frame has) and :data:`DAUGHTER_COLUMNS` (um^3, um^2, dimensionless).

    Raises
    ------
    InputError
        A frame with no foreground, wrong shape, non-finite values.
    """
    per_cell = describe_sequence(volumes, spacing if spacing is not None else (1.0, 1.0, 1.0),
                                 is_sdf=is_sdf, per_cell=True)
    rows = []
    for frame, group in per_cell.groupby("frame", sort=True):
        by_cell = group.set_index("cell")
        for k in (1, 2):
            pick = by_cell.loc[k if k in by_cell.index else 1]
            rows.append({"sequence": f"{name}/d{k}", "frame": int(frame), "cells": len(by_cell),
                         **{c: float(pick[c]) for c in DAUGHTER_COLUMNS}})
    return pd.DataFrame(rows, columns=["sequence", "frame", "cells", *DAUGHTER_COLUMNS])
