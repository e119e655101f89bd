"""Masks / reference files -> one prepared SDF dataset (and back), in three named steps.

:func:`prepare_dataset` (``cellshapes prepare``) runs

1. :func:`~cellshapes.prepare.plan.plan_dataset`: read every mask input once, choose its
   cell(s), keep each as a boolean crop and measure it; one dataset-wide
   ``scale_um = max extent * margin`` (:class:`~cellshapes.prepare.plan.PreparePlan`);
2. :func:`build_dataset`: the SDF cubes of every planned cell
   (:func:`cellshapes.cube.prepare_sequence`) and the imported reference files, in input
   order (a :class:`PreparedDataset`; nothing written);
3. :func:`write_prepared`: the HDF5 file, and the summary.

Reference-implementation files (``.h5`` with ``sdf_vid``) are imported without recomputing
the SDF, each frame brought back to one unit, the reference clamp (see
:mod:`cellshapes.io.reference`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellshapes import __version__
from cellshapes.config import PrepareConfig, config_from, to_dict
from cellshapes.config.schema import MARGIN
from cellshapes.cube import prepare_sequence
from cellshapes.io import SDFSequence, write_dataset
from cellshapes.prepare.plan import PreparePlan, plan_dataset, skipped_summary  # noqa: F401
from cellshapes.prepare.reference import import_reference
from cellshapes.progress import track

__all__ = ["prepare_dataset", "build_dataset", "write_prepared", "PreparedDataset",
           "plan_dataset", "MARGIN"]


@dataclass
class PreparedDataset:
    """Step 2 of :func:`prepare_dataset`: the sequences, ready to write.

    Attributes
    ----------
    plan : PreparePlan
    sequences : list of SDFSequence
        Named ``seq_0000``, ``seq_0001``, ... in input order.
    notes : list of str
        The plan's notes and those of the reference imports.
    """

    plan: PreparePlan
    sequences: list[SDFSequence]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON-serialisable summary :func:`prepare_dataset` returns."""
        seqs, size = self.sequences, self.plan.config.size
        scales = sorted({round(float(s.attrs["scale_um"]), 9) for s in seqs})
        units = sorted({round(float(s.attrs["sdf_unit_um"]), 9) for s in seqs})
        return {
            "out": str(self.plan.out),
            "n_sequences": len(seqs),
            "names": [s.name for s in seqs],
            "sources": [str(s.attrs["source"]) for s in seqs],
            "skipped": self.plan.skipped,
            "size": size,
            "scale_um": scales[0] if len(scales) == 1 else scales,
            "voxel_um": 2 * scales[0] / (size - 1) if len(scales) == 1 else None,
            "sdf_unit_um": units[0] if len(units) == 1 else units,
            "spacing_um": list(self.plan.spacing),
            "notes": self.notes,
        }


def _params(cfg: PrepareConfig, keep: str) -> dict[str, Any]:
    """The preprocessing parameters stored with every sequence."""
    return {"size": cfg.size, "margin": cfg.margin, "align": bool(cfg.align), "keep": keep,
            "axes": cfg.axes, "channel": cfg.channel, "link": bool(cfg.link),
            "per_label": bool(cfg.per_label), "label": cfg.label, "clamp_fraction": 32 / 256,
            "sdf_scheme": "edt-half-voxel", "cellshapes_version": __version__}


def build_dataset(plan: PreparePlan, progress: bool = False) -> PreparedDataset:
    """Step 2: the SDF cubes of every planned cell and reference file (nothing read twice,
    nothing written)."""
    cfg, keep = plan.config, plan.keep
    params = _params(cfg, keep)
    ctype = cfg.cell_type or "unknown"
    spacing = None if cfg.spacing is None else plan.spacing
    seqs: list[SDFSequence] = []
    notes = list(plan.notes)
    items = [p for p in plan.inputs if p in plan.references or plan.cells.get(p)]
    for p in track(items, progress, desc="prepare", unit="input"):
        if p in plan.references:
            seq, more = import_reference(p, cfg.size, spacing, ctype, params, progress)
            seqs.append(seq)
            notes += more
            continue
        for c in plan.cells[p]:
            sdf, attrs = prepare_sequence(c.masks, plan.spacing, cfg.size, plan.scale_um,
                                          align=cfg.align, keep=keep)  # type: ignore[arg-type]
            attrs.update(cell_type=ctype, source=c.source, label=int(c.label),
                         frames=np.asarray(c.frames, dtype=np.int64),
                         extent_um=float(c.extent_um), source_format="masks",
                         params=json.dumps(params),
                         centroid_um=attrs["centroid_um"] + np.asarray(c.origin) * np.asarray(
                             plan.spacing))  # in the input volume's coordinates
            seqs.append(SDFSequence("", sdf, attrs))
    for i, s in enumerate(seqs):
        s.name = f"seq_{i:04d}"
    return PreparedDataset(plan, seqs, notes)


