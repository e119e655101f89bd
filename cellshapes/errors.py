"""Exception classes of cellshapes.

Every error caused by bad user input derives from :class:`CellshapesError`. The CLI turns
these into a one-line message and exit code 2; anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

__all__ = [
    "CellshapesError",
    "InputError",
    "InputFileNotFoundError",
    "DatasetFormatError",
    "OutputExistsError",
    "CheckpointError",
    "ResourceError",
]


class CellshapesError(Exception):
    """Base class of all expected, user-facing errors."""


class InputError(CellshapesError, ValueError):
    """Input data with the wrong shape, dtype or content (2D image, empty mask, NaN...)."""


class InputFileNotFoundError(CellshapesError, FileNotFoundError):
    """An input path that does not exist or cannot be read."""


class DatasetFormatError(CellshapesError):
    """A file that exists but does not have the expected layout (HDF5, TIFF, run dir)."""


class OutputExistsError(CellshapesError, FileExistsError):
    """An output that already exists and would be overwritten without ``overwrite``."""


class CheckpointError(CellshapesError):
    """A checkpoint that is missing, corrupt, or carries unsafe (pickled) content."""


class ResourceError(CellshapesError, MemoryError):
    """A request that cannot fit in memory or on the device (the message says the estimate)."""
