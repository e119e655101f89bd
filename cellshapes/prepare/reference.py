"""Reference-implementation ``sdf_vid`` files into a prepared dataset and back.

:func:`import_reference` brings one reference file into clamp units (each frame divided by
its stored clamp value, :mod:`cellshapes.io.reference`); :func:`export_reference` writes a
prepared dataset in the reference layout.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from cellshapes.atomic import atomic_dir, check_output
from cellshapes.cube import resample_cube
from cellshapes.errors import InputError
from cellshapes.io import (SDFSequence, clamp_units_to_reference, read_dataset, read_reference_sdf,
                           reference_clamp_voxels, reference_to_clamp_units, write_reference_sdf)
from cellshapes.io.reference import REFERENCE_CLAMP_VOXELS, ReferenceUnitsWarning
from cellshapes.progress import say

__all__ = ["import_reference", "export_reference", "REFERENCE_CLAMP_VOXELS"]


def import_reference(path: Path, size: int, spacing: Sequence[float] | None, ctype: str,
                     params: dict, progress: bool) -> tuple[SDFSequence, list[str]]:
    """One reference ``sdf_vid`` file -> one sequence in clamp units (maybe resampled),
    and the notes on its units and spacing.

    Each frame is divided by its largest positive value, the stored value of the clamp
    (:func:`cellshapes.io.reference_to_clamp_units`), so ``sdf_unit_um`` = the clamp in
    um holds for every frame, also for cells deeper inside than the clamp.
    """
    notes: list[str] = []
    raw = read_reference_sdf(path)
    s_in = raw.shape[1]
    if raw.shape[2] != s_in or raw.shape[3] != s_in:
        raise InputError(f"{path}: reference sdf_vid frames must be cubes, got {raw.shape[1:]}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReferenceUnitsWarning)
        sdf, peaks = reference_to_clamp_units(raw, str(path))
    for w in caught:  # units from the surface slope: said even when quiet, and recorded
        if issubclass(w.category, ReferenceUnitsWarning):
            notes.append(str(w.message))
            say("warning: " + str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    del raw
    if spacing is None:
        sp = (1.0, 1.0, 1.0)
        msg = f"{path}: reference file carries no spacing; assuming 1 1 1 um (pass --spacing)"
        notes.append(msg)
        if progress:
            say("warning: " + msg)
    else:
        sp = tuple(float(s) for s in spacing)
    if not np.allclose(sp, sp[0]):
        notes.append(f"{path}: anisotropic spacing {sp} for an isotropic reference grid; "
                     f"using the largest, {max(sp)} um")
    deep = int(np.sum(peaks < 1 - 1e-6))
    if deep:
        notes.append(f"{path}: {deep} of {len(peaks)} frame(s) were normalised by an inside "
                     f"depth beyond the clamp (up to {1 / peaks.min():.3g} clamps deep); "
                     "rescaled to clamp units")
    h = float(max(sp))
    scale_um = (s_in - 1) * h / 2
    clamp_um = reference_clamp_voxels(s_in) * h
    resampled = sdf if s_in == size else resample_cube(sdf, size)
    attrs = {
        "spacing_um": sp, "scale_um": scale_um, "voxel_um": 2 * scale_um / (size - 1),
        "sdf_unit_um": clamp_um, "clamp_um": clamp_um,
        "cell_type": ctype, "source": str(path), "label": -1,
        "source_format": "reference sdf_vid (MATLAB, transposed (3,2,1,0))",
        "reference_size": s_in, "reference_peak": peaks,
        "params": json.dumps({**params, "imported": True}),
    }
    return SDFSequence("", resampled, attrs), notes


#: A frame whose outside reaches less than this fraction of the reference clamp cannot be
#: exported: the reference code would read it in wrong units. (cellshapes' own clamp,
#: 32/256 of the cube edge, is 255/256 of the reference's 32/255.)
_EXPORT_MIN_REACH = 0.99


def export_reference(dataset_path: str | os.PathLike, out_dir: str | os.PathLike,
                     overwrite: bool = False, size: int | None = None) -> list[Path]:
    """Write each sequence of a prepared dataset as a reference ``<name>.h5`` (``sdf_vid``).

    Each file holds what the reference code reads: the signed distance in voxels of the
    written grid, clamped outside at :func:`cellshapes.io.reference_clamp_voxels` (32 at
    256^3), each frame divided by its max |sdf|, in MATLAB axis order.

    Parameters
    ----------
    dataset_path : path-like
        Prepared dataset.
    out_dir : path-like
        Output folder (created atomically; replaced only with ``overwrite``).
    overwrite : bool
        Replace an existing folder.
    size : int, optional
        Grid edge of the written files (default: the dataset's; the reference data: 256).

    Returns
    -------
    list of Path
        The written files, in sequence order.

    Raises
    ------
    InputError
        A frame whose outside does not reach the reference clamp (a cell filling its cube,
        or data clamped closer than 32/255 of the cube edge): a reader could not recover
        its units.

    Notes
    -----
    ``prepare_dataset`` imports the files back in the same units (up to 0.4 %: cellshapes
    clamps at 32/256 of the cube edge, the reference at 32 voxels of 256, 32/255).
    """
    seqs = read_dataset(dataset_path)
    if size is not None and (isinstance(size, bool) or int(size) != size or size < 4):
        raise InputError(f"size must be an integer >= 4, got {size!r}")
    out_dir = check_output(out_dir, overwrite)
    names = []
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        for s in seqs:
            s_out = int(size or s.sdf.shape[1])
            clamp_um = (reference_clamp_voxels(s_out) * 2 * float(s.attrs["scale_um"])
                        / (s_out - 1))
            # in units of the reference clamp
            sdf = resample_cube(s.sdf, s_out) * (float(s.attrs["sdf_unit_um"]) / clamp_um)
            reach = sdf.reshape(sdf.shape[0], -1).max(axis=1)
            low = np.flatnonzero(reach < _EXPORT_MIN_REACH)
            if low.size:
                k = int(low[0])
                raise InputError(
                    f"{s.name} frame {k}: the outside reaches {max(reach[k], 0):.3g} of the "
                    f"reference clamp ({reference_clamp_voxels(s_out):.4g} voxels at "
                    f"{s_out}^3), so a reader could not recover its units")
            write_reference_sdf(tmp / f"{s.name}.h5", clamp_units_to_reference(sdf),
                                overwrite=True)
            names.append(f"{s.name}.h5")
    return [Path(out_dir) / n for n in names]
