"""Multi-cell 3D+t scenes from a trained model: many new cells per field of view, with lineage.

:func:`make_scene` draws ``cells`` new cells from the model's default latent sampler
(:func:`cellshapes.inference.generate.sample_codes`; :func:`draw_cells` is the one place
that calls it), gives each a uniformly random rotation, places them without overlap in a
field of view of ``shape`` voxels at an anisotropic ``spacing`` and lets them drift. Its
result is a :class:`Scene` (arrays and records, no I/O); :func:`write_scene` writes it.

Geometry
--------
A cell's SDF lives in the model's cube [-1, 1]^3; one unit of cube coordinate is
``scale_um`` um and one SDF unit is ``sdf_unit_um`` um (the training data's attributes).
A scene voxel (k, j, i) has its centre at ``u = ((k, j, i) + 0.5) * spacing`` um; the cell
with centre ``c_t`` (um) at frame t is evaluated at ``p = (u - c_t) / scale_um`` and time
``frame_times(frames)[t]``, i.e. the continuous SDF is sampled directly at the scene's
voxel centres (no masks are resampled). Points outside the cube are not evaluated (the
model never saw them). Evaluation is coarse-to-fine: every second voxel per axis first,
then every voxel whose nearest coarse value is within ``band_safety`` x its distance of
the surface (masks equal dense evaluation where the SDF is ``band_safety``-Lipschitz in
um per um; ``band=False`` evaluates every voxel).

Placement
---------
Each cell's footprint (the points of a ``footprint_size``^3 grid over the cube whose SDF
is within half a grid diagonal of the surface or inside, per frame) is used to place
cells by rejection sampling: a candidate is accepted when, in every frame, its footprint
stays at least ``gap_um`` + one footprint grid step from every placed cell's footprint.
The ``cells`` cells have their centre at frame 0 inside the field of view (extended by a
third of their radius) and at least ``min_visible`` of their footprint inside it; they
drift along a random 3D direction at ``drift_um`` um per frame and may leave. The
``entering`` further cells start entirely outside the field of view and drift into it
(at least ``min_visible`` of them inside at the last frame).

Labels and lineage
------------------
Per cell, 26-connected components are tracked over frames on the cell's own, unclipped
masks (:func:`cellshapes.synthesis.ctc.track_components`). For a dividing model
(``cell_type == "dividing"`` in its training data, or ``divides=True``) components of at
least ``island_fraction`` of the frame's largest become daughters: the mother's track
ends and each daughter starts a new label whose parent is the mother. Smaller
components are islands of the synthesis: they are removed from the labels and counted
per cell and frame in the provenance (for other models every component but the largest
is such an island). After clipping to the field of view every label is made one
26-connected component per frame (border fragments removed, counted); a label that is
absent in some frame between its first and last one is split, its later part a new label
with the earlier one as parent (as the Cell Tracking Challenge asks). Voxels claimed by
two cells (placement makes these rare) go to the cell with the smaller SDF and are
counted as ``overlap_voxels``.
"""
from __future__ import annotations

import inspect
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from cellshapes.errors import InputError

__all__ = ["SceneConfig", "Scene", "draw_cells", "sampler_record", "footprints", "place_cells",
           "eval_box", "make_scene", "scene_tracks", "scene_images", "write_scene",
           "scene_from_run", "resolve_run"]


