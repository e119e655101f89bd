"""The training set of the shape model: SDF sequences of a prepared dataset.

Evaluation and shape fitting read every volume into memory (:func:`load_training_data`).
Training reads it lazily (``lazy=True``): each sequence is a :class:`FrameReader` that
reads one (S, S, S) frame per access from the HDF5 file (one chunk of the prepared
layout), so the sampler can fill its device tensor frame by frame and the host never
holds more than one float32 frame of the dataset (paper scale: 64 MiB instead of 65 GB).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cellshapes.errors import DatasetFormatError, InputError

__all__ = ["TrainingData", "FrameReader", "load_training_data"]


@dataclass
class TrainingData:
    """SDF sequences and their metadata, as read from a prepared dataset.

    Attributes
    ----------
    names : list of str
        Sequence names, one per sequence.
    volumes : list of (T, S, S, S) float32 arrays or :class:`FrameReader`
        Signed distance per voxel of each frame, in SDF units (``sdf_unit_um`` um),
        negative inside the cell; T may differ between sequences, S may not.
        ``volumes[i][k]`` is frame k of sequence i as an (S, S, S) float32 array either way.
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


class FrameReader:
    """One sequence's (T, S, S, S) SDF, read from the dataset one frame per access.

    Parameters
    ----------
    path : path-like
        Prepared dataset (HDF5).
    name : str
        The sequence's group; its ``sdf`` dataset has shape ``shape``.
    shape : tuple of int
        (T, S, S, S).

    Notes
    -----
    The file is opened for each access, so a reader holds no handle between reads and
    can be pickled. Prepared datasets are chunked (1, S, S, S): a frame is one chunk,
    decompressed straight into the returned array.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, path: str | os.PathLike, name: str, shape: tuple[int, ...]) -> None:
        self.path, self.name, self.shape = str(path), name, tuple(int(n) for n in shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, k: int) -> np.ndarray:
        """Frame ``k`` as an (S, S, S) float32 array (a new array per call).

        Raises
        ------
        DatasetFormatError
            The frame cannot be read, or holds NaN or inf.
        """
        from cellshapes.io.hdf5 import open_h5

        k = int(k)
        if not -len(self) <= k < len(self):
            raise IndexError(f"frame {k} of {len(self)}")
        k %= len(self)
        out = np.empty(self.shape[1:], np.float32)
        with open_h5(self.path) as f:
            try:
                f[self.name]["sdf"].read_direct(out, np.s_[k])
            except OSError as exc:
                raise DatasetFormatError(f"{self.path}: /{self.name}/sdf frame {k} cannot be "
                                         f"read (truncated or corrupt: {exc})") from None
        if not np.isfinite(out).all():
            raise DatasetFormatError(f"{self.path}: /{self.name}/sdf frame {k} contains NaN "
                                     "or inf values")
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """All frames, (T, S, S, S) (reads the whole sequence)."""
        out = np.stack([self[k] for k in range(len(self))])
        return out if dtype is None else out.astype(dtype, copy=False)


def load_training_data(path: str | os.PathLike, lazy: bool = False) -> TrainingData:
    """Read a prepared dataset (see docs/contracts.md) for training.

    Parameters
    ----------
    path : path-like
        HDF5 file written by ``cellshapes prepare`` or ``cellshapes phantoms``.
    lazy : bool
        Check the layout and read the attributes only; each sequence's volumes are a
        :class:`FrameReader` that reads a frame when indexed (NaN / inf are found then).

    Returns
    -------
    TrainingData
        Every sequence's SDF as (T, S, S, S) float32 (or its reader), with its attributes.

    Raises
    ------
    InputError
        The file holds no sequences.
    DatasetFormatError
        Not a prepared dataset (and, unless ``lazy``, NaN / inf values).
    """
    from cellshapes.io import dataset_info, read_dataset

    if lazy:
        info = dataset_info(path)
        if not info:
            raise InputError(f"{path} holds no sequences")
        return TrainingData([d["name"] for d in info],
                            [FrameReader(path, d["name"], d["shape"]) for d in info],
                            [dict(d["attrs"]) for d in info], str(path))
    seqs = read_dataset(path)
    if not seqs:
        raise InputError(f"{path} holds no sequences")
    return TrainingData([s.name for s in seqs], [np.asarray(s.sdf, np.float32) for s in seqs],
                        [dict(s.attrs) for s in seqs], str(path))
