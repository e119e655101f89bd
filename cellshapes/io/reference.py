"""The reference implementation's per-sequence ``.h5`` files (one dataset ``sdf_vid``).

MATLAB writes ``sdf_vid`` as [T Z Y X] in column-major order; these functions read and
write it so that the arrays are (T, Z, Y, X) in Python.

Units of a reference file
-------------------------
The reference data are 256^3, hold the signed distance in voxels (negative inside) with
the outside clamped at 32 voxels, and divide EACH FRAME by its own max |sdf|. For a cell
deeper than the clamp (inside depth D > 32 voxels) that maximum is D, not 32, so the
stored values of different frames are in different units. The units are recovered from
the clamp: wherever the outside reaches the clamp, the largest positive value ``p`` of a
frame stands for exactly the clamp (``p = 1`` if D <= 32, ``p = 32 / D`` otherwise), so
``values / p`` are distances in units of the clamp (:func:`reference_to_clamp_units`).
A file of another grid size S is read with the clamp at the same fraction of the cube
edge, ``32 (S - 1) / 255`` voxels (:func:`reference_clamp_voxels`; exactly 32 at 256).

A frame whose outside never reaches the clamp (a cell filling its box, or a file written
with another clamp than ``32 (S - 1) / 255``) breaks that rule: its ``p`` is its largest
outside distance. Such a frame is recognised by the slope of the recovered distance near
the surface (a distance changes by one voxel per voxel), and its unit is taken from that
slope instead, with a warning naming the frame and the slope
(:class:`ReferenceUnitsWarning`). Only a frame whose slope is not one per voxel up to a
common factor (its slope changes by more than ``_BEND`` across the band, so it is no
distance at all) raises :class:`~cellshapes.errors.DatasetFormatError`.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from cellshapes.atomic import atomic_path
from cellshapes.errors import DatasetFormatError, InputError
from cellshapes.io.hdf5 import open_h5

__all__ = ["is_reference_sdf", "read_reference_sdf", "write_reference_sdf",
           "reference_clamp_voxels", "reference_to_clamp_units", "clamp_units_to_reference",
           "ReferenceUnitsWarning",
           "REFERENCE_DATASET", "REFERENCE_SIZE", "REFERENCE_CLAMP_VOXELS"]

#: Name of the dataset in a reference file.
REFERENCE_DATASET = "sdf_vid"
#: Grid edge of the reference data.
REFERENCE_SIZE = 256
#: Outside clamp of the reference data, in voxels of their 256^3 grid.
REFERENCE_CLAMP_VOXELS = 32
#: Accepted range of the median |grad sdf| (voxels per voxel) just outside the surface
#: after the units are recovered; a true distance has 1.
_GRADIENT_RANGE = (0.8, 1.25)
#: Largest relative difference between the median slope in the outer and in the inner half
#: of the band outside the surface for which a frame is still read as a distance field.
#: Exported phantoms (growing, dividing, filopodial at 24^3 and 48^3): 0.97-1.03; sign(d) d^2:
#: 1.35, d^3: 1.47, tanh(d / 2): 0.80.
_BEND = 0.1
#: Fewer voxels than this in the band where the gradient is measured: no check.
_MIN_BAND_VOXELS = 50


class ReferenceUnitsWarning(UserWarning):
    """A reference frame's units were taken from its surface slope, not from the clamp."""


