"""Step 1 of dataset preparation: read each input once, choose its cells, crop them.

:func:`plan_dataset` reads every mask input once, chooses the cell(s) it holds (a binary
mask, ``label=K``, the largest label, or every persistent label with ``per_label``),
keeps each chosen cell as a boolean crop (its bounding box over the frames used; the SDF
needs nothing outside it, :func:`cellshapes.cube.frame_to_cube`) and measures its largest
extent from the per-frame centroid. The dataset-wide scale follows from those extents
(relative sizes between cells are preserved, like the paper's fixed-resolution crops).
Reference ``.h5`` files are only listed here; :mod:`cellshapes.prepare.dataset` imports
them. Nothing is written and no list of the caller's is filled: the plan holds the cells,
the skipped labels and the notes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import ndimage as ndi

from cellshapes.atomic import check_output
from cellshapes.config import PrepareConfig
from cellshapes.errors import InputError, InputFileNotFoundError
from cellshapes.io import read_masks
from cellshapes.prepare.linking import id_jumps, jumps_summary, link_by_overlap
from cellshapes.progress import say, track
from cellshapes.resources import check_memory
from cellshapes.sdf import choose_label, max_extent_um, select_components, touches_border
from cellshapes.units import check_spacing

__all__ = ["PlannedCell", "PreparePlan", "plan_dataset", "skipped_summary",
           "check_prepare_memory"]

_H5_SUFFIXES = (".h5", ".hdf5", ".he5")
#: Peak working memory of one frame of :func:`cellshapes.cube.frame_to_cube`, in bytes per
#: output voxel (the cube, its sorted copy, the smoothed candidate, labels and masks).
_WORK_BYTES_PER_VOXEL = 24


@dataclass
class PlannedCell:
    """One output sequence planned from a mask input.

    Attributes
    ----------
    input : Path
    label : int
        Label id of the cell; -1 for a binary mask (all foreground).
    frames : (first, last)
        Frames of the input used.
    masks : (T, z, y, x) bool array
        The cell in those frames, cropped to its bounding box over them.
    origin : (3,) ints
        Voxel index of the crop's first corner in the input volume.
    extent_um : float
        Largest distance of the cell's surface from its per-frame centroid [um].
    """

    input: Path
    label: int
    frames: tuple[int, int]
    masks: np.ndarray
    origin: tuple[int, int, int]
    extent_um: float = 0.0

    @property
    def source(self) -> str:
        return str(self.input) + (f"#label={self.label}" if self.label >= 0 else "")


@dataclass
class PreparePlan:
    """What :func:`plan_dataset` decided (step 1 of ``prepare``; nothing written).

    Attributes
    ----------
    config : PrepareConfig
    out : Path
        The dataset to write (checked: absent, or ``overwrite``).
    inputs : list of Path
        Every input, in the order given (the sequences follow it).
    cells : dict
        Mask input -> its planned cells (possibly none).
    references : list of Path
        Reference ``sdf_vid`` files, imported as they are.
    spacing : (3,) floats
        Voxel size [um] of the mask inputs.
    scale_um : float
        Cube half-side shared by every mask sequence: largest extent * margin.
    skipped : list of dict
        ``source`` and ``reason`` of each label left out.
    notes : list of str
        What a user should know (label chosen, border contact, spacing assumed ...).
    """

    config: PrepareConfig
    out: Path
    inputs: list[Path]
    cells: dict[Path, list[PlannedCell]]
    references: list[Path]
    spacing: tuple[float, float, float]
    scale_um: float
    skipped: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def keep(self) -> str:
        """Component selection per frame: ``all`` for label images, else ``auto``."""
        return "all" if (self.config.per_label or self.config.label is not None) else "auto"

    @property
    def n_frames(self) -> int:
        """Frames of all planned mask sequences together."""
        return sum(c.masks.shape[0] for cs in self.cells.values() for c in cs)


def check_prepare_memory(frames: int, size: int, extra_bytes: int = 0) -> None:
    """ResourceError if ``frames`` S^3 float32 cubes (held until the write) and
    ``extra_bytes`` (the planned crops) cannot fit."""
    check_memory(size ** 3 * (4 * max(frames, 1) + _WORK_BYTES_PER_VOXEL) + extra_bytes,
                 f"prepare: {max(frames, 1)} frame(s) x {size}^3 float32",
                 "reduce --size")


def _check_frames(masks: np.ndarray, where: str) -> None:
    flat = masks.reshape(masks.shape[0], -1)
    empty = np.flatnonzero(~flat.any(axis=1))
    if len(empty):
        raise InputError(f"{where}: frame {int(empty[0])} is empty (no foreground "
                         f"voxels){f'; {len(empty)} empty frames in all' if len(empty) > 1 else ''}")
    full = np.flatnonzero(flat.all(axis=1))
    if len(full):
        raise InputError(f"{where}: frame {int(full[0])} is all foreground (no "
                         "background voxels, so no cell boundary); is the mask inverted?")


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


def _persistent_labels(path: Path, labels: np.ndarray, keep_border: bool
                       ) -> tuple[list[tuple[int, tuple[int, int]]], list[dict], list[str]]:
    """``per_label``: (label, frames) of every label present in at least half the
    frames, with the labels skipped and the notes."""
    T = labels.shape[0]
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
    chosen, skipped, notes = [], [], []
    for lab in sorted(present):
        n = int(present[lab].sum())
        if n < T / 2:
            skipped.append({"source": f"{path}#label={lab}",
                            "reason": f"present in {n} of {T} frames (< half)"})
        elif border[lab] and not keep_border:
            skipped.append({"source": f"{path}#label={lab}",
                            "reason": "touches the volume border in some frame"})
        else:
            if border[lab]:
                notes.append(f"{path}#label={lab}: touches the volume border; kept cropped "
                             "(its SDF treats the outside of the volume as background)")
            chosen.append((lab, _longest_run(present[lab])))
    return chosen, skipped, notes


def _crop(labels: np.ndarray, label: int, frames: tuple[int, int]
          ) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The cell's masks over ``frames`` cropped to their bounding box, and its origin."""
    sub = labels[frames[0]:frames[1] + 1]
    m = sub != 0 if label < 0 else sub == label
    box = ndi.find_objects(m.any(axis=0).astype(np.uint8))[0]
    return np.ascontiguousarray(m[(slice(None), *box)]), tuple(int(s.start) for s in box)


