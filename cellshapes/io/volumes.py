"""Any input cellshapes measures or meshes, as (T, Z, Y, X) volumes with a spacing.

One reader for ``cellshapes describe`` (:func:`cellshapes.measure.metrics.describe_path`) and
``cellshapes mesh`` (:func:`cellshapes.io.meshes.mesh_path`): mask files, prepared datasets
and reference ``sdf_vid`` files, each returned with the spacing to measure it at and
whether it holds masks or SDFs.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cellshapes.errors import DatasetFormatError
from cellshapes.io.dataset import dataset_info, read_dataset
from cellshapes.io.masks import read_masks
from cellshapes.io.reference import is_reference_sdf, read_reference_sdf
from cellshapes.units import SpacingLike, check_spacing

__all__ = ["VolumeSequence", "load_volumes"]

_DATASET_SUFFIXES = (".h5", ".hdf5")
_UNIT_SPACING = (1.0, 1.0, 1.0)


class VolumeSequence(NamedTuple):
    """One sequence of a file, ready to measure.

    Attributes
    ----------
    name : str
        Group name of a prepared dataset, else the file stem (folder name for a folder).
    volumes : (T, Z, Y, X) ndarray
        Integer masks / labels (0 = background) or float32 SDFs (negative inside).
    spacing : (3,) ndarray of float64
        Voxel size (dz, dy, dx) in um.
    is_sdf : bool
        True for SDFs (contoured at 0), False for masks.
    """

    name: str
    volumes: np.ndarray
    spacing: np.ndarray
    is_sdf: bool


def load_volumes(path: str | os.PathLike, spacing: SpacingLike | None = None,
                 first_only: bool = False, axes: str | None = None,
                 channel: int | None = None) -> list[VolumeSequence]:
    """Read masks, a prepared dataset or a reference file as volume sequences.

    Parameters
    ----------
    path : path-like
        Mask TIFF (3D or 3D+t), folder of per-frame TIFFs, ``.npy`` (all read with
        :func:`cellshapes.io.read_masks`), a prepared dataset ``.h5`` / ``.hdf5`` or a
        reference-implementation ``sdf_vid`` ``.h5``.
    spacing : length-3 sequence of float, optional
        Voxel size (dz, dy, dx) in um; overrides the file (a mask file whose own spacing
        differs gets a warning). Default: the masks' ``spacing_um`` metadata (ImageJ or
        OME-TIFF), a prepared dataset's isotropic grid spacing ``voxel_um``,
        else (1, 1, 1) (a reference file carries no spacing).
    first_only : bool
        Read only the first sequence (in sorted group order) of a prepared dataset.
    axes, channel : str, int, optional
        The masks' real axes and channel (``--axes``, ``--channel``), overriding the file's
        metadata (:func:`cellshapes.io.read_masks`).

    Returns
    -------
    list of VolumeSequence
        One per sequence: a single one for masks and reference files.

    Raises
    ------
    InputFileNotFoundError, DatasetFormatError, InputError
        From the readers; :class:`InputError` also for a bad ``spacing``, and
        :class:`DatasetFormatError` for a dataset without sequences.
    """
    path = Path(path)
    user_sp = None if spacing is None else check_spacing(spacing)
    suffix = path.suffix.lower()
    if suffix in _DATASET_SUFFIXES and path.is_file() and is_reference_sdf(path):
        sp = check_spacing(user_sp, default=_UNIT_SPACING)
        return [VolumeSequence(path.stem, read_reference_sdf(path), sp, True)]
    if suffix in _DATASET_SUFFIXES:
        names = [d["name"] for d in dataset_info(path)][:1] if first_only else None
        seqs = read_dataset(path, names=names)  # float32, finite: checked by the reader
        if not seqs:
            raise DatasetFormatError(f"{path} holds no sequences")
        out = []
        for seq in seqs:
            vox = seq.attrs.get("voxel_um")
            grid = _UNIT_SPACING if vox is None else [float(vox)] * 3
            out.append(VolumeSequence(str(seq.name), np.asarray(seq.sdf),
                                      check_spacing(user_sp, default=grid), True))
        return out
    masks, info = read_masks(path, axes=axes, channel=channel)  # integer labels (T, Z, Y, X): never an SDF
    stored = info.get("spacing_um")
    if user_sp is not None and stored is not None and not np.allclose(user_sp, stored,
                                                                       rtol=1e-6):
        warnings.warn(f"{path}: the given spacing {user_sp.tolist()} um differs from the "
                      f"file's {list(stored)} um; using the given one", stacklevel=2)
    sp = check_spacing(user_sp, default=stored or _UNIT_SPACING)
    return [VolumeSequence(path.stem if path.is_file() else path.name, masks, sp, False)]
