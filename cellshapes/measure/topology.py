"""Topology of a reconstruction: connected components, islands, connected protrusions.

DSC, sphericity and the plain protrusion recall barely see a filopodium broken into
floating fragments: the fragments overlap the true filopodium and lie near its skeleton.
These measures see it:

* ``components``: 26-connected components of the shape's foreground (one per cell of a
  correct reconstruction);
* ``island_fraction``: the share of the shape's foreground volume outside the
  component(s) that match a true cell. For every true cell (:func:`cellshapes.measure.
  cells.cells`) the matching component is the one that overlaps it most; everything else
  (loose fragments, debris) is island;
* ``connected_protrusion_recall``: :func:`~cellshapes.measure.protrusion.protrusion_recall`
  against the matching components only, so a filopodium counts as rebuilt only where it
  is attached to the body it belongs to.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from cellshapes.errors import InputError
from cellshapes.measure.cells import cells, components
from cellshapes.measure.protrusion import protrusion_recall
from cellshapes.units import SpacingLike

__all__ = ["matched_foreground", "topology_scores", "largest_component_share", "whole_sequence",
           "drop_islands"]


def matched_foreground(truth: Any, other: Any) -> tuple[np.ndarray, int]:
    """The components of ``other`` that match a true cell, and the number of components.

    Parameters
    ----------
    truth : (Z, Y, X) array
        True cells: a label image (each label id a cell) or a binary mask (each
        26-connected component a cell); foreground > 0.
    other : (Z, Y, X) bool array
        Foreground of the shape to score.

    Returns
    -------
    matched : (Z, Y, X) bool array
        Union of the components of ``other`` that overlap some true cell most.
    n_components : int
        26-connected components of ``other``.
    """
    t = np.asarray(truth)
    o = np.asarray(other, dtype=bool)
    if t.shape != o.shape:
        raise InputError(f"truth and other differ in shape: {t.shape} and {o.shape}")
    lab, n = components(o)
    if n == 0:
        return np.zeros_like(o), 0
    true_lab, ids, _ = cells(t if np.issubdtype(t.dtype, np.integer) else t > 0, False)
    keep = np.zeros(n + 1, dtype=bool)
    for k in ids:
        hit = lab[(true_lab == k) & o]
        if hit.size:
            keep[np.bincount(hit, minlength=n + 1)[1:].argmax() + 1] = True
    return keep[lab], n


def topology_scores(truth: Any, other: Any, spacing: SpacingLike | None = (1.0, 1.0, 1.0),
                    tolerance_um: float | None = None,
                    body_radius_um: float | None = None) -> dict[str, float]:
    """``components``, ``island_fraction`` and ``connected_protrusion_recall`` (module notes).

    Parameters
    ----------
    truth : (Z, Y, X) array
        True mask or label image (foreground > 0).
    other : (Z, Y, X) bool array
        Foreground of the shape to score.
    spacing, tolerance_um, body_radius_um
        As for :func:`cellshapes.measure.protrusion.protrusion_recall`.

    Returns
    -------
    dict
        ``components`` (int as float), ``island_fraction`` in [0, 1] (0 for an empty
        shape), ``connected_protrusion_recall`` in [0, 1] or NaN (no true protrusion).
    """
    o = np.asarray(other, dtype=bool)
    matched, n = matched_foreground(truth, o)
    size = int(o.sum())
    islands = 0.0 if size == 0 else 1.0 - float(matched.sum()) / size
    recall = protrusion_recall(np.asarray(truth) > 0, matched, spacing,
                               tolerance_um=tolerance_um, body_radius_um=body_radius_um)
    return {"components": float(n), "island_fraction": islands,
            "connected_protrusion_recall": recall}


def largest_component_share(mask: Any, keep: int = 1) -> dict[str, float]:
    """Topology of a shape without a truth (a synthesized cell).

    Parameters
    ----------
    mask : (Z, Y, X) bool array
    keep : int
        How many cells the shape should have (2 for a divided cell): the ``keep``
        largest 26-connected components are the cells, the rest is island.

    Returns
    -------
    dict
        ``components`` (number of 26-connected components) and ``island_fraction`` (share
        of the foreground outside the ``keep`` largest; 0 for an empty mask).
    """
    if int(keep) < 1:
        raise InputError(f"keep must be >= 1, got {keep!r}")
    m = np.asarray(mask, dtype=bool)
    lab, n = components(m)
    size = int(m.sum())
    kept = int(((lab >= 1) & (lab <= int(keep))).sum())  # 1 = largest (cells.components)
    return {"components": float(n),
            "island_fraction": 0.0 if size == 0 else 1.0 - kept / size}


def whole_sequence(masks: Any, keep: int = 1, max_island: float = 0.01) -> tuple[bool, float]:
    """Is a shape sequence without a truth (synthesized, decoded) whole cells throughout?

    Parameters
    ----------
    masks : (T, Z, Y, X) bool array
    keep : int
        Cells per frame (:func:`largest_component_share`; 2 for a divided cell).
    max_island : float
        Largest share of a frame's foreground allowed outside its ``keep`` cells.

    Returns
    -------
    whole : bool
        No frame is empty and every frame's island fraction is below ``max_island``.
    worst : float
        The largest island fraction over the frames.
    """
    m = np.asarray(masks, dtype=bool)
    worst = max(largest_component_share(f, keep=keep)["island_fraction"] for f in m)
    return bool(m.reshape(len(m), -1).any(axis=1).all() and worst < max_island), float(worst)


def drop_islands(mask: Any, min_voxels: int) -> np.ndarray:
    """``mask`` without its 26-connected components smaller than ``min_voxels``.

    For synthesis only, off by default and stated where used: no reported number is
    computed on a cleaned shape.
    """
    m = np.asarray(mask, dtype=bool)
    lab, n = ndi.label(m, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return m
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    keep = sizes >= int(min_voxels)
    keep[0] = False
    return keep[lab]
