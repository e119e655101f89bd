"""Checks of a user's label video before any work, and lineage from a CTC track file.

A label video is a (T, Z, Y, X) integer image, one id per cell, the same id for the same
cell over time (as ``prepare --per-label`` reads it). :func:`check_label_video` refuses,
with one line that says what to change, what would otherwise fail late or silently give
wrong shapes: an image that is not 3D or 3D+t, an empty frame, anisotropic-looking stacks
without a voxel size, and (without ``--keep-border``) a video in which every cell touches
the volume border. Touching cells are fine: each label gets the SDF of its own mask.
:func:`merge_lineage` joins daughters to their mother using a Cell Tracking Challenge
``man_track.txt`` (``L B E P`` per line), so that a dividing cell is one sequence.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cellshapes.errors import InputError

__all__ = ["ANISOTROPY", "touching_pairs", "check_label_video", "read_man_track",
           "merge_lineage"]

#: A stack without a voxel size is refused when Z differs from Y and X by this factor.
ANISOTROPY = 1.5


def touching_pairs(frame: np.ndarray) -> dict[tuple[int, int], int]:
    """Pairs of different labels that share a voxel face in one (Z, Y, X) frame.

    Returns
    -------
    dict
        ``(a, b)`` with a < b -> number of shared faces.
    """
    pairs: dict[tuple[int, int], int] = {}
    for axis in range(frame.ndim):
        a = np.moveaxis(frame, axis, 0)[:-1].ravel()
        b = np.moveaxis(frame, axis, 0)[1:].ravel()
        hit = (a > 0) & (b > 0) & (a != b)
        if hit.any():
            lo, hi = np.minimum(a[hit], b[hit]), np.maximum(a[hit], b[hit])
            keys, counts = np.unique(np.stack([lo, hi], 1), axis=0, return_counts=True)
            for (x, y), n in zip(keys.tolist(), counts.tolist()):
                pairs[(x, y)] = pairs.get((x, y), 0) + n
    return pairs


def _components(frame: np.ndarray) -> int:
    """Number of 26-connected foreground objects of a (Z, Y, X) frame."""
    from scipy import ndimage as ndi

    return int(ndi.label(frame > 0, structure=np.ones((3, 3, 3), bool))[1])


def _touch_z(labels: np.ndarray) -> tuple[set[int], set[int]]:
    """Labels of a (T, Z, Y, X) video touching the first/last z slice, and any border."""
    z_side = set(np.unique(labels[:, [0, -1]]).tolist())
    rim = [labels[:, :, [0, -1]], labels[:, :, :, [0, -1]]]
    any_side = z_side.union(*(np.unique(r).tolist() for r in rim))
    return z_side - {0}, any_side - {0}


def check_label_video(labels: np.ndarray, source: str, spacing_known: bool,
                      keep_border: bool = True) -> list[str]:
    """Raise :class:`InputError` (one line) for a label video the pipeline cannot use.

    Touching cells are accepted: each label is its own cell and gets the SDF of its own
    mask. Only a binary mask (one id) with several objects is ambiguous (touching cells
    there are merged and cannot be told apart); it is modelled as one shape, and the
    returned note says so.

    Parameters
    ----------
    labels : (T, Z, Y, X) integer ndarray
        As :func:`cellshapes.io.read_masks` returns it (it already refuses 2D images).
    source : str
        Named in the messages.
    spacing_known : bool
        A voxel size was given or found in the file.
    keep_border : bool
        Cells touching the volume border will be kept; False refuses a video in which
        every cell touches it (a thin stack), naming ``--keep-border``.

    Returns
    -------
    list of str
        Notes for the user (the binary-mask ambiguity).
    """
    if labels.ndim != 4:
        raise InputError(f"{source}: a label video is (T, Z, Y, X); got shape {labels.shape}")
    for t, frame in enumerate(labels):
        if not frame.any():
            raise InputError(f"{source}: frame {t} has no labelled voxel; remove the frame or "
                             "fix its labels")
    z, y, x = labels.shape[1:]
    if not spacing_known and max(y, x) >= ANISOTROPY * z:
        raise InputError(f"{source}: {z} z slices for {y} x {x} pixels looks anisotropic and "
                         "the file carries no voxel size; give --spacing Z Y X in um")
    ids = set(np.unique(labels).tolist()) - {0}
    if not keep_border:
        z_side, any_side = _touch_z(labels)
        if ids <= any_side:
            where = ("the first or last z slice" if ids <= z_side else "the volume border")
            raise InputError(f"{source}: every cell ({len(ids)}) touches {where} in some frame "
                             f"(a stack of {z} slices), so none would be kept; pass "
                             "--keep-border to model them cropped")
    notes = []
    if ids == {1}:
        most = max(range(len(labels)), key=lambda t: _components(labels[t]))
        n = _components(labels[most])
        if n > 1:
            notes.append(f"{source}: a binary mask with {n} separate objects in frame {most} "
                         "is modelled as one shape (e.g. a dividing cell); if they are "
                         "different cells, give a label image (one id per cell): cells that "
                         "touch in a binary mask are merged and cannot be told apart")
    return notes


def read_man_track(path: str | os.PathLike) -> dict[int, int]:
    """Parents from a CTC ``man_track.txt``: ``{label: parent}`` (0 = no parent).

    Raises
    ------
    InputError
        A line that is not four non-negative integers.
    """
    parents: dict[int, int] = {}
    for i, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            lab, _begin, _end, parent = (int(v) for v in line.split())
        except ValueError:
            raise InputError(f"{path}, line {i}: expected 'L B E P' (four integers), got "
                             f"{line.strip()!r}") from None
        if min(lab, parent) < 0:
            raise InputError(f"{path}, line {i}: negative label or parent")
        parents[lab] = parent
    return parents


def merge_lineage(labels: np.ndarray, parents: dict[int, int]) -> np.ndarray:
    """Give each cell the id of its first ancestor, so a dividing cell is one sequence.

    Parameters
    ----------
    labels : (T, Z, Y, X) integer ndarray
    parents : dict
        ``{label: parent}`` from :func:`read_man_track`.

    Returns
    -------
    (T, Z, Y, X) ndarray
        Same dtype; daughters carry their root's id.
    """
    def root(lab: int) -> int:
        seen = set()
        while parents.get(lab, 0) and lab not in seen:
            seen.add(lab)
            lab = parents[lab]
        return lab

    ids = np.unique(labels)
    lut = np.arange(int(ids.max()) + 1, dtype=labels.dtype)
    for lab in ids[ids > 0].tolist():
        lut[lab] = root(lab)
    return lut[labels]
