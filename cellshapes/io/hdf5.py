"""Opening HDF5 files with one-line errors (shared by the dataset and reference formats)."""
from __future__ import annotations

import os
from pathlib import Path

from cellshapes.errors import DatasetFormatError, InputFileNotFoundError

__all__ = ["open_h5"]


def open_h5(path: str | os.PathLike):
    """Open an HDF5 file read-only, turning a missing or unreadable file into one line.

    Parameters
    ----------
    path : path-like
        An HDF5 file.

    Returns
    -------
    h5py.File
        Open in mode ``"r"``; use it as a context manager.

    Raises
    ------
    InputFileNotFoundError
        ``path`` does not exist.
    DatasetFormatError
        ``path`` is a folder, truncated, or not HDF5.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"dataset {path} does not exist")
    if path.is_dir():
        raise DatasetFormatError(f"{path} is a folder, expected an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        reason = str(exc).split("(")[0].strip() or type(exc).__name__
        raise DatasetFormatError(f"{path} is not a readable HDF5 file (truncated or another "
                                 f"format: {reason})") from None
