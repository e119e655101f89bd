"""The reference implementation's per-sequence ``.h5`` files (one dataset ``sdf_vid``).

MATLAB writes ``sdf_vid`` as [T Z Y X] in column-major order; these functions read and
write it so that the arrays are (T, Z, Y, X) in Python.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import DatasetFormatError, InputError
from .hdf5 import open_h5

__all__ = ["is_reference_sdf", "read_reference_sdf", "write_reference_sdf",
           "REFERENCE_DATASET"]

#: Name of the dataset in a reference file.
REFERENCE_DATASET = "sdf_vid"


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
