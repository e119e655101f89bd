"""Every comparison metric of a shape against the true one: ``cellshapes compare``.

:func:`compare_shapes` scores one pair of volumes (DSC, HD95, ASSD, surface Dice,
protrusion recall); :func:`compare_path` reads two files and scores them frame by frame.
The metrics themselves live in :mod:`~cellshapes.measure.metrics`,
:mod:`~cellshapes.measure.surface` and :mod:`~cellshapes.measure.protrusion`.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from cellshapes.errors import InputError
from cellshapes.measure.cells import cells
from cellshapes.measure.mesh import check_volume, detect_sdf, foreground
from cellshapes.measure.metrics import dice
from cellshapes.measure.protrusion import protrusion_recall
from cellshapes.measure.surface import check_tolerance, surface_distances
from cellshapes.measure.topology import topology_scores
from cellshapes.units import SpacingLike, check_spacing

__all__ = ["compare_shapes", "compare_path", "COMPARE_COLUMNS"]

COMPARE_COLUMNS = ("sequence", "frame", "cell", "dsc", "hd95_um", "assd_um", "surface_dice",
                   "protrusion_recall", "components", "island_fraction",
                   "connected_protrusion_recall")


def compare_shapes(truth: Any, other: Any, spacing: SpacingLike | None = (1.0, 1.0, 1.0),
                   tolerance_um: float | None = None, body_radius_um: float | None = None,
                   is_sdf_truth: bool | None = None,
                   is_sdf_other: bool | None = None) -> dict[str, float]:
    """Every comparison metric of a shape against the true one (``cellshapes compare``).

    Parameters
    ----------
    truth, other : array_like, shape (Z, Y, X)
        Masks or SDFs on the same grid; ``truth`` is the reference of the protrusion
        recall.
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.
    tolerance_um : float, optional
        Tolerance of surface Dice and protrusion recall; default one voxel diagonal.
    body_radius_um : float, optional
        Cell-body scale of :func:`cellshapes.measure.protrusion.protrusion_recall`.
    is_sdf_truth, is_sdf_other : bool, optional
        Force the SDF / mask reading; autodetected when None.

    Returns
    -------
    dict
        ``dsc`` (voxel overlap), ``hd95_um``, ``assd_um``, ``surface_dice``,
        ``protrusion_recall`` (NaN when the truth has no protrusion), and the topology of
        the other shape (:mod:`cellshapes.measure.topology`): ``components``,
        ``island_fraction``, ``connected_protrusion_recall``.
    """
    va, vb = check_volume(truth, what="truth"), check_volume(other, what="other")
    if va.shape != vb.shape:
        raise InputError(f"the two volumes differ in shape: {va.shape} and {vb.shape}")
    sp = check_spacing(spacing, default=(1.0, 1.0, 1.0))
    sa, sb = detect_sdf(va, is_sdf_truth), detect_sdf(vb, is_sdf_other)
    tol = check_tolerance(tolerance_um, sp)
    fa, fb = foreground(va, sa), foreground(vb, sb)
    sd = surface_distances(va, vb, sp, sa, sb)
    return {"dsc": dice(fa, fb), "hd95_um": sd.hausdorff(95.0), "assd_um": sd.mean(),
            "surface_dice": sd.dice(tol),
            "protrusion_recall": protrusion_recall(fa, fb, sp, tolerance_um=tol,
                                                   body_radius_um=body_radius_um),
            **topology_scores(fa, fb, sp, tol, body_radius_um)}


def _frame_scores(truth: np.ndarray, other: np.ndarray, spacing: np.ndarray,
                  tolerance_um: float | None, body_radius_um: float | None, sdf_t: bool,
                  sdf_o: bool) -> list[tuple[int | None, dict[str, float]]]:
    """Scores of one frame: per label id when the truth is a label image
    (:func:`cellshapes.measure.cells.cells`), else of the whole frame (cell None).

    A label of the truth that the other frame lacks scores DSC 0 and NaN distances."""
    if sdf_t or sdf_o:
        return [(None, compare_shapes(truth, other, spacing, tolerance_um, body_radius_um,
                                      sdf_t, sdf_o))]
    _, ids, source = cells(np.asarray(truth), False)
    if source != "label":
        return [(None, compare_shapes(truth, other, spacing, tolerance_um, body_radius_um,
                                      False, False))]
    out = []
    for k in ids:
        mine = np.asarray(other) == k
        if not mine.any():
            out.append((int(k), {"dsc": 0.0, **dict.fromkeys(COMPARE_COLUMNS[4:], np.nan),
                                 "components": 0.0, "island_fraction": 0.0}))
            continue
        out.append((int(k), compare_shapes(np.asarray(truth) == k, mine, spacing,
                                           tolerance_um, body_radius_um, False, False)))
    return out


def _pair_sequences(truth: list, other: list, t_path: Any, o_path: Any) -> list:
    """Sequences of two files paired: the only one of each, or by equal names."""
    if len(truth) == 1 and len(other) == 1:
        return [(truth[0], other[0])]
    names_t, names_o = [s.name for s in truth], [s.name for s in other]
    if sorted(names_t) != sorted(names_o):
        raise InputError(f"{t_path} and {o_path} hold different sequences "
                         f"({names_t[:4]} vs {names_o[:4]}); compare files of one "
                         "sequence each, or datasets with the same sequence names")
    by_name = {s.name: s for s in other}
    return [(s, by_name[s.name]) for s in truth]


def compare_path(truth: str | os.PathLike, other: str | os.PathLike,
                 spacing: SpacingLike | None = None, frame: int | None = None,
                 tolerance_um: float | None = None,
                 body_radius_um: float | None = None, progress: bool = False,
                 axes: str | None = None, channel: int | None = None) -> pd.DataFrame:
    """Compare the shapes of two files frame by frame (``cellshapes compare``).

    Parameters
    ----------
    truth, other : path-like
        Mask TIFF / folder / ``.npy``, prepared dataset ``.h5`` or reference ``.h5``
        (:func:`cellshapes.io.load_volumes`): one sequence each, or datasets with the
        same sequence names, on grids of the same shape.
    spacing : length-3 sequence of float, optional
        Voxel size (dz, dy, dx) in um for both; default from the files, which must agree.
    frame : int, optional
        Compare only this time point (0-based); default every frame.
    tolerance_um, body_radius_um : float, optional
        As for :func:`compare_shapes`.
    progress : bool
        A progress bar over the sequences.
    axes, channel : str, int, optional
        Both mask inputs' real axes and channel (``--axes``, ``--channel``), overriding the file's
        metadata (:func:`cellshapes.io.read_masks`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`, one row per sequence and frame, or per
        sequence, frame and cell when the truth is a label image (``cell`` the label id,
        each label of the other file compared with the same label; else None); ``attrs``
        holds the ``spacing_um`` used and the ``tolerance_um`` (after defaults).

    Raises
    ------
    InputFileNotFoundError, DatasetFormatError
        From :mod:`cellshapes.io`.
    InputError
        Bad spacing, spacings of the files that differ, grids or frame counts that
        differ, a frame out of range, an empty frame (named in the message).
    """
    from cellshapes.io import load_volumes  # I/O lives at the edge

    layout = {"axes": axes, "channel": channel}
    pairs = _pair_sequences(load_volumes(truth, spacing, **layout),
                            load_volumes(other, spacing, **layout),
                            truth, other)
    rows = []
    from cellshapes.progress import track

    for t, o in track(pairs, progress, desc="compare", unit="seq"):
        where = f"{truth} vs {other} (sequence {t.name})"
        if not np.allclose(t.spacing, o.spacing, rtol=1e-6):
            raise InputError(f"{where}: spacings differ ({t.spacing.tolist()} vs "
                             f"{o.spacing.tolist()} um); pass --spacing Z Y X")
        if t.volumes.shape != o.volumes.shape:
            raise InputError(f"{where}: shapes differ, (T, Z, Y, X) {t.volumes.shape} vs "
                             f"{o.volumes.shape}")
        n = t.volumes.shape[0]
        if frame is not None and not 0 <= int(frame) < n:
            raise InputError(f"frame {frame} out of range: {truth} has {n} frame(s)")
        for k in range(n) if frame is None else [int(frame)]:
            try:
                for cell, m in _frame_scores(t.volumes[k], o.volumes[k], t.spacing,
                                             tolerance_um, body_radius_um, t.is_sdf, o.is_sdf):
                    rows.append({"sequence": t.name, "frame": k, "cell": cell, **m})
            except InputError as exc:
                raise InputError(f"{where} frame {k}: {exc}") from None
    table = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    sp = pairs[0][0].spacing
    table.attrs = {"spacing_um": sp.tolist(),
                   "tolerance_um": check_tolerance(tolerance_um, sp)}
    return table