def is_reference_sdf(path: str | os.PathLike) -> bool:
    """True if ``path`` is an HDF5 file with a top-level ``sdf_vid`` dataset."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return REFERENCE_DATASET in f
    except (OSError, ValueError):
        return False


def read_reference_sdf(path: str | os.PathLike) -> np.ndarray:
    """Read a reference-implementation ``.h5`` (dataset ``sdf_vid``) as (T, Z, Y, X).

    MATLAB stores the array as [T 256 256 256] in column-major order, so h5py sees the
    axes reversed; this function undoes it with ``transpose(3, 2, 1, 0)`` (a single
    MATLAB frame, 3D, becomes T = 1). Values are kept as stored: negative inside, outside
    clamped at 32 voxels, each frame divided by its max |sdf|.

    Returns
    -------
    (T, Z, Y, X) ndarray of float32

    Raises
    ------
    DatasetFormatError
        Not HDF5, no ``sdf_vid``, wrong rank, or NaN / inf values.
    """
    path = Path(path)
    with open_h5(path) as f:
        if REFERENCE_DATASET not in f:
            raise DatasetFormatError(f"{path} has no '{REFERENCE_DATASET}' dataset "
                                     f"(found: {sorted(f.keys())})")
        try:
            raw = np.asarray(f[REFERENCE_DATASET][...], dtype=np.float32)
        except OSError as exc:
            raise DatasetFormatError(f"{path}: '{REFERENCE_DATASET}' cannot be read ({exc})"
                                     ) from None
    if raw.ndim == 3:
        arr = raw.transpose(2, 1, 0)[None]
    elif raw.ndim == 4:
        arr = raw.transpose(3, 2, 1, 0)
    else:
        raise DatasetFormatError(f"{path}: '{REFERENCE_DATASET}' must be 3D or 4D, got shape "
                                 f"{raw.shape}")
    if not np.all(np.isfinite(arr)):
        raise DatasetFormatError(f"{path}: '{REFERENCE_DATASET}' contains NaN or inf values")
    return np.ascontiguousarray(arr)


def write_reference_sdf(path: str | os.PathLike, sdf: np.ndarray, overwrite: bool = False
                        ) -> Path:
    """Write (T, Z, Y, X) SDF values as a reference-implementation ``sdf_vid`` file.

    The array is stored transposed (``sdf.transpose(3, 2, 1, 0)``) so that MATLAB reads it
    as [T Z Y X] and :func:`read_reference_sdf` returns ``sdf`` unchanged; one frame per
    chunk, gzip. Values are written as given (the caller normalises them).
    """
    import h5py

    a = np.asarray(sdf, dtype=np.float32)
    if a.ndim != 4:
        raise InputError(f"reference sdf must be (T, Z, Y, X), got shape {a.shape}")
    rev = np.ascontiguousarray(a.transpose(3, 2, 1, 0))
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset(REFERENCE_DATASET, data=rev, chunks=rev.shape[:3] + (1,),
                             compression="gzip", compression_opts=4)
    return path


def reference_clamp_voxels(size: int) -> float:
    """Outside clamp of a reference grid of edge ``size``, in its voxels.

    32 voxels at the reference's 256^3; other sizes keep the same fraction of the cube
    edge, ``32 (size - 1) / 255``.
    """
    return REFERENCE_CLAMP_VOXELS * (int(size) - 1) / (REFERENCE_SIZE - 1)


def reference_to_clamp_units(sdf: np.ndarray, where: str = "reference file"
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Undo the per-frame normalisation of reference data: values in units of the clamp.

    Parameters
    ----------
    sdf : (T, S, S, S) array_like
        Stored ``sdf_vid`` values (each frame divided by its max |sdf|), axes (t, z, y, x).
    where : str
        Names the file in error messages.

    Returns
    -------
    sdf : (T, S, S, S) ndarray of float32
        Signed distance / clamp (:func:`reference_clamp_voxels` voxels): 1 where the
        outside is clamped, -D / clamp at the inside depth D.
    peaks : (T,) ndarray of float64
        Largest positive stored value of each frame (1 unless the cell is deeper than the
        clamp, then clamp / D): what each frame was divided by.

    Warns
    -----
    ReferenceUnitsWarning
        A frame whose outside does not reach the clamp (the recovered distance changes by
        other than ``_GRADIENT_RANGE`` voxels per voxel near the surface): its unit is taken
        from the measured slope, and the outside is clamped at the clamp.

    Raises
    ------
    DatasetFormatError
        A frame has no outside (no positive value), or its values are no distance: the
        median slope in the outer half of the band outside the surface differs from the
        one in the inner half by more than ``_BEND`` (10 %).

    Notes
    -----
    See the module docstring for the rule and its failure case. The check is the median
    of |grad| over the voxels 1 to clamp / 2 voxels outside the surface, so it needs a
    cell with some outside at that distance; a frame with fewer than ``_MIN_BAND_VOXELS``
    such voxels is not checked.
    """
    a = np.asarray(sdf, dtype=np.float32)
    if a.ndim != 4 or len(set(a.shape[1:])) != 1:
        raise DatasetFormatError(f"{where}: sdf_vid frames must be cubes, got {a.shape}")
    clamp = reference_clamp_voxels(a.shape[1])
    out = np.empty_like(a)
    peaks = np.empty(a.shape[0])
    for t, frame in enumerate(a):
        peak = float(frame.max())
        if peak <= 0:
            raise DatasetFormatError(f"{where}: frame {t} has no outside (no positive sdf "
                                     "value), so the clamp that fixes its units is missing")
        peaks[t] = peak
        out[t] = frame / peak
        slope = _surface_gradient(out[t] * clamp, clamp)
        if slope is None:
            continue
        ratio, bend = slope
        if bend is not None and abs(bend - 1.0) > _BEND:
            raise DatasetFormatError(
                f"{where}: frame {t} is no distance field: its slope farther from the surface "
                f"is {bend:.2f} times the slope nearer to it (a distance has one slope), so "
                "its units cannot be recovered")
        if not _GRADIENT_RANGE[0] <= ratio <= _GRADIENT_RANGE[1]:
            warnings.warn(
                f"{where}: frame {t} does not reach the {clamp:.3g}-voxel outside clamp (its "
                f"distance changes by {ratio:.3f} voxels per voxel near the surface); units "
                f"from that slope: its largest stored value is {clamp / ratio:.3g} voxels",
                ReferenceUnitsWarning, stacklevel=2)
            out[t] = np.minimum(out[t] / ratio, 1.0)
            peaks[t] = peak * ratio
    return out, peaks


