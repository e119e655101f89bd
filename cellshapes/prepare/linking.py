"""Label ids that are not kept over time: detect them and link cells by overlap.

A segmentation made frame by frame (without tracking) numbers its cells anew in every
frame, so an id that stands for one cell in frame t may stand for its neighbour in frame
t + 1. ``prepare --per-label`` and ``cellshapes model`` read one id as one cell over time;
this module finds where that reading breaks and repairs it.

Rules (stated, no hidden ones):

* **A jump** (:func:`id_jumps`): an id present in frames t - 1 and t whose own masks there
  overlap with IoU < :data:`JUMP_IOU`, or whose centroid moves further (in um) than its
  radius, the radius of the sphere of its volume in frame t - 1.
* **Linking** (:func:`link_by_overlap`): between consecutive frames, the cells of frame
  t are matched one-to-one to the tracks of frame t - 1 by the Hungarian method on their
  IoU (:func:`scipy.optimize.linear_sum_assignment`, maximising the summed IoU); a
  matched pair with IoU >= :data:`LINK_IOU` continues the track. A cell left unmatched
  starts a new track; if it overlaps a track that continued in another cell (a division),
  that track is recorded as its parent. Tracks keep the id they had in their first frame
  where it is free, so a video whose ids are already kept comes back unchanged.

The tracks are returned as Cell Tracking Challenge ``man_track.txt`` rows ``L B E P``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment

from cellshapes.atomic import atomic_path

__all__ = ["JUMP_IOU", "LINK_IOU", "Linking", "id_jumps", "jumps_summary", "link_by_overlap",
           "overlaps", "write_man_track"]

#: An id whose masks in consecutive frames overlap less than this (IoU) has jumped.
JUMP_IOU = 0.1
#: A matched pair of cells in consecutive frames with at least this IoU continues a track.
LINK_IOU = 0.1


def overlaps(prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every labelled cell of one frame with every cell of the next.

    Parameters
    ----------
    prev, cur : (Z, Y, X) integer ndarray
        Two label frames of one video (0 = background).

    Returns
    -------
    ids_prev : (M,) ndarray
        Labels present in ``prev``, ascending.
    ids_cur : (N,) ndarray
        Labels present in ``cur``, ascending.
    iou : (M, N) float64 ndarray
        Intersection over union of each pair of masks (voxel counts).
    """
    a, b = prev.ravel(), cur.ravel()
    ids_prev, ids_cur = np.unique(a[a > 0]), np.unique(b[b > 0])
    size_prev = np.bincount(a)[ids_prev].astype(np.int64)
    size_cur = np.bincount(b)[ids_cur].astype(np.int64)
    both = (a > 0) & (b > 0)
    inter = np.zeros((len(ids_prev), len(ids_cur)), np.int64)
    if both.any():
        pairs, counts = np.unique(np.stack([a[both], b[both]], 1), axis=0, return_counts=True)
        np.add.at(inter, (np.searchsorted(ids_prev, pairs[:, 0]),
                          np.searchsorted(ids_cur, pairs[:, 1])), counts)
    union = size_prev[:, None] + size_cur[None, :] - inter
    return ids_prev, ids_cur, inter / np.maximum(union, 1)


