"""Whether an equivariant model learned the rotations: recovery of applied rotations.

Convention (the decoder sees R^T x, Sec 3.5; :meth:`cellshapes.model.AutoDecoder.forward`).
Copy a of a shape S is S turned by the applied rotation A_a: sdf_a(x) = S(A_a^T x)
(:func:`cellshapes.latent.random_rotation_dataset`, :func:`cellshapes.cube.
rotate_sdf_sequence`; matrices act on (z, y, x) vectors about the cube centre). A model
with learned rotation R_a and a code shared by the copies rebuilds copy a as
D(R_a^T x). If all copies share one decoder shape D(y) = S(Q^T y) in some canonical
frame Q, then R_a = A_a Q^T for every copy, and the unknown Q cancels in the relative
rotation of two copies:

    R_b R_a^T = A_b A_a^T.

:func:`relative_rotation_errors` reports the geodesic angle between the two sides for
every pair of copies of one shape. A symmetric shape (a sphere, a capsule turned about
its axis) leaves its rotation undefined, so :func:`turned_dsc` also checks the shapes:
copy a's reconstruction turned by the learned relative rotation into copy b's frame,
against copy b's truth; that is high for any rotation that maps the shape onto itself.
"""
from __future__ import annotations

from itertools import combinations
from typing import Any, Sequence

import numpy as np

from cellshapes.errors import InputError

__all__ = ["geodesic_deg", "relative_rotation_errors", "turned_dsc"]


def _rotations(r: Any, what: str) -> np.ndarray:
    m = np.asarray(r, dtype=np.float64)
    if m.ndim < 2 or m.shape[-2:] != (3, 3):
        raise InputError(f"{what} must be (..., 3, 3) rotation matrices, got shape {m.shape}")
    eye = np.broadcast_to(np.eye(3), m.shape)
    if not (np.allclose(m @ np.swapaxes(m, -1, -2), eye, atol=1e-4)
            and np.allclose(np.linalg.det(m), 1.0, atol=1e-4)):
        raise InputError(f"{what} are not all rotations (R R^T = I, det R = 1)")
    return m


def geodesic_deg(r1: Any, r2: Any) -> np.ndarray:
    """Angle in degrees of the rotation that takes ``r1`` to ``r2`` (both (..., 3, 3)):
    arccos((tr(r1^T r2) - 1) / 2), in [0, 180]."""
    a, b = _rotations(r1, "r1"), _rotations(r2, "r2")
    tr = np.einsum("...ji,...ji->...", a, b)  # trace of a^T b
    return np.degrees(np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0)))


def relative_rotation_errors(learned: Any, applied: Any, groups: Sequence[Any]
                             ) -> list[dict[str, Any]]:
    """Error of the learned relative rotation of every pair of copies of one shape.

    Parameters
    ----------
    learned : (N, 3, 3) array
        The model's rotation of each training sequence (``AutoDecoder.rotations``).
    applied : (N, 3, 3) array
        The rotation each sequence was turned by (the ``rotation`` attribute written by
        :func:`cellshapes.latent.random_rotation_dataset`).
    groups : sequence of length N
        Which shape each sequence is a copy of (``source_sequence``).

    Returns
    -------
    list of dict
        One per pair (a < b) within a group: ``group``, ``a``, ``b`` (sequence indices),
        ``error_deg`` (geodesic angle between R_b R_a^T and A_b A_a^T) and
        ``applied_deg`` (the angle of A_b A_a^T itself, what a model that learned nothing
        would be off by).
    """
    r, a = _rotations(learned, "learned"), _rotations(applied, "applied")
    if not (len(r) == len(a) == len(groups)):
        raise InputError(f"learned ({len(r)}), applied ({len(a)}) and groups "
                         f"({len(groups)}) must have one entry per sequence")
    rows = []
    for g in dict.fromkeys(groups):
        members = [i for i, x in enumerate(groups) if x == g]
        for i, j in combinations(members, 2):
            rel_learned = r[j] @ r[i].T
            rel_applied = a[j] @ a[i].T
            rows.append({"group": g, "a": i, "b": j,
                         "error_deg": float(geodesic_deg(rel_learned, rel_applied)),
                         "applied_deg": float(geodesic_deg(np.eye(3), rel_applied))})
    return rows


def turned_dsc(rec_a: Any, truth_b: Any, relative: Any) -> float:
    """DSC of copy a's reconstruction turned by ``relative`` against copy b's truth.

    Parameters
    ----------
    rec_a, truth_b : (S, S, S) array
        SDFs on the same cube (negative inside).
    relative : (3, 3) array
        The rotation to turn ``rec_a`` by, about the cube centre: R_b R_a^T (learned) or
        A_b A_a^T (applied, the reference).

    Returns
    -------
    float
        Voxel DSC of the masks (sdf <= 0).
    """
    from cellshapes.cube import rotate_sdf_sequence
    from cellshapes.measure.metrics import dice

    ra = np.asarray(rec_a, dtype=np.float32)
    tb = np.asarray(truth_b, dtype=np.float32)
    if ra.ndim != 3 or ra.shape != tb.shape:
        raise InputError(f"rec_a and truth_b must be (S, S, S) on one grid, got {ra.shape} "
                         f"and {tb.shape}")
    clamp = max(float(ra.max()), 1e-6)
    turned = rotate_sdf_sequence(ra[None], _rotations(relative, "relative"), clamp)[0]
    return float(dice(turned <= 0, tb <= 0))