def _surface_gradient(dist_vox: np.ndarray, clamp: float) -> tuple[float, float | None] | None:
    """Median |grad| of a (S, S, S) distance in voxels, 1 to clamp / 2 voxels outside,
    and the ratio of its median over the outer half of that band to the inner half (1 for a
    distance, whatever its unit; None if a half has too few voxels); None if fewer than
    ``_MIN_BAND_VOXELS`` voxels lie in the band."""
    band = (dist_vox >= 1.0) & (dist_vox <= clamp / 2)
    if band.sum() < _MIN_BAND_VOXELS:
        return None
    g2 = np.zeros(dist_vox.shape, np.float64)
    for axis in range(3):
        g2 += np.gradient(dist_vox, axis=axis).astype(np.float64) ** 2
    g = np.sqrt(g2)
    split = 1.0 + (clamp / 2 - 1.0) / 2
    inner, outer = band & (dist_vox <= split), band & (dist_vox > split)
    ratio = None
    if inner.sum() >= _MIN_BAND_VOXELS and outer.sum() >= _MIN_BAND_VOXELS:
        ratio = float(np.median(g[outer]) / np.median(g[inner]))
    return float(np.median(g[band])), ratio


def clamp_units_to_reference(sdf: np.ndarray) -> np.ndarray:
    """Clamp-unit SDF (T, S, S, S) -> reference values: clamped at 1 (the clamp), then each
    frame divided by its max |sdf|, as the reference data are stored (float32)."""
    a = np.minimum(np.asarray(sdf, dtype=np.float32), 1.0)
    peak = np.abs(a).reshape(a.shape[0], -1).max(axis=1)
    return (a / np.where(peak > 0, peak, 1.0)[:, None, None, None]).astype(np.float32)