def write_prepared(prepared: PreparedDataset, overwrite: bool = False) -> Path:
    """Step 3: write the dataset to ``prepared.plan.out`` (HDF5, atomically)."""
    plan = prepared.plan
    write_dataset(plan.out, prepared.sequences, overwrite=overwrite,
                  attrs={"created_by": f"cellshapes {__version__} prepare",
                         "inputs": json.dumps([str(p) for p in plan.inputs])})
    return plan.out


def prepare_dataset(inputs: Sequence[str | os.PathLike] | str | os.PathLike,
                    out: str | os.PathLike, config: PrepareConfig | None = None, *,
                    overwrite: bool = False, progress: bool = True, **overrides: Any) -> dict:
    """Prepare one HDF5 SDF dataset from masks and/or reference ``sdf_vid`` files.

    The three steps (plan, build, write) are :func:`plan_dataset`,
    :func:`build_dataset` and :func:`write_prepared`; each input is read once, and memory
    holds the chosen cells' crops and the prepared cubes until the write.

    Parameters
    ----------
    inputs : sequence of path-like
        3D / 3D+t TIFFs, folders of per-frame TIFFs, ``.npy`` files (binary or label
        masks; see :func:`cellshapes.io.read_masks`) or reference ``.h5`` files.
    out : path-like
        Output dataset ``.h5`` (layout in ``docs/contracts.md``).
    config : PrepareConfig, optional
        The settings (default ``PrepareConfig()``); every field is an option of
        ``cellshapes prepare``.
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        tqdm progress bars and notes on stderr.
    **overrides
        Fields of :class:`~cellshapes.config.PrepareConfig` replacing those of ``config``
        (``prepare_dataset(files, out, size=48, per_label=True)``): the cube edge, the
        voxel spacing, the cell type, which cells (``per_label``, ``label``,
        ``keep_border``), ``align``, ``margin``, the masks' ``axes`` and ``channel``,
        ``link``; each documented once, there.

    Returns
    -------
    dict
        JSON-serialisable summary: ``out``, ``n_sequences``, ``names``, ``sources``,
        ``skipped`` (source + reason), ``size``, ``scale_um``, ``voxel_um``,
        ``sdf_unit_um``, ``spacing_um``, ``notes``.

    Raises
    ------
    InputFileNotFoundError, InputError, DatasetFormatError, OutputExistsError
        Missing inputs, bad masks (2D, empty frame, non-binary floats, unknown label,
        mismatched spacings), unreadable files, existing output without ``overwrite``.

    Notes
    -----
    Binary masks keep their largest component, plus any component with at least 25% of
    its voxels (two daughters after a division); label images without ``label`` /
    ``per_label`` keep their largest label (the choice is printed and returned in
    ``notes``). Reference files are imported without recomputation, resampled
    (corner-aligned, trilinear) if their grid is not ``size``; every frame is divided by
    its stored clamp value, so ``sdf_unit_um`` is the reference clamp (32 voxels of a
    256^3 grid) at the given spacing for all frames, also those the reference normalised
    by a deeper inside; a frame whose outside never reaches the clamp raises
    ``DatasetFormatError`` (see :mod:`cellshapes.io.reference`).
    """
    cfg = config_from(PrepareConfig, to_dict(config or PrepareConfig()), overrides)
    plan = plan_dataset(inputs, out, cfg, overwrite=overwrite, progress=progress)
    prepared = build_dataset(plan, progress)
    write_prepared(prepared, overwrite)
    return prepared.summary()