def _extent(masks: np.ndarray, spacing: Sequence[float], keep: str) -> float:
    ext = 0.0
    for frame in masks:
        frame, _ = select_components(frame, keep=keep)  # type: ignore[arg-type]
        ext = max(ext, max_extent_um(frame, spacing))
    return ext


def _ids_over_time(path: Path, labels: np.ndarray, info: dict, spacing, link: bool
                   ) -> list[str]:
    """Notes on ids that jump between cells (``per_label``; warned) or on linking."""
    if link:
        return ([f"{path}: ids linked over time by overlap ({len(info['links'])} "
                 "cell-frame(s) renumbered)"] if info["links"] else [])
    jumps = id_jumps(labels, spacing)
    if not jumps:
        return []
    msg = jumps_summary(jumps, str(path)) + "; pass --link to link them by overlap"
    say("warning: " + msg)
    return [msg]


def _plan_input(path: Path, cfg: PrepareConfig, spacing: tuple[float, float, float] | None
                ) -> tuple[list[PlannedCell], Any, list[dict], list[str]]:
    """Read one mask input once: its cells (cropped, measured), the spacing stored in
    the file, the labels skipped and the notes."""
    labels, info = read_masks(path, axes=cfg.axes, channel=cfg.channel)
    if cfg.link:
        linking = link_by_overlap(labels)
        labels, info["links"] = linking.labels, linking.links
    # The final spacing is settled after all inputs are read, but it can only differ
    # from this one when the inputs disagree, which raises in _resolve_spacing.
    sp_here = spacing or info["spacing_um"] or (1.0, 1.0, 1.0)
    keep = "all" if (cfg.per_label or cfg.label is not None) else "auto"
    skipped: list[dict] = []
    notes: list[str] = []
    if cfg.per_label:
        notes += _ids_over_time(path, labels, info, sp_here, cfg.link)
        chosen, skipped, more = _persistent_labels(path, labels, cfg.keep_border)
        notes += more
    else:
        _check_frames(labels, str(path))
        lab, reason = choose_label(labels, cfg.label)
        if lab >= 0 and cfg.label is None:
            notes.append(f"{path}: {reason}")
        if lab >= 0:
            _check_frames(labels == lab, f"{path} (label {lab})")
        chosen = [(lab, (0, labels.shape[0] - 1))]
    cells = []
    for lab, frames in chosen:
        masks, origin = _crop(labels, lab, frames)
        cell = PlannedCell(path, lab, frames, masks, origin)
        if not cfg.per_label and touches_border(
                (labels != 0 if lab < 0 else labels == lab).any(axis=0)):
            notes.append(f"{cell.source}: the cell touches the volume border; its SDF treats "
                         "the outside of the volume as background")
        cell.extent_um = _extent(masks, sp_here, keep)
        cells.append(cell)
    return cells, info["spacing_um"], skipped, notes


