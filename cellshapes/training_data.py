"""The training set of the shape model: SDF sequences of a prepared dataset in memory.

Read once by :func:`cellshapes.train.train`, and by evaluation and shape fitting, which
compare the model with the same volumes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["TrainingData", "load_training_data"]


@dataclass
class TrainingData:
    """SDF sequences and their metadata, as read from a prepared dataset.

    Attributes
    ----------
    names : list of str
        Sequence names, one per sequence.
    volumes : list of (T, S, S, S) float32 arrays
        Signed distance per voxel of each frame, in SDF units (``sdf_unit_um`` um),
        negative inside the cell; T may differ between sequences, S may not.
    attrs : list of dict
        Per-sequence attributes (``voxel_um``, ``scale_um``, ``sdf_unit_um``, ...).
    path : str
        The dataset file they were read from.
    """

    names: list[str]
    volumes: list[np.ndarray]
    attrs: list[dict[str, Any]]
    path: str

    def band(self, i: int, near_surface_um: float) -> float:
        """Near-surface band of sequence ``i`` in SDF units (at least 1.5 voxels wide).

        Parameters
        ----------
        i : int
            Sequence index.
        near_surface_um : float
            Requested half-width of the band, um.

        Returns
        -------
        float
            Half-width in SDF units: ``max(near_surface_um, 1.5 voxels) / sdf_unit_um``.
        """
        a = self.attrs[i]
        unit = float(a.get("sdf_unit_um", 1.0))
        voxel = float(a.get("voxel_um", 2.0 * float(a.get("scale_um", 1.0)) / (self.size - 1)))
        return max(near_surface_um, 1.5 * voxel) / unit

    @property
    def size(self) -> int:
        """Grid edge S of every volume, voxels."""
        return int(self.volumes[0].shape[-1])

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable description stored in a run's ``config.json`` (``data``)."""
        keep = ("spacing_um", "scale_um", "voxel_um", "sdf_unit_um", "cell_type", "source")
        return {
            "path": str(Path(self.path).resolve()),
            "names": self.names,
            "frames": [int(v.shape[0]) for v in self.volumes],
            "size": self.size,
            "attrs": [{k: _plain(a[k]) for k in keep if k in a} for a in self.attrs],
        }


def _plain(value: Any) -> Any:
    """A JSON-serialisable Python value for an HDF5 attribute (array, numpy scalar, bytes)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value


def load_training_data(path: str | os.PathLike) -> TrainingData:
    """Read a prepared dataset (see docs/contracts.md) for training.

    Parameters
    ----------
    path : path-like
        HDF5 file written by ``cellshapes prepare`` or ``cellshapes phantoms``.

    Returns
    -------
    TrainingData
        Every sequence's SDF as (T, S, S, S) float32, with its attributes.

    Raises
    ------
    InputError
        The file holds no sequences.
    """
    from .io import read_dataset

    seqs = read_dataset(path)
    if not seqs:
        raise InputError(f"{path} holds no sequences")
    return TrainingData([s.name for s in seqs], [np.asarray(s.sdf, np.float32) for s in seqs],
                        [dict(s.attrs) for s in seqs], str(path))