def _centroids_radii(frame: np.ndarray, ids: np.ndarray, spacing: Sequence[float]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) centroids [um] and (K,) equivalent-sphere radii [um] of ``ids`` in a frame."""
    sp = np.asarray(spacing, dtype=float)
    cents = np.asarray(ndi.center_of_mass(np.ones(frame.shape), frame, ids)).reshape(-1, 3)
    counts = ndi.sum_labels(np.ones(frame.shape), frame, ids)
    radii = (3.0 * np.asarray(counts) * np.prod(sp) / (4.0 * np.pi)) ** (1.0 / 3.0)
    return cents * sp, radii


def id_jumps(labels: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> list[dict]:
    """Where an id seems to change cell between consecutive frames (module docstring rule).

    Parameters
    ----------
    labels : (T, Z, Y, X) integer ndarray
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.

    Returns
    -------
    list of dict
        One per jump: ``frame`` (t, 0-based), ``label``, ``iou`` (its masks in t - 1 and
        t), ``moved_um`` (centroid displacement) and ``radius_um`` (in t - 1).
    """
    jumps = []
    for t in range(1, labels.shape[0]):
        ids_p, ids_c, iou = overlaps(labels[t - 1], labels[t])
        common = np.intersect1d(ids_p, ids_c)
        if not len(common):
            continue
        c_p, r_p = _centroids_radii(labels[t - 1], common, spacing)
        c_c, _ = _centroids_radii(labels[t], common, spacing)
        moved = np.linalg.norm(c_c - c_p, axis=1)
        own = iou[np.searchsorted(ids_p, common), np.searchsorted(ids_c, common)]
        for k in np.flatnonzero((own < JUMP_IOU) | (moved > r_p)):
            jumps.append({"frame": t, "label": int(common[k]), "iou": round(float(own[k]), 4),
                          "moved_um": round(float(moved[k]), 4),
                          "radius_um": round(float(r_p[k]), 4)})
    return jumps


def jumps_summary(jumps: Sequence[dict], source: str, limit: int = 3) -> str:
    """One line naming how many ids jumped and the first ``limit`` of them."""
    steps = len({j["frame"] for j in jumps})
    shown = "; ".join(f"label {j['label']} at frame {j['frame']} (IoU {j['iou']:.2f} with "
                      f"frame {j['frame'] - 1}, moved {j['moved_um']:.3g} um, radius "
                      f"{j['radius_um']:.3g} um)" for j in jumps[:limit])
    more = f"; {len(jumps) - limit} more" if len(jumps) > limit else ""
    return (f"{source}: ids do not follow one cell over time: {len(jumps)} jump(s) at "
            f"{steps} frame step(s) ({shown}{more})")


@dataclass
class Linking:
    """The result of :func:`link_by_overlap`.

    Attributes
    ----------
    labels : (T, Z, Y, X) ndarray
        The video with one id per track (same dtype as the input, or wider if needed).
    tracks : list of (int, int, int, int)
        CTC rows ``(L, B, E, P)``: track id, first and last frame, parent (0: none).
    links : list of dict
        Every (frame, input id) whose id changed: ``frame``, ``label`` (input id),
        ``track`` (new id), ``iou`` (with the track in the previous frame, 0 for a new
        track).
    rule : str
        The linking rule, in words.
    """

    labels: np.ndarray
    tracks: list[tuple[int, int, int, int]] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    rule: str = ""


def _match(prev: np.ndarray, cur: np.ndarray) -> tuple[dict[int, int], dict[int, float],
                                                         dict[int, int]]:
    """Hungarian matching of cur's cells to prev's tracks by IoU.

    Returns ``{cur id: track}`` for links with IoU >= LINK_IOU, their IoU, and for every
    cur id its most-overlapping prev track (any IoU > 0; the parent of a new track).
    """
    ids_p, ids_c, iou = overlaps(prev, cur)
    matched: dict[int, int] = {}
    score: dict[int, float] = {}
    if iou.size:
        rows, cols = linear_sum_assignment(iou, maximize=True)
        for r, c in zip(rows, cols):
            if iou[r, c] >= LINK_IOU:
                matched[int(ids_c[c])] = int(ids_p[r])
                score[int(ids_c[c])] = float(iou[r, c])
    best = {int(ids_c[c]): int(ids_p[int(np.argmax(iou[:, c]))])
            for c in range(len(ids_c)) if iou.size and iou[:, c].max() > 0}
    return matched, score, best


def link_by_overlap(labels: np.ndarray) -> Linking:
    """Give each cell one id over time by linking consecutive frames on overlap.

    Parameters
    ----------
    labels : (T, Z, Y, X) integer ndarray
        Ids as segmented, possibly renumbered in every frame.

    Returns
    -------
    Linking
        The relinked video, its CTC tracks and the changed ids (rule in the module
        docstring).
    """
    T = labels.shape[0]
    top = int(labels.max()) if labels.size else 0
    # a new track per cell and frame at most: (top + 1) * T ids
    out = np.zeros(labels.shape, np.uint16 if (top + 1) * T < 65535 else np.uint32)
    first = labels[0]
    out[0] = first
    span: dict[int, list[int]] = {int(i): [0, 0, 0] for i in np.unique(first[first > 0])}
    links: list[dict] = []
    for t in range(1, T):
        matched, score, best = _match(out[t - 1], labels[t])
        used = set(matched.values())
        lut: dict[int, int] = {}
        for lab in (int(i) for i in np.unique(labels[t][labels[t] > 0])):
            if lab in matched:
                lut[lab] = matched[lab]
                span[lut[lab]][1] = t
                continue
            new = lab if lab not in span else max([top, *span]) + 1
            parent = best.get(lab, 0) if best.get(lab, 0) in used else 0
            lut[lab] = new
            span[new] = [t, t, parent]
        for lab, track in lut.items():
            if lab != track:
                links.append({"frame": t, "label": lab, "track": track,
                              "iou": round(score.get(lab, 0.0), 4)})
        table = np.zeros(int(labels[t].max()) + 1, out.dtype)
        table[list(lut)] = list(lut.values())
        out[t] = table[labels[t]]
    tracks = [(lab, b, e, p) for lab, (b, e, p) in sorted(span.items())]
    rule = (f"Hungarian matching of consecutive frames on IoU (scipy linear_sum_assignment), "
            f"links with IoU >= {LINK_IOU}; unmatched cells start new tracks")
    return Linking(out, tracks, links, rule)


def write_man_track(path: str | os.PathLike, tracks: Sequence[Sequence[int]]) -> Path:
    """Write CTC ``man_track.txt`` rows ``L B E P`` (atomically)."""
    with atomic_path(Path(path), overwrite=True) as tmp:
        tmp.write_text("".join(f"{a} {b} {c} {d}\n" for a, b, c, d in tracks))
    return Path(path)