def _resolve_spacing(spacing: tuple[float, float, float] | None,
                     file_spacings: dict[Path, Any]) -> tuple[tuple[float, float, float],
                                                              list[str]]:
    """The spacing of the mask inputs and the notes on how it was chosen."""
    known = {p: s for p, s in file_spacings.items() if s is not None}
    if spacing is not None:  # validated by plan_dataset; it wins over the files
        differ = [p.name for p, s in known.items() if not np.allclose(s, spacing, rtol=1e-4)]
        if not differ:
            return spacing, []
        msg = (f"--spacing {' '.join(f'{x:g}' for x in spacing)} differs from the spacing "
               f"stored in {', '.join(differ)}; using --spacing")
        say("warning: " + msg)
        return spacing, [msg]
    if not known:
        if not file_spacings:
            return (1.0, 1.0, 1.0), []
        say("warning: no voxel spacing given or stored in the inputs; assuming 1 1 1 um "
            "(pass --spacing Z Y X)")
        return (1.0, 1.0, 1.0), ["spacing assumed (1, 1, 1) um"]
    first = next(iter(known.values()))
    if len(known) != len(file_spacings) or not all(
            np.allclose(s, first, rtol=1e-4) for s in known.values()):
        desc = "; ".join(f"{p.name}: {'none' if s is None else tuple(round(x, 6) for x in s)}"
                         for p, s in file_spacings.items())
        raise InputError(f"inputs have different voxel spacings ({desc}); pass --spacing "
                         "Z Y X or prepare them separately")
    return tuple(float(x) for x in first), []  # type: ignore[return-value]


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


def plan_dataset(inputs: Sequence[str | os.PathLike] | str | os.PathLike,
                 out: str | os.PathLike, config: PrepareConfig, overwrite: bool = False,
                 progress: bool = False) -> PreparePlan:
    """Step 1 of :func:`cellshapes.prepare.prepare_dataset`: read each mask input once,
    choose and crop its cells, measure them and settle spacing and scale.

    Raises
    ------
    InputFileNotFoundError, InputError, OutputExistsError, ResourceError
        Missing or repeated inputs, bad masks, disagreeing spacings, no cell left, an
        existing ``out`` without ``overwrite``, cubes that cannot fit in memory.
    """
    paths = [Path(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike))
                               else inputs)]
    if not paths:
        raise InputError("no inputs given")
    cfg = config
    check_prepare_memory(1, cfg.size)  # fail fast, before reading any input
    out = check_output(out, overwrite)
    for p in paths:
        if not p.exists():
            raise InputFileNotFoundError(f"input {p} does not exist")
    if len(set(p.resolve() for p in paths)) != len(paths):
        raise InputError("the same input is given more than once")
    spacing = None if cfg.spacing is None else tuple(check_spacing(cfg.spacing).tolist())
    refs = [p for p in paths if p.is_file() and p.suffix.lower() in _H5_SUFFIXES]
    cells: dict[Path, list[PlannedCell]] = {}
    file_spacings: dict[Path, Any] = {}
    skipped: list[dict] = []
    notes: list[str] = []
    for p in track([p for p in paths if p not in refs], progress, desc="read", unit="input",
                   leave=False):
        cells[p], file_spacings[p], s, n = _plan_input(p, cfg, spacing)
        skipped += s
        notes += n
    sp, more = _resolve_spacing(spacing, file_spacings)
    plan = PreparePlan(cfg, out, paths, cells, refs, sp, 0.0, skipped, notes + more)
    every = [c for cs in cells.values() for c in cs]
    if not every and not refs:
        why = "; ".join(f"{s['source']}: {s['reason']}" for s in skipped) or "no cells found"
        raise InputError(f"no sequence left to prepare ({why})")
    check_prepare_memory(plan.n_frames, cfg.size, sum(c.masks.nbytes for c in every))
    plan.scale_um = max((c.extent_um for c in every), default=0.0) * cfg.margin
    for note in notes:  # which label was used, border contact: said even when quiet
        say(note)
    if skipped:
        say(skipped_summary(skipped))
    return plan
