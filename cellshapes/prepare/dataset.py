"""Orchestration: masks / reference files -> one prepared SDF dataset (and back).

:func:`prepare_dataset` runs two passes over the inputs so that memory holds one input at
a time even for the paper's 33 x 30 x 256^3 data:

1. read each input, choose the cell(s) (binary mask, ``label=K``, the largest label, or
   every persistent label with ``per_label``), and measure each cell's largest extent
   from its per-frame centroid;
2. with ONE dataset-wide ``scale_um = max extent * margin`` (relative sizes between cells
   are preserved, like the paper's fixed-resolution crops), re-read each input and compute
   the SDF cubes with :func:`cellshapes.cube.prepare_sequence`.

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
from scipy import ndimage as ndi

from cellshapes import __version__
from cellshapes.atomic import check_output
from cellshapes.cube import prepare_sequence
from cellshapes.errors import InputError, InputFileNotFoundError
from cellshapes.io import SDFSequence, read_masks, write_dataset
from cellshapes.prepare.linking import id_jumps, jumps_summary, link_by_overlap
from cellshapes.prepare.reference import import_reference
from cellshapes.progress import say, track
from cellshapes.resources import check_memory
from cellshapes.sdf import choose_label, max_extent_um, select_components, touches_border
from cellshapes.units import check_spacing

__all__ = ["prepare_dataset", "MARGIN"]

#: Cube half-side = largest cell half-extent * MARGIN.
MARGIN = 1.25
_H5_SUFFIXES = (".h5", ".hdf5", ".he5")


@dataclass
class _Cell:
    """One planned output sequence from a mask input (decided in pass 1)."""

    input: Path
    label: int                      # -1: binary mask (all foreground)
    frames: tuple[int, int]         # [first, last] frame of the input used
    extent_um: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return str(self.input) + (f"#label={self.label}" if self.label >= 0 else "")


def _cell_masks(labels: np.ndarray, cell: _Cell) -> np.ndarray:
    t0, t1 = cell.frames
    sub = labels[t0:t1 + 1]
    return sub != 0 if cell.label < 0 else sub == cell.label


def _check_frames(masks: np.ndarray, where: str, first: int = 0) -> None:
    empty = np.flatnonzero(~masks.reshape(masks.shape[0], -1).any(axis=1))
    if len(empty):
        raise InputError(f"{where}: frame {int(empty[0]) + first} is empty (no foreground "
                         f"voxels){f'; {len(empty)} empty frames in all' if len(empty) > 1 else ''}")
    full = np.flatnonzero(masks.reshape(masks.shape[0], -1).all(axis=1))
    if len(full):
        raise InputError(f"{where}: frame {int(full[0]) + first} is all foreground (no "
                         "background voxels, so no cell boundary); is the mask inverted?")


#: Peak working memory of one frame of :func:`cellshapes.cube.frame_to_cube`, in bytes per
#: output voxel (the cube, its sorted copy, the smoothed candidate, labels and masks).
_WORK_BYTES_PER_VOXEL = 24


def _check_prepare_memory(frames: int, size: int) -> None:
    """ResourceError if ``frames`` S^3 float32 cubes (held until the write) cannot fit."""
    check_memory(size ** 3 * (4 * max(frames, 1) + _WORK_BYTES_PER_VOXEL),
                 f"prepare: {max(frames, 1)} frame(s) x {size}^3 float32",
                 "reduce --size")


def _longest_run(present: np.ndarray) -> tuple[int, int]:
    best, start = (0, -1), None
    for t, p in enumerate(list(present) + [False]):
        if p and start is None:
            start = t
        elif not p and start is not None:
            if t - start > best[1] - best[0] + 1:
                best = (start, t - 1)
            start = None
    return best


def _plan_input(path: Path, labels: np.ndarray, per_label: bool, label: int | None,
                skipped: list[dict], notes: list[str], keep_border: bool = False
                ) -> list[_Cell]:
    """Decide which cell(s) of one input become sequences (pass 1, no SDFs yet)."""
    T = labels.shape[0]
    if per_label:
        present: dict[int, np.ndarray] = {}
        border: dict[int, bool] = {}
        for t in range(T):
            for i, sl in enumerate(ndi.find_objects(labels[t]), start=1):
                if sl is None:
                    continue
                present.setdefault(i, np.zeros(T, bool))[t] = True
                on_border = any(s.start == 0 or s.stop == n for s, n in zip(sl, labels.shape[1:]))
                border[i] = border.get(i, False) or on_border
        if not present:
            raise InputError(f"{path}: all frames are empty (no foreground voxels)")
        cells = []
        for lab in sorted(present):
            n = int(present[lab].sum())
            if n < T / 2:
                skipped.append({"source": f"{path}#label={lab}",
                                "reason": f"present in {n} of {T} frames (< half)"})
                continue
            if border[lab] and not keep_border:
                skipped.append({"source": f"{path}#label={lab}",
                                "reason": "touches the volume border in some frame"})
                continue
            if border[lab]:
                notes.append(f"{path}#label={lab}: touches the volume border; kept cropped "
                             "(its SDF treats the outside of the volume as background)")
            run = _longest_run(present[lab])
            cells.append(_Cell(path, lab, run))
        return cells
    _check_frames(labels, str(path))
    lab, reason = choose_label(labels, label)
    if lab >= 0 and label is None:
        notes.append(f"{path}: {reason}")
    cell = _Cell(path, lab, (0, T - 1))
    if lab >= 0:
        _check_frames(labels == lab, f"{path} (label {lab})")
    return [cell]


def _resolve_spacing(spacing: Sequence[float] | None, file_spacings: dict[Path, Any],
                     notes: list[str]) -> tuple[float, float, float]:
    known = {p: s for p, s in file_spacings.items() if s is not None}
    if spacing is not None:  # validated by prepare_dataset; it wins over the files
        given = tuple(float(x) for x in spacing)
        differ = [p.name for p, s in known.items() if not np.allclose(s, given, rtol=1e-4)]
        if differ:
            msg = (f"--spacing {' '.join(f'{x:g}' for x in given)} differs from the spacing "
                   f"stored in {', '.join(differ)}; using --spacing")
            say("warning: " + msg)
            notes.append(msg)
        return given  # type: ignore[return-value]
    if not known:
        if file_spacings:
            say("warning: no voxel spacing given or stored in the inputs; assuming 1 1 1 um "
                 "(pass --spacing Z Y X)")
            notes.append("spacing assumed (1, 1, 1) um")
        return (1.0, 1.0, 1.0)
    first = next(iter(known.values()))
    if len(known) != len(file_spacings) or not all(
            np.allclose(s, first, rtol=1e-4) for s in known.values()):
        desc = "; ".join(f"{p.name}: {'none' if s is None else tuple(round(x, 6) for x in s)}"
                         for p, s in file_spacings.items())
        raise InputError(f"inputs have different voxel spacings ({desc}); pass --spacing "
                         "Z Y X or prepare them separately")
    return tuple(float(x) for x in first)  # type: ignore[return-value]


def skipped_summary(skipped: Sequence[dict]) -> str:
    """One line: how many labels were skipped and why (``prepare --per-label``)."""
    reasons: dict[str, int] = {}
    for s in skipped:
        why = ("touch the volume border (--keep-border keeps them, cropped)"
               if "border" in s["reason"] else "are present in fewer than half the frames"
               if "frames" in s["reason"] else s["reason"])
        reasons[why] = reasons.get(why, 0) + 1
    parts = ", ".join(f"{n} {why}" for why, n in reasons.items())
    return f"skipped {len(skipped)} label(s): {parts} (the summary's 'skipped' lists each)"


def _read_input(path: Path, axes: str | None, channel: int | None, link: bool
                ) -> tuple[np.ndarray, dict]:
    """Read one mask input; with ``link``, its ids linked over time by overlap (the
    linking is deterministic, so both passes see the same ids)."""
    labels, info = read_masks(path, axes=axes, channel=channel)
    if link:
        linking = link_by_overlap(labels)
        labels, info["links"] = linking.labels, linking.links
    return labels, info


def _check_ids_over_time(path: Path, labels: np.ndarray, info: dict, spacing, link: bool,
                         notes: list[str]) -> None:
    """Warn about ids that jump between cells (``per_label``); note what linking did."""
    if link:
        if info["links"]:
            notes.append(f"{path}: ids linked over time by overlap ({len(info['links'])} "
                         "cell-frame(s) renumbered)")
        return
    jumps = id_jumps(labels, spacing)
    if jumps:
        msg = jumps_summary(jumps, str(path)) + "; pass --link to link them by overlap"
        say("warning: " + msg)
        notes.append(msg)


def _measure(labels: np.ndarray, cell: _Cell, spacing: Sequence[float], keep: str) -> float:
    m = _cell_masks(labels, cell)
    ext = 0.0
    for frame in m:
        frame, _ = select_components(frame, keep=keep)  # type: ignore[arg-type]
        ext = max(ext, max_extent_um(frame, spacing))
    return ext


def prepare_dataset(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, size: int = 64,
                    spacing: Sequence[float] | None = None, cell_type: str | None = None,
                    per_label: bool = False, label: int | None = None, align: bool = False,
                    overwrite: bool = False, progress: bool = True, margin: float = MARGIN,
                    keep_border: bool = False, axes: str | None = None,
                    channel: int | None = None, link: bool = False) -> dict:
    """Prepare one HDF5 SDF dataset from masks and/or reference ``sdf_vid`` files.

    Parameters
    ----------
    inputs : sequence of path-like
        3D / 3D+t TIFFs, folders of per-frame TIFFs, ``.npy`` files (binary or label
        masks; see :func:`cellshapes.io.read_masks`) or reference ``.h5`` files.
    out : path-like
        Output dataset ``.h5`` (layout in ``docs/contracts.md``).
    size : int
        Cube edge S of the prepared grids (default 64; the paper: 256).
    spacing : length-3 tuple of floats, optional
        Voxel size (dz, dy, dx) in um of every input. Default: read from the files (they
        must agree), else (1, 1, 1) with a warning.
    cell_type : str, optional
        Stored as metadata (default: "unknown").
    per_label : bool
        Every label present in at least half of the frames becomes its own sequence (its
        longest run of consecutive frames); labels touching the volume border in any frame
        are skipped (one summary line says how many and why) unless ``keep_border``.
    label : int, optional
        Use this label id of every mask input.
    align : bool
        Rotate each frame into its principal axes.
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        tqdm progress bars and notes on stderr.
    keep_border : bool
        With ``per_label``: keep labels that touch the volume border, cropped (their SDF
        treats the outside of the volume as background; a note names each). Off by default.
    margin : float
        Cube half-side = largest cell extent from its centroid * margin (default 1.25).
    axes, channel : str, int, optional
        The masks' real axes and channel, overriding the files' metadata
        (:func:`cellshapes.io.read_masks`).
    link : bool
        Link label ids over time by overlap before choosing cells
        (:func:`cellshapes.prepare.linking.link_by_overlap`). Without it, ``per_label``
        warns (and notes) when ids jump between cells (:func:`~cellshapes.prepare.linking.
        id_jumps`).

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
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError("no inputs given")
    if int(size) != size or size < 4:
        raise InputError(f"size must be an integer >= 4, got {size}")
    size = int(size)
    if per_label and label is not None:
        raise InputError("use either per_label or label, not both")
    _check_prepare_memory(1, size)  # fail fast, before reading any input
    out = check_output(out, overwrite)
    for p in paths:
        if not p.exists():
            raise InputFileNotFoundError(f"input {p} does not exist")
    if len(set(p.resolve() for p in paths)) != len(paths):
        raise InputError("the same input is given more than once")
    if spacing is not None:
        spacing = tuple(check_spacing(spacing).tolist())

    refs = [p for p in paths if p.is_file() and p.suffix.lower() in _H5_SUFFIXES]
    mask_inputs = [p for p in paths if p not in refs]
    keep = "all" if (per_label or label is not None) else "auto"
    skipped: list[dict] = []
    notes: list[str] = []

    # ---- pass 1: choose cells and measure extents
    plan: dict[Path, list[_Cell]] = {}
    file_spacings: dict[Path, Any] = {}
    for p in track(mask_inputs, progress, desc="measure", unit="input", leave=False):
        labels, info = _read_input(p, axes, channel, link)
        file_spacings[p] = info["spacing_um"]
        # The final spacing is settled after all inputs are read, but it can only differ
        # from this one when the inputs disagree, which raises below.
        sp_here = spacing if spacing is not None else (info["spacing_um"] or (1.0, 1.0, 1.0))
        if per_label:
            _check_ids_over_time(p, labels, info, sp_here, link, notes)
        cells = _plan_input(p, labels, per_label, label, skipped, notes, keep_border)
        for c in cells:
            if not per_label and touches_border(_cell_masks(labels, c).any(axis=0)):
                notes.append(f"{c.source}: the cell touches the volume border; its SDF treats "
                             "the outside of the volume as background")
            c.extent_um = _measure(labels, c, sp_here, keep)
        plan[p] = cells
        del labels
    plan_notes = list(notes)
    sp = _resolve_spacing(spacing, file_spacings, notes)
    cells_all = [c for cs in plan.values() for c in cs]
    if not cells_all and not refs:
        why = "; ".join(f"{s['source']}: {s['reason']}" for s in skipped) or "no cells found"
        raise InputError(f"no sequence left to prepare ({why})")
    _check_prepare_memory(sum(c.frames[1] - c.frames[0] + 1 for c in cells_all), size)
    scale_um = max((c.extent_um for c in cells_all), default=0.0) * margin
    for n in plan_notes:  # which label was used, border contact: said even when quiet
        say(n)
    if skipped:
        say(skipped_summary(skipped))

    # ---- pass 2: SDF cubes
    params = {"size": size, "margin": margin, "align": bool(align), "keep": keep,
              "axes": axes, "channel": channel, "link": bool(link),
              "per_label": bool(per_label), "label": label, "clamp_fraction": 32 / 256,
              "sdf_scheme": "edt-half-voxel", "cellshapes_version": __version__}
    seqs: list[SDFSequence] = []
    ctype = cell_type or "unknown"
    items: list[Path] = [p for p in paths if p in plan or p in refs]
    for p in track(items, progress, desc="prepare", unit="input"):
        if p in refs:
            seqs.append(import_reference(p, size, spacing, ctype, params, notes, progress))
            continue
        if not plan[p]:
            continue
        labels, _ = _read_input(p, axes, channel, link)
        for c in plan[p]:
            sdf, attrs = prepare_sequence(_cell_masks(labels, c), sp, size, scale_um,
                                          align=align, keep=keep)  # type: ignore[arg-type]
            attrs.update(cell_type=ctype, source=c.source, label=int(c.label),
                         frames=np.asarray(c.frames, dtype=np.int64),
                         extent_um=float(c.extent_um), source_format="masks",
                         params=json.dumps(params))
            seqs.append(SDFSequence("", sdf, attrs))
    for i, s in enumerate(seqs):
        s.name = f"seq_{i:04d}"
    write_dataset(out, seqs, overwrite=overwrite,
                  attrs={"created_by": f"cellshapes {__version__} prepare",
                         "inputs": json.dumps([str(p) for p in paths])})
    scales = sorted({round(float(s.attrs["scale_um"]), 9) for s in seqs})
    units = sorted({round(float(s.attrs["sdf_unit_um"]), 9) for s in seqs})
    return {
        "out": str(out),
        "n_sequences": len(seqs),
        "names": [s.name for s in seqs],
        "sources": [str(s.attrs["source"]) for s in seqs],
        "skipped": skipped,
        "size": size,
        "scale_um": scales[0] if len(scales) == 1 else scales,
        "voxel_um": 2 * scales[0] / (size - 1) if len(scales) == 1 else None,
        "sdf_unit_um": units[0] if len(units) == 1 else units,
        "spacing_um": list(sp),
        "notes": notes,
    }
