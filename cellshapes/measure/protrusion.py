"""Protrusion recall: how much of the true cell's protrusions another shape rebuilds.

Filopodia are thin, so they barely move the DSC or the sphericity of a cell; the paper's
claims about them (w0, sine vs ReLU) need a measure of the protrusions themselves.

Definition
----------
1. Cell body: the morphological opening of the true mask with a ball of radius
   ``body_radius_um`` (the union of all such balls that fit inside the cell). Parts
   thinner than the ball (protrusions) are not in it; the body of a round cell is.
   Default: half the radius of the sphere of the cell's volume, which keeps a body of
   any size and drops anything thinner than that; pass a radius in um for a fixed scale
   (larger than the thickest protrusion's radius, smaller than the body's).
2. Protrusion skeleton: the 3D skeleton of the true mask (``skimage.morphology.
   skeletonize``, Lee et al. 1994, computed on the voxel grid) without its voxels that
   lie within ``tolerance_um`` of the body. Removing the band of width ``tolerance``
   around the body (rather than only the body) keeps the base of each protrusion from
   counting: a shape that has the body and no protrusion then gets 0, not tolerance /
   length.
3. Length: each connected piece of the protrusion skeleton is a graph of 26-neighbour
   voxels; its length in um is the total edge length of a minimum spanning tree (edges
   weighted by their length in um), which follows the skeleton without counting the
   small triangles of a digital line twice. Each voxel carries half of its tree edges.
4. Recall: the share of that length whose voxels lie within ``tolerance_um`` of the other
   shape's foreground (Euclidean distance transform of the other shape in um; inside is
   distance 0). NaN when the true cell has no protrusion skeleton.

Openings and distances use Euclidean distance transforms with the voxel spacing, so
balls are round in um on anisotropic grids; the skeleton itself is taken on the voxel
grid (skimage has no anisotropic skeleton), which is adequate while voxels are at most
~2x longer along one axis.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from cellshapes.errors import InputError
from cellshapes.measure.surface import check_tolerance
from cellshapes.units import SpacingLike, check_spacing

__all__ = ["cell_body", "default_body_radius", "protrusion_skeleton", "skeleton_lengths",
           "protrusion_recall"]

_UNIT_SPACING = (1.0, 1.0, 1.0)
#: Half of the 26 neighbour offsets: each undirected edge is found once.
_HALF_OFFSETS = [o for o in np.ndindex(3, 3, 3) if (np.array(o) - 1).tolist() > [0, 0, 0]]


def _as_mask(mask: Any, what: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 3:
        raise InputError(f"{what} must be a 3D (Z, Y, X) mask, got shape {m.shape}")
    if m.dtype.kind == "f" and not np.all(np.isfinite(m)):
        raise InputError(f"{what} contains NaN or infinite values")
    return m > 0 if m.dtype != bool else m


def _distance_to(fg: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """Distance (um) of every voxel to the nearest voxel of ``fg`` (0 on it)."""
    if not fg.any():
        return np.full(fg.shape, np.inf)
    return ndi.distance_transform_edt(~fg, sampling=sp)


def default_body_radius(mask: np.ndarray, spacing: SpacingLike) -> float:
    """Half the equivalent-sphere radius of a mask, (3 V / 4 pi)^(1/3) / 2, in um."""
    sp = check_spacing(spacing)
    vol = float(np.count_nonzero(mask)) * float(np.prod(sp))
    return 0.5 * (3.0 * vol / (4.0 * np.pi)) ** (1.0 / 3.0)


def cell_body(mask: Any, spacing: SpacingLike | None = _UNIT_SPACING,
              body_radius_um: float | None = None) -> np.ndarray:
    """Opening of a mask with a ball of radius ``body_radius_um`` (module notes, 1).

    Parameters
    ----------
    mask : array_like, shape (Z, Y, X)
        Foreground > 0.
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.
    body_radius_um : float, optional
        Ball radius in um (> 0); default :func:`default_body_radius`.

    Returns
    -------
    ndarray, shape (Z, Y, X), bool
    """
    fg = _as_mask(mask, "mask")
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    r = default_body_radius(fg, sp) if body_radius_um is None else float(body_radius_um)
    if not (np.isfinite(r) and r > 0):
        raise InputError(f"body radius must be a positive number of um, got {body_radius_um}")
    # erosion by the ball: voxels farther than r from the background (padded, so the
    # volume border counts as background); dilation of that by the same ball
    inner = ndi.distance_transform_edt(np.pad(fg, 1), sampling=sp)[1:-1, 1:-1, 1:-1] > r
    return _distance_to(inner, sp) <= r


def protrusion_skeleton(mask: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                        body_radius_um: float | None = None,
                        tolerance_um: float = 1.0) -> np.ndarray:
    """Skeleton voxels of the mask farther than ``tolerance_um`` from its body.

    Parameters
    ----------
    mask, spacing, body_radius_um
        As for :func:`cell_body`.
    tolerance_um : float
        Width (um, >= 0) of the band around the body whose skeleton is left out.

    Returns
    -------
    ndarray, shape (Z, Y, X), bool
    """
    from skimage.morphology import skeletonize

    fg = _as_mask(mask, "mask")
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    body = cell_body(fg, sp, body_radius_um)
    skel = skeletonize(np.pad(fg, 1))[1:-1, 1:-1, 1:-1] > 0
    return skel & (_distance_to(body, sp) > float(tolerance_um))


def skeleton_lengths(skeleton: np.ndarray, spacing: SpacingLike | None = _UNIT_SPACING
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Length in um carried by each skeleton voxel (module notes, 3).

    Parameters
    ----------
    skeleton : ndarray, shape (Z, Y, X), bool
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.

    Returns
    -------
    coords : ndarray, shape (N, 3), int
        Voxel indices of the skeleton, in ``np.argwhere`` order.
    length : ndarray, shape (N,), float
        Half the length of the spanning-tree edges at each voxel; sums to the tree length.
    """
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    coords = np.argwhere(skeleton)
    n = len(coords)
    if n < 2:
        return coords, np.zeros(n)
    index = np.full(np.array(skeleton.shape) + 2, -1, dtype=np.int64)
    index[tuple((coords + 1).T)] = np.arange(n)
    rows, cols, lens = [], [], []
    for off in _HALF_OFFSETS:
        step = np.array(off) - 1
        j = index[tuple((coords + 1 + step).T)]
        ok = j >= 0
        rows.append(np.nonzero(ok)[0])
        cols.append(j[ok])
        lens.append(np.full(int(ok.sum()), float(np.linalg.norm(step * sp))))
    graph = coo_matrix((np.concatenate(lens), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(n, n))
    tree = minimum_spanning_tree(graph).tocoo()
    length = np.zeros(n)
    np.add.at(length, tree.row, tree.data / 2)
    np.add.at(length, tree.col, tree.data / 2)
    return coords, length


def protrusion_recall(truth: Any, other: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                      tolerance_um: float | None = None,
                      body_radius_um: float | None = None) -> float:
    """Share of the true protrusion skeleton length within ``tolerance_um`` of ``other``.

    A rebuilt cell that keeps its body but smooths its filopodia away scores near 0,
    whatever its DSC; one that keeps them scores near 1 (see the module notes).

    Parameters
    ----------
    truth, other : array_like, shape (Z, Y, X)
        Masks (foreground > 0) on the same grid; SDFs must be turned into masks first
        (``sdf <= 0``).
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.
    tolerance_um : float, optional
        Tolerance in um (>= 0); default one voxel diagonal, sqrt(dz^2 + dy^2 + dx^2)
        (:func:`cellshapes.measure.surface.default_tolerance`).
    body_radius_um : float, optional
        Cell-body scale (:func:`cell_body`); default half the equivalent-sphere radius.

    Returns
    -------
    float
        In [0, 1]; NaN when the truth has no protrusion skeleton (module notes).

    Raises
    ------
    InputError
        Not 3D, shapes differ, empty truth, bad spacing, tolerance or body radius.
    """
    t, o = _as_mask(truth, "truth"), _as_mask(other, "other")
    if t.shape != o.shape:
        raise InputError(f"truth and other differ in shape: {t.shape} and {o.shape}")
    if not t.any():
        raise InputError("truth is empty (no foreground voxels)")
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    tol = check_tolerance(tolerance_um, sp)
    coords, length = skeleton_lengths(protrusion_skeleton(t, sp, body_radius_um, tol), sp)
    total = float(length.sum())
    if total <= 0:
        return float("nan")
    near = _distance_to(o, sp)[tuple(coords.T)] <= tol
    return float(length[near].sum() / total)


def attached_protrusions(mask: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                         tolerance_um: float | None = None,
                         body_radius_um: float | None = None,
                         min_length_um: float | None = None) -> dict[str, Any]:
    """Number and length of the protrusions attached to a cell's body, without a truth.

    The protrusion skeleton (module notes, 1-3) is split into 26-connected pieces; a piece
    is a protrusion when it is at least ``min_length_um`` long, and *attached* when it
    lies in the same 26-connected component of the mask as the largest part of the cell
    body. A floating island is thinner than the body ball, so its skeleton is protrusion
    skeleton too, but it is not attached and does not count.

    Parameters
    ----------
    mask : array_like, shape (Z, Y, X)
        Foreground > 0 (one cell; an SDF must be turned into ``sdf <= 0`` first).
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.
    tolerance_um : float, optional
        Band around the body left out of the skeleton; default one voxel diagonal.
    body_radius_um : float, optional
        Cell-body scale (:func:`cell_body`).
    min_length_um : float, optional
        Shortest piece counted; default two voxel diagonals.

    Returns
    -------
    dict
        ``count`` and ``length_um`` (total) of the attached protrusions, ``lengths_um``
        (list, one per attached protrusion, longest first), ``detached_length_um``
        (protrusion skeleton outside the body's component). All 0 for an empty mask.
    """
    from cellshapes.measure.cells import components

    fg = _as_mask(mask, "mask")
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    tol = check_tolerance(tolerance_um, sp)
    shortest = 2.0 * float(np.linalg.norm(sp)) if min_length_um is None else float(min_length_um)
    empty = {"count": 0, "length_um": 0.0, "lengths_um": [], "detached_length_um": 0.0}
    if not fg.any():
        return empty
    lab, _ = components(fg)
    body = cell_body(fg, sp, body_radius_um)
    body_ids = lab[body & (lab > 0)]
    home = int(np.bincount(body_ids).argmax()) if body_ids.size else 1
    skel = protrusion_skeleton(fg, sp, body_radius_um, tol)
    pieces, n = ndi.label(skel, structure=np.ones((3, 3, 3), dtype=bool))
    coords, length = skeleton_lengths(skel, sp)
    piece_of = pieces[tuple(coords.T)]
    per_piece = np.bincount(piece_of, weights=length, minlength=n + 1)
    attached, detached = [], 0.0
    for p in range(1, n + 1):
        at = coords[piece_of == p][0]
        if lab[tuple(at)] == home:
            if per_piece[p] >= shortest:
                attached.append(float(per_piece[p]))
        else:
            detached += float(per_piece[p])
    attached.sort(reverse=True)
    return {"count": len(attached), "length_um": float(sum(attached)),
            "lengths_um": attached, "detached_length_um": detached}
