"""Reading and writing the file formats of cellshapes.

* :mod:`~cellshapes.io.masks`: 3D (Z,Y,X) or 3D+t (T,Z,Y,X) TIFF, a folder of per-frame
  3D TIFFs, ``.npy``;
* :mod:`~cellshapes.io.dataset`: the prepared SDF dataset (HDF5, layout in
  ``docs/contracts.md``);
* :mod:`~cellshapes.io.reference`: the reference implementation's per-sequence ``.h5``
  files (dataset ``sdf_vid``);
* :mod:`~cellshapes.io.volumes`: any of these as volumes to measure or mesh.

Import from here (``from cellshapes.io import read_masks``). All writers are atomic
(:mod:`cellshapes.atomic`) and refuse to replace an existing path unless
``overwrite=True``. All readers turn a malformed file into a one-line
:class:`~cellshapes.errors.DatasetFormatError` / :class:`~cellshapes.errors.InputError`.
"""
from __future__ import annotations

from cellshapes.io.dataset import (DATASET_FORMAT, DATASET_FORMAT_VERSION, SDFSequence,
                                   dataset_info, read_dataset, write_dataset)
from cellshapes.io.hdf5 import open_h5
from cellshapes.io.masks import as_tzyx, natural_key, read_masks, read_tiff, write_tiff
from cellshapes.io.reference import (REFERENCE_DATASET, clamp_units_to_reference, is_reference_sdf,
                                     read_reference_sdf, reference_clamp_voxels,
                                     reference_to_clamp_units, write_reference_sdf)
from cellshapes.io.volumes import VolumeSequence, load_volumes

__all__ = [
    "read_masks",
    "read_tiff",
    "as_tzyx",
    "write_tiff",
    "natural_key",
    "SDFSequence",
    "write_dataset",
    "read_dataset",
    "dataset_info",
    "open_h5",
    "read_reference_sdf",
    "write_reference_sdf",
    "is_reference_sdf",
    "reference_clamp_voxels",
    "reference_to_clamp_units",
    "clamp_units_to_reference",
    "load_volumes",
    "VolumeSequence",
    "DATASET_FORMAT",
    "DATASET_FORMAT_VERSION",
    "REFERENCE_DATASET",
]
