"""Rendering cells on the scene grid and turning them into labels with lineage
(:mod:`cellshapes.synthesis.scene`)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from cellshapes.synthesis.scene_cells import SdfUm
from cellshapes.synthesis.scene_config import SceneConfig

__all__ = ["eval_box", "render_cell", "cell_tracks", "compose_cells", "enforce_gap",
           "keep_largest_components", "scene_tracks", "contact_faces"]


# ----------------------------------------------------------------------------- rendering
def eval_box(fn: SdfUm, t: float, lo: np.ndarray, n: np.ndarray, spacing: np.ndarray,
             centre: np.ndarray, band: bool = True, safety: float = 2.0) -> np.ndarray:
    """SDF (um) of one cell at the voxel centres of a box of the scene grid.

    Parameters
    ----------
    fn : callable
        :func:`cell_sdf` of the cell.
    t : float
        Model time.
    lo : (3,) ints
        First voxel index (z, y, x) of the box (may lie outside the field of view).
    n : (3,) ints
        Box size in voxels.
    spacing : (3,) floats
        Voxel size in um.
    centre : (3,) floats
        Cell centre in um.
    band : bool
        Coarse-to-fine (module notes); False: every voxel.
    safety : float
        Lipschitz bound (um per um) assumed by the band.

    Returns
    -------
    (n_z, n_y, n_x) float32 ndarray
        SDF in um; +inf outside the model's cube.
    """
    axes = [(lo[a] + np.arange(n[a]) + 0.5) * spacing[a] - centre[a] for a in range(3)]

    def at(idx: list[np.ndarray]) -> np.ndarray:
        g = np.meshgrid(*[axes[a][idx[a]] for a in range(3)], indexing="ij")
        shape = g[0].shape
        return fn(np.stack([x.ravel() for x in g], -1), t).reshape(shape)

    full = [np.arange(k) for k in n]
    if not band or min(n) < 4:
        return at(full)
    coarse = [np.unique(np.r_[np.arange(0, k, 2), k - 1]) for k in n]
    near = [c[np.clip(np.searchsorted(c, np.arange(k) - 0.5), 0, len(c) - 1)]
            for c, k in zip(coarse, n)]
    rank = [np.searchsorted(c, m) for c, m in zip(coarse, near)]
    approx = at(coarse)[np.ix_(*rank)]
    off = [((np.arange(k) - m) * s) ** 2 for k, m, s in zip(n, near, spacing)]
    dist = np.sqrt(off[0][:, None, None] + off[1][None, :, None] + off[2][None, None, :])
    unsure = np.abs(approx) <= safety * dist + 1e-6
    out = approx.astype(np.float32)
    idx = np.nonzero(unsure)
    if len(idx[0]):
        pts = np.stack([axes[a][idx[a]] for a in range(3)], -1)
        out[idx] = fn(pts, t)
    return out


def _box(points: np.ndarray, centre: np.ndarray, spacing: np.ndarray, pad: float
         ) -> tuple[np.ndarray, np.ndarray]:
    """First voxel index and size of the scene-grid box around a footprint (um)."""
    q = points + centre
    lo = np.floor((q.min(0) - pad) / spacing - 0.5).astype(int)
    hi = np.ceil((q.max(0) + pad) / spacing - 0.5).astype(int)
    return lo, hi - lo + 1


def _overlaps(lo: np.ndarray, n: np.ndarray, shape: Sequence[int]) -> bool:
    return bool(np.all(lo < np.asarray(shape)) and np.all(lo + n > 0))


def render_cell(fn: SdfUm, times: Sequence[float], centres: np.ndarray,
                prints: list[np.ndarray], cfg: SceneConfig, pad: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SDF of one cell per frame on one box that moves with the cell.

    Frame t's box is shifted by the cell's centre voxel ``shift[t]``, so that the masks
    of consecutive frames overlap where the cell does (for tracking its daughters), however
    fast it drifts.

    Returns
    -------
    sdf : (T, bz, by, bx) float32 ndarray
        SDF in um (+inf where not evaluated: outside the cube, or frames whose box misses
        the field of view).
    lo : (3,) ints
        Box start relative to the shift: voxel (k, j, i) of frame t is scene voxel
        ``lo + shift[t] + (k, j, i)``.
    shift : (T, 3) ints
        The cell's centre voxel per frame.
    """
    spacing = np.asarray(cfg.spacing, float)
    shift = np.round(centres / spacing - 0.5).astype(int)
    boxes = [_box(p, c, spacing, pad) if len(p) else None for p, c in zip(prints, centres)]
    used = [(b[0] - sh, b[1]) for b, sh in zip(boxes, shift) if b is not None]
    if not used:
        return np.full((len(times), 1, 1, 1), np.inf, np.float32), np.zeros(3, int), shift
    lo = np.min([b[0] for b in used], 0)
    n = np.max([b[0] + b[1] for b in used], 0) - lo
    sdf = np.full((len(times),) + tuple(n), np.inf, np.float32)
    for k, (t, b) in enumerate(zip(times, boxes)):
        if b is None or not _overlaps(b[0], b[1], cfg.shape):
            continue
        start = b[0] - shift[k] - lo
        s = tuple(slice(start[a], start[a] + b[1][a]) for a in range(3))
        sdf[(k,) + s] = eval_box(fn, t, b[0], b[1], spacing, centres[k], cfg.band,
                                 cfg.band_safety)
    return sdf, lo, shift


