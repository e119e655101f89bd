"""What a cell is, in one place: the cells of a frame for every command and metric.

In an integer label image (Cellpose, StarDist, the Cell Tracking Challenge) each label id
is a cell, and touching cells stay apart; in a binary mask or an SDF the cells are the
26-connected components of the foreground. ``describe --per-cell``, ``compare`` and the
per-label preparation all ask :func:`cells`.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from cellshapes.measure.mesh import foreground

__all__ = ["cells", "components"]


def components(fg: np.ndarray) -> tuple[np.ndarray, int]:
    """26-connected components of a foreground (as skimage.measure.label), relabelled
    1..n by decreasing size, ties by centroid (z, then y, then x)."""
    lab, n = ndi.label(fg, structure=np.ones((3, 3, 3), dtype=bool))
    if n <= 1:
        return lab, int(n)
    ids = np.arange(1, n + 1)
    sizes = ndi.sum_labels(np.ones(fg.shape), lab, ids)
    cents = np.asarray(ndi.center_of_mass(fg, lab, ids))
    order = np.lexsort((cents[:, 2], cents[:, 1], cents[:, 0], -sizes))
    rank = np.zeros(n + 1, dtype=lab.dtype)
    rank[ids[order]] = np.arange(1, n + 1)
    return rank[lab], int(n)


def cells(arr: np.ndarray, is_sdf: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """What the cells of one frame are: the one definition every command uses.

    In an integer label image with two or more label ids each label id is a cell, and
    touching labels stay apart. A binary mask (one foreground value, e.g. 0/1 or 0/255)
    or an SDF has no ids: its cells are the 26-connected components of the foreground,
    numbered 1 = largest (:func:`components`).

    Parameters
    ----------
    arr : (Z, Y, X) ndarray
        Labels / mask (foreground > 0) or SDF (inside <= 0).
    is_sdf : bool

    Returns
    -------
    labels : (Z, Y, X) integer ndarray
        0 outside every cell, else the cell's number.
    ids : (n,) ndarray of int
        The cells' numbers, ascending.
    source : {"label", "component"}
        Where the numbers come from.
    """
    if not is_sdf and np.issubdtype(arr.dtype, np.integer):
        ids = np.unique(arr[arr > 0])
        if ids.size > 1:
            return arr, ids.astype(np.int64), "label"
    lab, n = components(foreground(arr, is_sdf))
    return lab, np.arange(1, n + 1), "component"