@dataclass(frozen=True)
class SceneConfig:
    """Settings of a synthetic multi-cell scene.

    Attributes
    ----------
    cells : int
        Cells visible in the first frame (>= 1).
    frames : int
        Frames T (>= 1); the cells' time runs over the model's [-1, 1].
    shape : (3,) ints
        Field of view (Z, Y, X) in voxels.
    spacing : (3,) floats
        Voxel size (dz, dy, dx) in um.
    gap_um : float
        Minimum distance (um) between the footprints of two cells; 0 allows touching.
    seed : int
        Seed of codes, rotations, placement and drift.
    drift_um : float
        Drift speed of the cells in um per frame (random 3D direction per cell).
    entering : int
        Extra cells that start outside the field of view and drift into it (0 for T = 1).
    min_visible : float
        Share of a cell's footprint inside the field of view that counts as visible.
    island_fraction : float
        Components below this fraction of a cell's largest are islands, not daughters.
    divides : bool or None
        Daughters get labels (None: the model's ``cell_type`` is ``"dividing"``).
    footprint_size : int
        Edge of the cube grid for footprints (placement).
    band : bool
        Coarse-to-fine evaluation (module notes); False evaluates every voxel.
    band_safety : float
        Assumed Lipschitz bound of the SDF in um per um for the band.
    tries : int
        Placement candidates per cell before giving up.
    """

    cells: int
    frames: int
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    gap_um: float = 0.0
    seed: int = 0
    drift_um: float = 1.0
    entering: int = 1
    min_visible: float = 0.25
    island_fraction: float = 0.1
    divides: bool | None = None
    footprint_size: int = 24
    band: bool = True
    band_safety: float = 2.0
    tries: int = 3000

    def __post_init__(self) -> None:
        for name, low in (("cells", 1), ("frames", 1), ("entering", 0), ("footprint_size", 8),
                          ("tries", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < low:
                raise InputError(f"--{name.replace('_', '-')} must be an integer >= {low}, "
                                 f"got {v!r}")
        if len(self.shape) != 3 or any(int(s) != s or s < 1 for s in self.shape):
            raise InputError(f"--shape must be 3 integers >= 1 (Z Y X), got {self.shape}")
        if len(self.spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in self.spacing):
            raise InputError(f"--spacing must be 3 numbers > 0 (um, Z Y X), got {self.spacing}")
        for name in ("gap_um", "drift_um"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise InputError(f"--{name[:-3]} must be >= 0 um, got {getattr(self, name)}")
        for name in ("min_visible", "island_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise InputError(f"{name} must be in (0, 1], got {getattr(self, name)}")

    @property
    def extent_um(self) -> np.ndarray:
        """(3,) size of the field of view in um (z, y, x)."""
        return np.asarray(self.shape, float) * np.asarray(self.spacing, float)


@dataclass
class Scene:
    """A synthesized scene (pure data; :func:`write_scene` writes it).

    Attributes
    ----------
    labels : (T, Z, Y, X) int32 ndarray
        Cell labels (0 = background), each label one 26-connected component per frame.
    tracks : list of dict
        ``{"label", "begin", "end", "parent"}`` per label (CTC ``man_track.txt`` rows).
    spacing : (3,) floats
        Voxel size (dz, dy, dx) in um.
    record : dict
        Provenance: model, sampler, settings, per-cell code, rotation, offsets, labels,
        islands and fragments removed (module notes).
    """

    labels: np.ndarray
    tracks: list[dict[str, int]]
    spacing: tuple[float, float, float]
    record: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- cells
def sampler_record() -> dict[str, Any]:
    """The latent sampler scenes use: ``sample_codes`` with its default method."""
    from cellshapes.inference.generate import sample_codes

    method = inspect.signature(sample_codes).parameters["method"].default
    return {"function": "cellshapes.inference.generate.sample_codes", "method": method,
            "note": "the function's default method, read at run time"}


def draw_cells(learned: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """New codes from the default sampler and uniformly random rotations.

    Parameters
    ----------
    learned : (N, D) array
        The model's learned codes.
    n : int
        Cells to draw.
    seed : int

    Returns
    -------
    codes : (n, D) float32 array
    rotations : (n, 3, 3) float32 array
        Rotation matrices R; the decoder sees ``x @ R`` (as for training sequences).
    """
    from cellshapes.inference.generate import random_rotations, sample_codes
    from cellshapes.model import euler_to_matrix

    codes, _ = sample_codes(learned, n, seed=seed)  # default method: see sampler_record
    mats = euler_to_matrix(torch.tensor(random_rotations(n, seed)))
    return codes, mats.numpy().astype(np.float32)


SdfUm = Callable[[np.ndarray, float], np.ndarray]


def cell_sdf(model: Any, code: np.ndarray, rotation: np.ndarray, scale_um: float,
             sdf_unit_um: float, chunk: int = 1 << 16) -> SdfUm:
    """The SDF of one cell in um, at points in um relative to its centre.

    Returns
    -------
    callable
        ``f(points, t)``: points (P, 3) float (z, y, x) um, t the model time in [-1, 1]
        -> (P,) float32 SDF in um; +inf outside the model's cube.
    """
    dev = next(model.parameters()).device
    z = torch.as_tensor(code, dtype=torch.float32, device=dev).reshape(1, -1)
    rot = torch.as_tensor(rotation, dtype=torch.float32, device=dev).reshape(1, 3, 3)

    def fn(points: np.ndarray, t: float) -> np.ndarray:
        p = np.asarray(points, np.float32) / np.float32(scale_um)
        out = np.full(len(p), np.inf, np.float32)
        inside = np.flatnonzero(np.abs(p).max(axis=1) <= 1.0)
        tt = torch.tensor([float(t)], device=dev)
        with torch.no_grad():
            for s in range(0, len(inside), chunk):
                idx = inside[s:s + chunk]
                x = torch.as_tensor(p[idx], device=dev)[None]
                out[idx] = model.decode(x, tt, z, rot)[0].float().cpu().numpy() * sdf_unit_um
        return out

    return fn


def footprints(fn: SdfUm, times: Sequence[float], scale_um: float, size: int
               ) -> list[np.ndarray]:
    """Points (um, relative to the centre) that cover the cell in each frame.

    Parameters
    ----------
    fn : callable
        :func:`cell_sdf` of the cell.
    times : sequence of float
        Model times of the frames.
    scale_um : float
        um per unit cube coordinate.
    size : int
        Edge of the corner-aligned grid over the cube (dense evaluation).

    Returns
    -------
    list of (P_t, 3) float arrays
        Grid points whose SDF is <= half the grid diagonal (so every voxel the cell
        touches lies within half a diagonal of a point); one array per frame.
    """
    g = np.linspace(-scale_um, scale_um, size)
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    half_diag = 0.5 * np.sqrt(3.0) * (g[1] - g[0])
    return [pts[fn(pts, t) <= half_diag] for t in times]


# ----------------------------------------------------------------------------- placement
@dataclass
class _Placed:
    centres: np.ndarray  # (T, 3) um
    trees: list[Any]
    radius: np.ndarray  # (T,) um


def _visible(points: np.ndarray, centre: np.ndarray, extent: np.ndarray) -> float:
    if len(points) == 0:
        return 0.0
    q = points + centre
    return float(np.mean(np.all((q >= 0) & (q <= extent), axis=1)))


def _clear(cand: _Placed, pts: list[np.ndarray], placed: list[_Placed], gap: float) -> bool:
    """True if the candidate keeps ``gap`` um from every placed cell in every frame."""
    for other in placed:
        for t, p in enumerate(pts):
            d = cand.centres[t] - other.centres[t]
            if np.linalg.norm(d) > cand.radius[t] + other.radius[t] + gap or not len(p):
                continue
            dist, _ = other.trees[t].query(p + d, k=1, distance_upper_bound=gap)
            if np.isfinite(dist).any():
                return False
    return True


def _candidate(rng: np.random.Generator, cfg: SceneConfig, radius: float, entering: bool
               ) -> np.ndarray:
    """(T, 3) centres in um of one drifting candidate."""
    ext = cfg.extent_um
    steps = np.arange(cfg.frames, dtype=float)[:, None]
    if not entering:
        c0 = rng.uniform(-radius / 3, ext + radius / 3)
        v = rng.normal(size=3)
        return c0 + steps * cfg.drift_um * v / np.linalg.norm(v)
    end = rng.uniform(0.0, ext)
    ang = rng.uniform(0, 2 * np.pi)
    d = np.array([rng.normal(0, 0.2), np.sin(ang), np.cos(ang)])
    dist = rng.uniform(1.0, 2.5) * radius + rng.uniform(0.5, 1.0) * radius
    c0 = end - d / np.linalg.norm(d) * dist
    return c0 + steps / (cfg.frames - 1) * (end - c0)


def place_cells(prints: list[list[np.ndarray]], cfg: SceneConfig, step_um: float,
                rng: np.random.Generator) -> list[np.ndarray]:
    """Centres of all cells by rejection sampling (module notes).

    Parameters
    ----------
    prints : list of list of (P, 3) arrays
        Per cell and frame, the footprint points in um (:func:`footprints`); the first
        ``cfg.cells`` are visible at frame 0, the rest enter.
    cfg : SceneConfig
    step_um : float
        Footprint grid step; added to the gap as a margin.
    rng : numpy.random.Generator

    Returns
    -------
    list of (T, 3) arrays
        Centre of each cell per frame in um (z, y, x).

    Raises
    ------
    InputError
        A cell could not be placed in ``cfg.tries`` candidates.
    """
    from scipy.spatial import cKDTree

    ext, gap = cfg.extent_um, cfg.gap_um + step_um
    placed: list[_Placed] = []
    for i, pts in enumerate(prints):
        radius = np.array([np.linalg.norm(p, axis=1).max() if len(p) else 0.0 for p in pts])
        entering = i >= cfg.cells
        for _ in range(cfg.tries):
            centres = _candidate(rng, cfg, float(radius.max()), entering)
            first = _visible(pts[0], centres[0], ext)
            last = _visible(pts[-1], centres[-1], ext)
            ok = (first == 0.0 and last >= cfg.min_visible) if entering else \
                first >= cfg.min_visible
            cand = _Placed(centres, [], radius)
            if ok and _clear(cand, pts, placed, gap):
                cand.trees = [cKDTree(p if len(p) else np.zeros((1, 3)) + 1e9) for p in pts]
                placed.append(cand)
                break
        else:
            raise InputError(
                f"could place only {len(placed)} of {len(prints)} cells without overlap "
                f"(gap {cfg.gap_um} um) in a {' x '.join(f'{e:g}' for e in ext)} um field of "
                "view; use fewer --cells, a larger --shape or a smaller --gap")
    return [p.centres for p in placed]


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
def _cell_tracks(mask: np.ndarray, divides: bool, fraction: float
                 ) -> tuple[np.ndarray, list[dict[str, int]], list[int]]:
    """Local labels and lineage of one cell's (T, ...) mask; island voxels per frame."""
    from cellshapes.synthesis.ctc import _components, track_components

    if divides:
        lab, tracks = track_components(mask, fraction)
    else:
        lab = np.zeros(mask.shape, np.int32)
        for t in range(mask.shape[0]):
            comp = _components(mask[t], 1.0)  # the largest component only
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


def _one_component(labels: np.ndarray) -> list[int]:
    """Keep the largest 26-component of every label per frame (in place); removed voxels."""
    from scipy import ndimage

    removed = []
    for t in range(labels.shape[0]):
        gone = 0
        objs = ndimage.find_objects(labels[t])
        for lab, sl in enumerate(objs, start=1):
            if sl is None:
                continue
            mine = labels[t][sl] == lab
            comp, k = ndimage.label(mine, np.ones((3, 3, 3), bool))
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


def _compose(cells: list[dict[str, Any]], cfg: SceneConfig
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


def _contacts(labels: np.ndarray) -> int:
    """Face-adjacent voxel pairs of two different cells, over all frames."""
    n = 0
    for ax in range(1, 4):
        a = np.moveaxis(labels, ax, 0)
        x, y = a[:-1], a[1:]
        n += int(((x > 0) & (y > 0) & (x != y)).sum())
    return n


# ----------------------------------------------------------------------------- pipeline
def make_scene(model: Any, attrs: dict[str, Any], cfg: SceneConfig, progress: bool = False
               ) -> Scene:
    """Synthesize a multi-cell scene (module notes).

    Parameters
    ----------
    model : AutoDecoder
        A trained model (:func:`cellshapes.inference.reconstruct.load_run`).
    attrs : dict
        Training-data attributes: ``scale_um`` and ``sdf_unit_um`` (um), ``cell_type``.
    cfg : SceneConfig
    progress : bool
        A progress bar over cells.

    Returns
    -------
    Scene
    """
    from cellshapes.progress import track
    from cellshapes.training.sampling import frame_times

    scale, unit = float(attrs.get("scale_um", 1.0)), float(attrs.get("sdf_unit_um", 1.0))
    divides = (attrs.get("cell_type") == "dividing") if cfg.divides is None else cfg.divides
    entering = cfg.entering if cfg.frames > 1 else 0
    n = cfg.cells + entering
    codes, rots = draw_cells(model.codes.detach().cpu().numpy(), n, cfg.seed)
    times = [float(t) for t in frame_times(cfg.frames)]
    fns = [cell_sdf(model, codes[i], rots[i], scale, unit) for i in range(n)]
    step = 2.0 * scale / (cfg.footprint_size - 1)
    prints = [footprints(f, times, scale, cfg.footprint_size) for f in fns]
    rng = np.random.default_rng([cfg.seed, 36])
    centres = place_cells(prints, cfg, step, rng)
    cells = []
    for i in track(range(n), progress, desc="scene", unit="cell"):
        sdf, lo, shift = render_cell(fns[i], times, centres[i], prints[i], cfg, step)
        local, tracks, islands = _cell_tracks(sdf <= 0, divides, cfg.island_fraction)
        cells.append({"sdf": sdf, "lo": lo, "shift": shift, "local": local,
                      "tracks": tracks, "islands": islands})
    labels, parents, overlap = _compose(cells, cfg)
    fragments = _one_component(labels)
    labels, tracks = scene_tracks(labels, parents)
    record = _record(cfg, attrs, divides, codes, rots, centres, cells, overlap, fragments,
                     labels, tracks)
    return Scene(labels, tracks, tuple(float(s) for s in cfg.spacing), record)


def _record(cfg: SceneConfig, attrs: dict[str, Any], divides: bool, codes: np.ndarray,
            rots: np.ndarray, centres: list[np.ndarray], cells: list[dict[str, Any]],
            overlap: int, fragments: list[int], labels: np.ndarray,
            tracks: list[dict[str, int]]) -> dict[str, Any]:
    """The provenance of a scene (JSON-ready)."""
    from scipy.spatial.transform import Rotation

    spacing = np.asarray(cfg.spacing, float)
    per_cell = []
    for i, c in enumerate(cells):
        per_cell.append({
            "cell": i, "entering": i >= cfg.cells, "code": codes[i].tolist(),
            "rotation_matrix": rots[i].tolist(),
            "rotation_quaternion_xyzw": Rotation.from_matrix(rots[i]).as_quat().tolist(),
            "centre_um": centres[i].tolist(),
            "centre_voxel": (centres[i] / spacing - 0.5).tolist(),
            "velocity_um_per_frame": (np.diff(centres[i], axis=0)[0].tolist()
                                      if cfg.frames > 1 else [0.0, 0.0, 0.0]),
            "local_tracks": c["tracks"], "label_offset": c.get("label_offset", 0),
            "island_voxels_removed": c["islands"]})
    per_frame = [int(len(np.unique(f)) - 1) for f in labels]
    return {"format": "cellshapes.scene", "config": asdict(cfg), "sampler": sampler_record(),
            "model_attrs": {k: attrs.get(k) for k in ("scale_um", "sdf_unit_um", "cell_type")},
            "divides": bool(divides), "cells": per_cell, "labels_per_frame": per_frame,
            "overlap_voxels": int(overlap), "border_fragment_voxels_removed": fragments,
            "island_voxels_removed": int(sum(sum(c["islands"]) for c in cells)),
            "contact_voxel_faces": _contacts(labels),
            "divisions": int(sum(1 for t in tracks if t["parent"])),
            "tracks": tracks}


# ----------------------------------------------------------------------------- I/O edge
def resolve_run(run: str | os.PathLike) -> Path:
    """A run directory, or the directory of a shipped model given by name."""
    from cellshapes import pretrained

    path = Path(run)
    if path.is_dir():
        return path
    if str(run) in pretrained.available():
        return pretrained.load(str(run))
    raise InputError(f"{run}: neither a run directory nor a shipped model "
                     f"({', '.join(sorted(pretrained.available()))})")


def scene_from_run(run: str | os.PathLike, cfg: SceneConfig, device: str = "cpu",
                   progress: bool = False) -> Scene:
    """:func:`make_scene` with the model of a run directory or shipped model name."""
    from cellshapes.inference.reconstruct import load_run

    path = resolve_run(run)
    model, config = load_run(path, device)
    attrs = dict((config.get("data", {}).get("attrs") or [{}])[0])
    scene = make_scene(model, attrs, cfg, progress)
    scene.record["run"] = str(run)
    return scene


def scene_images(scene: Scene, microscope: Any = None, seed: int = 0) -> np.ndarray:
    """Simulated fluorescence images of a scene at its spacing.

    Parameters
    ----------
    scene : Scene
    microscope : MicroscopyConfig, optional
        PSF sigma (z, y, x) in um, background, signal, gain, read noise
        (:mod:`cellshapes.synthesis.microscopy`; estimated from a real image by
        :func:`cellshapes.synthesis.estimate.estimate_microscope`).
    seed : int
        Seed of texture, per-label brightness and noise.

    Returns
    -------
    (T, Z, Y, X) float32 ndarray
        Camera counts.
    """
    from cellshapes.synthesis.microscopy import simulate

    vols, _ = simulate(scene.labels, scene.spacing, microscope, seed)
    return vols


def write_scene(scene: Scene, out: str | os.PathLike, overwrite: bool = False,
                images: np.ndarray | None = None, ctc: bool = False) -> Path:
    """Write a scene into the folder ``out``, atomically.

    Files: ``labels.tif`` ((T, Z, Y, X) uint16/uint8, spacing in its ImageJ metadata),
    ``man_track.txt`` (CTC ``L B E P`` rows), ``scene.json`` (provenance); with
    ``images`` also ``images.tif`` (uint16 counts); with ``ctc`` also ``ctc/``: a Cell
    Tracking Challenge data set (``01/t000.tif``, ``01_GT/SEG``, ``01_GT/TRA`` with
    ``man_track.txt``; layout of :mod:`cellshapes.synthesis.ctc`).

    Raises
    ------
    InputError
        ``ctc`` without ``images``, or images of another shape than the labels.
    """
    from cellshapes.atomic import atomic_dir
    from cellshapes.io import write_tiff
    from cellshapes.synthesis.ctc import _to_uint16, _write_sequence, track_lines

    if ctc and images is None:
        raise InputError("a CTC export needs images (simulate them with scene_images)")
    if images is not None and np.shape(images) != scene.labels.shape:
        raise InputError(f"images {np.shape(images)} differ from labels {scene.labels.shape}")
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_tiff(tmp / "labels.tif", scene.labels, spacing=scene.spacing)
        (tmp / "man_track.txt").write_text(track_lines(scene.tracks))
        if images is not None:
            write_tiff(tmp / "images.tif", _to_uint16(images), spacing=scene.spacing)
        if ctc:
            _write_sequence(tmp / "ctc", "01", images, scene.labels, scene.tracks)
        rec = {**scene.record, "spacing_um": list(scene.spacing),
               "shape": list(scene.labels.shape), "images": images is not None, "ctc": ctc}
        (tmp / "scene.json").write_text(json.dumps(rec, indent=1) + "\n")
    return Path(out)