# ----------------------------------------------------------------------------- labels
def cell_tracks(mask: np.ndarray, divides: bool, fraction: float
                 ) -> tuple[np.ndarray, list[dict[str, int]], list[int]]:
    """Local labels and lineage of one cell's (T, ...) mask; island voxels per frame."""
    from cellshapes.synthesis.ctc import frame_components, track_components

    if divides:
        lab, tracks = track_components(mask, fraction)
    else:
        lab = np.zeros(mask.shape, np.int32)
        for t in range(mask.shape[0]):
            comp = frame_components(mask[t], 1.0)  # the largest component only
            lab[t] = comp > 0
        present = [t for t in range(mask.shape[0]) if lab[t].any()]
        tracks = [{"label": 1, "begin": present[0], "end": present[-1], "parent": 0}] \
            if present else []
    islands = [int((mask[t] & (lab[t] == 0)).sum()) for t in range(mask.shape[0])]
    return lab, tracks, islands


def _clip(lo: np.ndarray, n: np.ndarray, shape: Sequence[int]
          ) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices of the scene and of a box (first voxel ``lo``, size ``n``) where they meet."""
    a = np.maximum(lo, 0)
    b = np.minimum(lo + n, np.asarray(shape))
    b = np.maximum(a, b)
    return (tuple(slice(x, y) for x, y in zip(a, b)),
            tuple(slice(x - l, y - l) for x, y, l in zip(a, b, lo)))


def keep_largest_components(labels: np.ndarray) -> list[int]:
    """Keep the largest component of every label per frame (in place); removed voxels.

    Components are 26-connected in (T, Z, Y, X) videos, 8-connected in (T, Y, X) ones.
    """
    from scipy import ndimage

    removed = []
    for t in range(labels.shape[0]):
        gone = 0
        objs = ndimage.find_objects(labels[t])
        for lab, sl in enumerate(objs, start=1):
            if sl is None:
                continue
            mine = labels[t][sl] == lab
            comp, k = ndimage.label(mine, np.ones((3,) * mine.ndim, bool))
            if k > 1:
                sizes = np.bincount(comp.ravel())
                sizes[0] = 0
                drop = mine & (comp != sizes.argmax())
                labels[t][sl][drop] = 0
                gone += int(drop.sum())
        removed.append(gone)
    return removed


def scene_tracks(labels: np.ndarray, parents: dict[int, int]
                 ) -> tuple[np.ndarray, list[dict[str, int]]]:
    """CTC tracks of a label video; labels absent between appearances are split.

    Parameters
    ----------
    labels : (T, Z, Y, X) int ndarray
    parents : dict
        Parent label of each label (0 or missing: none).

    Returns
    -------
    labels : (T, Z, Y, X) int32 ndarray
        Renumbered 1..K in order of first frame.
    tracks : list of dict
        ``{"label", "begin", "end", "parent"}``; a parent that never appears becomes 0.
    """
    frames: dict[int, list[int]] = {}
    for t in range(labels.shape[0]):
        for lab in np.unique(labels[t]):
            if lab:
                frames.setdefault(int(lab), []).append(t)
    segs: list[tuple[int, int, int, int]] = []  # (old label, begin, end, segment no.)
    last: dict[int, int] = {}
    for lab in sorted(frames):
        runs = np.split(np.array(frames[lab]), np.flatnonzero(np.diff(frames[lab]) > 1) + 1)
        for k, r in enumerate(runs):
            segs.append((lab, int(r[0]), int(r[-1]), k))
    segs.sort(key=lambda s: (s[1], s[0], s[3]))
    new = np.zeros(labels.shape, np.int32)
    tracks = []
    for i, (lab, b, e, k) in enumerate(segs, start=1):
        new[b:e + 1][labels[b:e + 1] == lab] = i
        parent = last.get(lab, 0) if k else last.get(parents.get(lab, 0), 0)
        last[lab] = i
        tracks.append({"label": i, "begin": b, "end": e, "parent": parent})
    return new, tracks


def compose_cells(cells: list[dict[str, Any]], cfg: SceneConfig
             ) -> tuple[np.ndarray, dict[int, int], int]:
    """Scene labels from the cells' local labels; parents; voxels claimed twice."""
    shape = (cfg.frames,) + tuple(cfg.shape)
    labels = np.zeros(shape, np.int32)
    best = np.full(shape, np.inf, np.float32)
    parents: dict[int, int] = {}
    overlap, base = 0, 0
    for c in cells:
        n = np.asarray(c["local"].shape[1:])
        for t in range(cfg.frames):
            dst, src = _clip(c["lo"] + c["shift"][t], n, cfg.shape)
            loc, sdf = c["local"][t][src], c["sdf"][t][src]
            view, old = labels[t][dst], best[t][dst]
            mine = loc > 0
            overlap += int((mine & (view > 0)).sum())
            win = mine & (sdf < old)
            view[win] = loc[win] + base
            old[win] = sdf[win]
        for tr in c["tracks"]:
            parents[tr["label"] + base] = tr["parent"] + base if tr["parent"] else 0
        c["label_offset"] = base
        base += max([tr["label"] for tr in c["tracks"]], default=0)
    return labels, parents, overlap


def contact_faces(labels: np.ndarray) -> int:
    """Face-adjacent voxel pairs of two different cells, over all frames."""
    n = 0
    for ax in range(1, 4):
        a = np.moveaxis(labels, ax, 0)
        x, y = a[:-1], a[1:]
        n += int(((x > 0) & (y > 0) & (x != y)).sum())
    return n


def enforce_gap(labels: np.ndarray, owner: np.ndarray, spacing: Sequence[float], gap_um: float
                ) -> list[int]:
    """Remove voxels closer than ``gap_um`` to another cell (in place); removed per frame.

    Labels are visited in increasing order; a label loses its voxels whose centre lies
    less than ``gap_um`` (Euclidean, at ``spacing``) from a voxel of a smaller label of
    another cell. Afterwards every two labels of different cells are at least ``gap_um``
    apart, measured as :func:`scipy.ndimage.distance_transform_edt` with ``sampling``.

    Parameters
    ----------
    labels : (T, Z, Y, X) int ndarray
    owner : (K + 1,) int ndarray
        Cell of each label 0..K (labels of one cell, e.g. daughters, are not kept apart).
    spacing : (3,) floats
        Voxel size in um.
    gap_um : float
        Minimum distance in um; 0 does nothing.

    Returns
    -------
    list of int
        Voxels removed per frame.
    """
    from scipy import ndimage

    removed = [0] * labels.shape[0]
    if gap_um <= 0:
        return removed
    sp = np.asarray(spacing, float)
    pad = np.ceil(gap_um / sp).astype(int) + 1
    for t in range(labels.shape[0]):
        f = labels[t]
        for lab, sl in enumerate(ndimage.find_objects(f), start=1):
            if sl is None:
                continue
            box = tuple(slice(max(s.start - p, 0), min(s.stop + p, n))
                        for s, p, n in zip(sl, pad, f.shape))
            sub = f[box]
            other = (sub > 0) & (sub < lab) & (owner[sub] != owner[lab])
            if not other.any():
                continue
            near = (sub == lab) & (ndimage.distance_transform_edt(~other, sampling=sp) < gap_um)
            sub[near] = 0
            removed[t] += int(near.sum())
    return removed
