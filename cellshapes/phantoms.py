"""Seeded procedural 3D+t cell masks: small stand-ins for the paper's three data sets.

Three kinds, each a binary mask sequence (T, Z, Y, X) on an isotropic grid:

``growing``
    A cell body like the early *Platynereis dumerilii* embryo cells: an ellipsoid whose
    surface carries a few broad lobes with smoothly varying amplitudes and one to three
    flattened contact faces (neighbour cells), growing 30-60 % in volume.
``dividing``
    Like the first *C. elegans* division: the mother grows, elongates and pinches at an
    (asymmetric) cleavage furrow; from ``division_frame = frames // 2`` on, two daughters
    drift apart and round up. Before the division frame the mask has exactly one
    26-connected component, from it on exactly two.
``filopodial``
    Like the synthetic A549 cells: a blebby body with thin, bent protrusions that extend,
    branch and retract. One 26-connected component in every frame.

Shapes are implicit functions evaluated on the whole voxel grid at once; geometry is
drawn in micrometres, so the same seed gives the same cell at every grid size. Only the
voxel-level safety margins (filopodium radius, cleavage neck, daughter gap) depend on the
grid, so that connectivity holds at every size >= :data:`MIN_SIZE`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_dir
from .errors import InputError
from .resources import check_memory

__all__ = ["KINDS", "FOV_UM", "MIN_SIZE", "make_sequence", "write_phantoms",
           "sequence_seed"]

#: Kinds of phantom cells, in the order of the paper's data sets.
KINDS: tuple[str, ...] = ("growing", "dividing", "filopodial")
#: Edge of the cubic field of view per kind, in um (spacing = FOV / size).
FOV_UM: dict[str, float] = {"growing": 30.0, "dividing": 40.0, "filopodial": 40.0}
#: Smallest grid edge (voxels) that still holds a recognisable cell.
MIN_SIZE = 16

_FORMAT = "cellshapes.phantoms"
_FORMAT_VERSION = 1


# ----------------------------------------------------------------------------- public API
def make_sequence(kind: str, frames: int, size: int,
                  seed: int | np.random.Generator) -> tuple[np.ndarray, dict]:
    """Make one seeded phantom sequence of binary cell masks.

    Parameters
    ----------
    kind : {"growing", "dividing", "filopodial"}
        Which data set to imitate (see the module docstring).
    frames : int
        Number of time points T >= 1 (>= 2 for ``"dividing"``). Frame k of T is at
        normalised time tau = k / (T - 1) in [0, 1] (tau = 0 when T == 1).
    size : int
        Cube edge S >= :data:`MIN_SIZE` in voxels. The field of view is
        ``FOV_UM[kind]`` um, so the isotropic spacing is ``FOV_UM[kind] / S`` um.
    seed : int or numpy.random.Generator
        Non-negative integer seed, or a generator (which is advanced).

    Returns
    -------
    masks : (T, S, S, S) uint8 ndarray
        Values 0/1, axes (t, z, y, x).
    meta : dict
        JSON-serialisable: ``kind``, ``frames``, ``size``, ``fov_um``, ``spacing_um``
        ([dz, dy, dx] in um), ``volume_um3`` (per frame). For ``"dividing"`` also
        ``lineage``: ``{"mother": 1, "daughters": [2, 3], "division_frame": k,
        "tracks": [{"label", "frame", "centroid_um" [z, y, x], "volume_um3"}, ...]}``;
        label 2 is the larger daughter. Centroids are in um from the centre of voxel
        (0, 0, 0), i.e. ``index * spacing``.

    Raises
    ------
    InputError
        Unknown kind, ``frames < 1`` (``< 2`` for dividing), ``size < MIN_SIZE`` or a
        negative seed.
    """
    _check_args(kind, frames, size)
    rng = _as_rng(seed)
    grid = _Grid(size, FOV_UM[kind] / size)
    taus = _frame_times(frames)
    meta: dict = {}
    if kind == "growing":
        masks = _growing(rng, taus, grid)
    elif kind == "filopodial":
        masks = _filopodial(rng, taus, grid)
    else:
        masks, lineage = _dividing(rng, frames, grid)
        meta["lineage"] = lineage
    vox = grid.spacing ** 3
    meta = {
        "kind": kind,
        "frames": frames,
        "size": size,
        "fov_um": FOV_UM[kind],
        "spacing_um": [grid.spacing] * 3,
        "volume_um3": [round(float(m.sum()) * vox, 4) for m in masks],
        **meta,
    }
    return masks, meta


def sequence_seed(seed: int, index: int) -> int:
    """Integer seed of sequence ``index`` in a set made with ``seed``.

    Derived with :class:`numpy.random.SeedSequence` (spawn key ``(index,)``), so it does
    not depend on how many sequences the set has, and
    ``make_sequence(kind, frames, size, sequence_seed(seed, i))`` rebuilds file ``i``.
    """
    child = np.random.SeedSequence(seed, spawn_key=(index,))
    return int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))  # fits int64/JSON


def write_phantoms(kind: str, out: str | os.PathLike, sequences: int = 4, frames: int = 10,
                   size: int = 64, seed: int = 0, overwrite: bool = False,
                   progress: bool = True) -> list[Path]:
    """Write a seeded set of phantom sequences as TIFFs plus ``phantoms.json``.

    Parameters
    ----------
    kind : {"growing", "dividing", "filopodial"}
        Phantom kind, see :func:`make_sequence`.
    out : path-like
        Output folder; it must not exist unless ``overwrite``. Built in a temporary
        sibling and renamed into place, so an interrupted run leaves nothing behind.
    sequences : int
        Number of sequences (>= 1); file ``seq_000.tif`` uses
        ``sequence_seed(seed, 0)`` and so on.
    frames, size : int
        Time points per sequence and cube edge in voxels, see :func:`make_sequence`.
    seed : int
        Non-negative base seed; the same seed gives byte-identical files.
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        Show a tqdm progress bar over sequences (on stderr).

    Returns
    -------
    list of Path
        The TIFF files, in sequence order. Each holds a (T, S, S, S) uint8 array
        (tifffile "shaped" TIFF, axes ``TZYX``, so ``tifffile.imread`` returns exactly
        that shape, also for T == 1), zlib-compressed, with ``spacing_um`` in its JSON
        description and the x/y resolution in pixels per um.

    Raises
    ------
    InputError
        Invalid kind, counts, size or seed (checked before anything is written).
    OutputExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    from tqdm.auto import tqdm

    _check_args(kind, frames, size)
    if isinstance(sequences, bool) or not isinstance(sequences, (int, np.integer)) \
            or sequences < 1:
        raise InputError(f"sequences must be an integer >= 1, got {sequences!r}")
    _check_seed(seed)
    # one sequence of uint8 masks plus a few float64 fields of the frame being drawn
    check_memory(int(frames) * int(size) ** 3 + 4 * 8 * int(size) ** 3,
                 f"phantoms: {frames} frame(s) x {size}^3", "reduce --size or --frames")
    out = Path(out)
    width = max(3, len(str(sequences - 1)))
    names = [f"seq_{i:0{width}d}.tif" for i in range(sequences)]
    spacing = FOV_UM[kind] / size
    index = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "kind": kind,
        "seed": int(seed),
        "size": int(size),
        "frames": int(frames),
        "fov_um": FOV_UM[kind],
        "spacing_um": [spacing] * 3,
        "axes": "TZYX",
        "dtype": "uint8",
        "sequences": [],
    }
    with atomic_dir(out, overwrite) as tmp:
        for i in tqdm(range(sequences), desc=f"phantoms {kind}", unit="seq",
                      disable=not progress):
            s = sequence_seed(int(seed), i)
            masks, meta = make_sequence(kind, frames, size, s)
            _write_tiff(tmp / names[i], masks, spacing)
            entry = {"file": names[i], "seed": s, "volume_um3": meta["volume_um3"]}
            if "lineage" in meta:
                entry["lineage"] = meta["lineage"]
            index["sequences"].append(entry)
        (tmp / "phantoms.json").write_text(json.dumps(index, indent=1) + "\n")
    return [out / n for n in names]


# ----------------------------------------------------------------------------- I/O edge
def _write_tiff(path: Path, masks: np.ndarray, spacing: float) -> None:
    """Write (T, Z, Y, X) uint8 masks as a shaped TIFF that reads back with that shape."""
    import tifffile

    tifffile.imwrite(
        path, np.ascontiguousarray(masks, dtype=np.uint8),
        metadata={"axes": "TZYX", "spacing_um": [spacing] * 3, "unit": "um"},
        resolution=(1.0 / spacing, 1.0 / spacing), resolutionunit="MICROMETER",
        compression="zlib", photometric="minisblack",
    )


# ----------------------------------------------------------------------------- validation
def _check_args(kind: str, frames: int, size: int) -> None:
    if kind not in KINDS:
        raise InputError(f"unknown phantom kind {kind!r}; choose one of {', '.join(KINDS)}")
    for name, value in (("frames", frames), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InputError(f"{name} must be an integer, got {value!r}")
    if frames < 1:
        raise InputError(f"frames must be >= 1, got {frames}")
    if kind == "dividing" and frames < 2:
        raise InputError(f"dividing phantoms need frames >= 2 (before and after the "
                         f"division), got {frames}")
    if size < MIN_SIZE:
        raise InputError(f"size {size} is too small to hold a cell; use size >= {MIN_SIZE}")


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")


def _as_rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    _check_seed(seed)
    return np.random.default_rng(int(seed))


def _frame_times(frames: int) -> np.ndarray:
    """Normalised time tau in [0, 1] of each frame (0 for a single frame)."""
    return np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)


# ----------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class _Grid:
    """Isotropic cube of ``size`` voxels per edge, centred on the origin, in um."""

    size: int
    spacing: float

    @property
    def half(self) -> float:
        """Distance (um) from the centre to the outermost voxel centres."""
        return 0.5 * (self.size - 1) * self.spacing

    def axis(self) -> np.ndarray:
        """(S,) float32 voxel-centre coordinates along one axis, in um."""
        return ((np.arange(self.size) - 0.5 * (self.size - 1)) * self.spacing).astype(np.float32)

    def points(self) -> np.ndarray:
        """(S**3, 3) float32 voxel centres (z, y, x) in um, in C order of the volume."""
        c = self.axis()
        zz, yy, xx = np.meshgrid(c, c, c, indexing="ij")
        return np.stack([zz.ravel(), yy.ravel(), xx.ravel()], axis=1)

    def index(self, coord_um: np.ndarray) -> np.ndarray:
        """Continuous voxel index of coordinates in um."""
        return np.asarray(coord_um) / self.spacing + 0.5 * (self.size - 1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly random 3x3 rotation matrix (from a normalised Gaussian quaternion)."""
    w, x, y, z = _unit(rng.normal(size=4))
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _random_dirs(rng: np.random.Generator, n: int) -> np.ndarray:
    return _unit(rng.normal(size=(n, 3)))


def _fibonacci_sphere(n: int = 4096) -> np.ndarray:
    """(n, 3) nearly uniform unit vectors, used as quadrature nodes on the sphere."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = np.pi * (1.0 + 5.0 ** 0.5) * i
    r = np.sqrt(1.0 - z * z)
    return np.stack([z, r * np.cos(phi), r * np.sin(phi)], axis=1)


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum with blend width ``k`` (same units as a, b)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _window(tau: float, start: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """Rise-and-fall envelope sin(pi x), x = (tau - start) / duration, zero outside [0, 1]."""
    x = np.clip((tau - start) / duration, 0.0, 1.0)
    return np.sin(np.pi * x)


# --------------------------------------------------------------------- star-shaped bodies
@dataclass(frozen=True)
class _StarShape:
    """Radius function r(u) of a star-shaped body at unit scale, for one time point.

    r(u) = ellipsoid(u) * (1 + sum_k amp_k exp(kappa_k (u . d_k - 1))), then smoothly
    cut by planes n_j . x = dist_j (flattened contact faces).
    """

    rot: np.ndarray          # (3, 3) columns: ellipsoid axes
    axes: np.ndarray         # (3,) relative semi-axes
    dirs: np.ndarray         # (K, 3) bump directions
    kappa: np.ndarray        # (K,) bump concentration (larger = narrower)
    amps: np.ndarray         # (K,) relative bump heights (negative = dent)
    plane_n: np.ndarray      # (J, 3) facet normals
    plane_d: np.ndarray      # (J,) facet distances (unit scale)

    def radius(self, u: np.ndarray) -> np.ndarray:
        """Radius (unit scale) along unit vectors ``u`` of shape (N, 3); returns (N,)."""
        dtype = u.dtype
        q = u @ self.rot.astype(dtype)
        r = 1.0 / np.sqrt(((q / self.axes.astype(dtype)) ** 2).sum(axis=1))
        if len(self.amps):
            bumps = np.exp(self.kappa.astype(dtype) * (u @ self.dirs.T.astype(dtype) - 1.0))
            r = r * np.maximum(1.0 + bumps @ self.amps.astype(dtype), 0.5)
        for n, d in zip(self.plane_n, self.plane_d):
            cos = np.maximum(u @ n.astype(dtype), 1e-3)
            r = _smin(r, d / cos, 0.15 * d)
        return r

    def ellipsoid_radius(self, u: np.ndarray) -> np.ndarray:
        q = u @ self.rot
        return 1.0 / np.sqrt(((q / self.axes) ** 2).sum(axis=-1))


_SPHERE = _fibonacci_sphere()


def _star_scale(shape: _StarShape, volume_um3: float) -> float:
    """Scale (um) that gives the star body ``volume_um3``: V = 4 pi / 3 * s^3 * mean r^3."""
    mean_r3 = float(np.mean(shape.radius(_SPHERE) ** 3))
    return (volume_um3 / (4.0 / 3.0 * np.pi * mean_r3)) ** (1.0 / 3.0)


class _Polar:
    """Distances and directions of all voxel centres from a centre point, cached.

    ``r_max`` [um] is the largest radius that keeps a body centred there 1.5 voxels
    inside the cube.
    """

    def __init__(self, grid: _Grid, centre: np.ndarray):
        p = grid.points() - centre.astype(np.float32)
        self.dist = np.linalg.norm(p, axis=1)
        self.u = p / np.maximum(self.dist, 1e-6)[:, None]
        self.shape = (grid.size,) * 3
        self.r_max = grid.half - float(np.abs(centre).max()) - 1.5 * grid.spacing

    def inside(self, shape: _StarShape, scale: float) -> np.ndarray:
        """(S, S, S) bool mask of |x| < min(scale * r(u), r_max)."""
        r_max = self.r_max
        # Only voxels in the shell between the smallest and largest radius need r(u).
        r_s = np.minimum(scale * shape.radius(_SPHERE.astype(np.float32)), r_max)
        lo, hi = 0.8 * float(r_s.min()), min(1.25 * float(r_s.max()), r_max)
        mask = self.dist < lo
        shell = np.flatnonzero((self.dist >= lo) & (self.dist < hi))
        r = np.minimum(scale * shape.radius(self.u[shell]), r_max)
        mask[shell] = self.dist[shell] < r
        return mask.reshape(self.shape)


def _log_axes(rng: np.random.Generator, sd: float) -> np.ndarray:
    a = np.exp(rng.normal(0.0, sd, size=3))
    return a / np.prod(a) ** (1.0 / 3.0)


# ----------------------------------------------------------------------------- growing
def _growing(rng: np.random.Generator, taus: np.ndarray, grid: _Grid) -> np.ndarray:
    """Embryo-like cell: anisotropic, lobed, with contact faces; volume x (1.3-1.6)."""
    rot = _random_rotation(rng)
    axes0, axes1 = _log_axes(rng, 0.16), _log_axes(rng, 0.16)
    k = 6
    dirs = _random_dirs(rng, k)
    kappa = rng.uniform(2.0, 4.5, k)
    base = rng.normal(0.0, 0.08, k)
    osc = rng.uniform(0.05, 0.12, k) * rng.choice([-1.0, 1.0], k)
    freq = rng.uniform(0.25, 0.8, k)
    phase = rng.uniform(0.0, 2 * np.pi, k)
    n_faces = int(rng.integers(1, 5))
    face_n = _random_dirs(rng, n_faces)
    face_frac = rng.uniform(0.66, 0.84, n_faces)
    face_press = rng.uniform(0.0, 0.08, n_faces)  # neighbours press harder as it grows
    r0 = rng.uniform(6.5, 8.0)
    growth = rng.uniform(0.3, 0.6)
    centre = rng.normal(0.0, 0.5, 3)

    polar = _Polar(grid, centre)
    v0 = 4.0 / 3.0 * np.pi * r0 ** 3
    masks = np.empty((len(taus),) + polar.shape, np.uint8)
    for i, tau in enumerate(taus):
        axes = axes0 ** (1 - tau) * axes1 ** tau
        amps = base + osc * np.sin(2 * np.pi * freq * tau + phase)
        body = _StarShape(rot, axes, dirs, kappa, amps, np.zeros((0, 3)), np.zeros(0))
        face_d = face_frac * (1 - face_press * tau) * body.ellipsoid_radius(face_n)
        shape = _StarShape(rot, axes, dirs, kappa, amps, face_n, face_d)
        scale = _star_scale(shape, v0 * (1.0 + growth) ** tau)
        masks[i] = polar.inside(shape, scale)
    return masks


# ----------------------------------------------------------------------------- filopodial
@dataclass(frozen=True)
class _Protrusion:
    """A bent filopodium: polyline from an anchor inside the body, plus optional branch."""

    points: np.ndarray       # (P, 3) polyline vertices in um (points[0] = anchor)
    radius: float            # um
    start: float             # envelope start (tau)
    duration: float          # envelope duration (tau)
    branch_at: float         # arclength of the branch base (inf: no branch)
    branch_dir: np.ndarray   # (3,) unit
    branch_len: float        # um at full extension
    branch_radius: float

    @property
    def length(self) -> float:
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())

    def segments(self, tau: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Capsules (a, b, radius) in um making up the protrusion at time ``tau``."""
        s = float(_window(tau, self.start, self.duration)) * self.length
        out = _cut_polyline(self.points, s, self.radius)
        if s > self.branch_at:
            base = _point_at(self.points, self.branch_at)
            frac = (s - self.branch_at) / (self.length - self.branch_at)
            out.append((base, base + frac * self.branch_len * self.branch_dir,
                        self.branch_radius))
        return out


def _point_at(points: np.ndarray, s: float) -> np.ndarray:
    seg = np.diff(points, axis=0)
    lens = np.linalg.norm(seg, axis=1)
    for a, d, n in zip(points[:-1], seg, lens):
        if s <= n:
            return a + d * (s / n)
        s -= n
    return points[-1].copy()


def _cut_polyline(points: np.ndarray, s: float, radius: float):
    out = []
    for a, b in zip(points[:-1], points[1:]):
        n = float(np.linalg.norm(b - a))
        if s <= 0:
            break
        out.append((a, a + (b - a) * min(1.0, s / n), radius))
        s -= n
    return out


def _bend(rng: np.random.Generator, d: np.ndarray, angle: float) -> np.ndarray:
    """Rotate unit vector ``d`` by ``angle`` (rad) towards a random perpendicular."""
    perp = _unit(np.cross(d, rng.normal(size=3)))
    return _unit(np.cos(angle) * d + np.sin(angle) * perp)


def _fit_in_box(points: np.ndarray, anchor: np.ndarray, half: float) -> float:
    """Largest s <= 1 with anchor + s (points - anchor) inside the cube [-half, half]^3."""
    d = points - anchor
    with np.errstate(divide="ignore", invalid="ignore"):
        lim = np.where(d > 0, (half - anchor) / d, np.where(d < 0, (-half - anchor) / d, np.inf))
    return float(min(1.0, lim.min()))


def _paint_capsule(mask: np.ndarray, grid: _Grid, a: np.ndarray, b: np.ndarray,
                   radius: float) -> None:
    """Set voxels within ``radius`` um of segment a-b (um) in ``mask`` (S, S, S)."""
    lo = np.floor(grid.index(np.minimum(a, b) - radius)).astype(int)
    hi = np.ceil(grid.index(np.maximum(a, b) + radius)).astype(int) + 1
    lo, hi = np.clip(lo, 0, grid.size), np.clip(hi, 0, grid.size)
    if np.any(hi <= lo):
        return
    c = grid.axis()
    z, y, x = np.meshgrid(c[lo[0]:hi[0]], c[lo[1]:hi[1]], c[lo[2]:hi[2]], indexing="ij")
    p = np.stack([z, y, x], axis=-1) - a.astype(np.float32)
    ab = (b - a).astype(np.float32)
    t = np.clip((p @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    dist2 = ((p - t[..., None] * ab) ** 2).sum(axis=-1)
    mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] |= dist2 <= radius * radius


def _filopodial(rng: np.random.Generator, taus: np.ndarray, grid: _Grid) -> np.ndarray:
    """A549-like cell: blebby body plus protrusions that extend, branch and retract."""
    rot = _random_rotation(rng)
    axes0, axes1 = _log_axes(rng, 0.1), _log_axes(rng, 0.1)
    n_lobes = 5
    n_blebs = int(rng.integers(10, 19))
    k = n_lobes + n_blebs
    dirs = _random_dirs(rng, k)
    kappa = np.concatenate([rng.uniform(2.0, 5.0, n_lobes), rng.uniform(18.0, 35.0, n_blebs)])
    lobe_base = rng.normal(0.0, 0.05, n_lobes)
    lobe_osc = rng.uniform(0.02, 0.06, n_lobes)
    lobe_freq = rng.uniform(0.25, 0.8, n_lobes)
    lobe_phase = rng.uniform(0.0, 2 * np.pi, n_lobes)
    bleb_amp = rng.uniform(0.1, 0.25, n_blebs)
    bleb_start = rng.uniform(-0.8, 0.9, n_blebs)
    bleb_dur = rng.uniform(0.5, 1.4, n_blebs)
    r0 = rng.uniform(6.5, 8.0)
    growth = rng.uniform(0.0, 0.15)
    centre = rng.normal(0.0, 0.5, 3)

    # Protrusions: anchored inside the body, radial through it, then bent outside.
    protrusions = []
    half = grid.half - 1.5 * grid.spacing
    for _ in range(int(rng.integers(5, 10))):
        d = _unit(rng.normal(size=3))
        anchor = centre + 0.45 * r0 * d
        length = rng.uniform(6.0, 13.0)
        pts = [anchor, anchor + 0.6 * r0 * d]
        for _ in range(3):
            d = _bend(rng, d, rng.uniform(0.0, 0.45))
            pts.append(pts[-1] + d * length / 3)
        pts = np.array(pts)
        radius = max(rng.uniform(0.6, 1.0), grid.spacing)
        has_branch = rng.random() < 0.5
        branch_at = 0.6 * r0 + rng.uniform(0.3, 0.65) * length
        branch_dir = _bend(rng, _unit(_point_at(pts, branch_at + 0.1) - _point_at(pts, branch_at)),
                           rng.uniform(0.45, 0.9))
        branch_len = rng.uniform(0.3, 0.6) * length
        start, duration = rng.uniform(-0.9, 0.5), rng.uniform(0.9, 1.7)
        # Shrink (about the anchor) until the fully extended protrusion stays in view.
        tip = _point_at(pts, branch_at) + branch_len * branch_dir
        extent = np.vstack([pts, tip]) if has_branch else pts
        s = _fit_in_box(extent, anchor, half - radius)
        pts = anchor + s * (pts - anchor)
        protrusions.append(_Protrusion(
            points=pts, radius=radius, start=start, duration=duration,
            branch_at=s * branch_at if has_branch else np.inf, branch_dir=branch_dir,
            branch_len=s * branch_len, branch_radius=max(0.85 * radius, grid.spacing)))

    polar = _Polar(grid, centre)
    v0 = 4.0 / 3.0 * np.pi * r0 ** 3
    masks = np.empty((len(taus),) + polar.shape, np.uint8)
    for i, tau in enumerate(taus):
        axes = axes0 ** (1 - tau) * axes1 ** tau
        amps = np.concatenate([
            lobe_base + lobe_osc * np.sin(2 * np.pi * lobe_freq * tau + lobe_phase),
            bleb_amp * _window(tau, bleb_start, bleb_dur)])
        shape = _StarShape(rot, axes, dirs, kappa, amps, np.zeros((0, 3)), np.zeros(0))
        scale = _star_scale(shape, v0 * (1.0 + growth) ** tau)
        mask = polar.inside(shape, scale)
        for prot in protrusions:
            for a, b, r in prot.segments(float(tau)):
                _paint_capsule(mask, grid, a, b, r)
        masks[i] = mask
    return masks


# ----------------------------------------------------------------------------- dividing
def _superellipse_half_volume(n: float) -> float:
    """I(n) = int_0^1 (1 - x^n)^(2/n) dx: volume of a half body of revolution / (pi b^2 a)."""
    x = (np.arange(2048) + 0.5) / 2048
    return float(np.mean((1.0 - x ** n) ** (2.0 / n)))


def _split_plane(frac_plus: float) -> float:
    """Position x0 = h0 / a of the plane that leaves ``frac_plus`` of a spheroid on h > h0."""
    lo, hi = -1.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if (1 - mid) ** 2 * (2 + mid) / 4 > frac_plus:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _dividing(rng: np.random.Generator, frames: int, grid: _Grid) -> tuple[np.ndarray, dict]:
    """C. elegans-like division: grow, elongate, furrow, split at frame ``frames // 2``."""
    axis = _random_dirs(rng, 1)[0]
    lateral = _unit(np.cross(axis, rng.normal(size=3)))
    r0 = rng.uniform(7.0, 8.0)
    growth = rng.uniform(0.1, 0.25)
    elong0 = rng.uniform(1.1, 1.3)         # the zygote is already prolate
    elong = rng.uniform(1.45, 1.7)
    frac = rng.uniform(0.5, 0.6)             # volume share of the larger daughter (label 2)
    depth_max = rng.uniform(0.85, 0.95)
    drift = rng.uniform(0.8, 2.5)            # um the daughters separate after division
    slide = rng.uniform(0.0, 1.5)            # um lateral sliding of the daughters
    blunt = rng.uniform(3.0, 4.0)            # contact-face flatness right after division
    centre = rng.normal(0.0, 0.5, 3)

    pts = grid.points() - centre.astype(np.float32)
    h_all = pts @ axis.astype(np.float32)
    shape3 = (grid.size,) * 3
    neck_min = max(1.0, 2.2 * grid.spacing)  # keeps the pre-division neck 26-connected
    gap_min = max(1.0, 2.5 * grid.spacing)   # > sqrt(3) voxels: daughters never touch
    v_div = 4.0 / 3.0 * np.pi * r0 ** 3 * (1 + growth)
    div = frames // 2
    masks = np.zeros((frames,) + shape3, np.uint8)
    tracks = []
    x0 = _split_plane(frac)

    def record(label: int, frame: int, m: np.ndarray) -> None:
        idx = np.argwhere(m)
        tracks.append({"label": label, "frame": frame,
                       "centroid_um": [round(float(c), 4) for c in idx.mean(axis=0) * grid.spacing],
                       "volume_um3": round(float(len(idx)) * grid.spacing ** 3, 4)})

    for f in range(div):                       # mother
        p = f / (div - 1) if div > 1 else 0.0
        lam = elong0 + (elong - elong0) * p
        radius = (3.0 / (4.0 * np.pi) * v_div / (1 + growth) * (1 + growth * p)) ** (1 / 3)
        a, b = lam ** (2 / 3) * radius, lam ** (-1 / 3) * radius
        h0, w = x0 * a, 0.3 * b
        e0 = b * np.sqrt(1 - x0 ** 2)
        depth = min(depth_max * p ** 2, max(0.0, 1.0 - neck_min / e0))

        def profile(h, a=a, b=b, h0=h0, w=w, depth=depth):
            return (b * np.sqrt(np.maximum(0.0, 1 - (h / a) ** 2))
                    * (1 - depth * np.exp(-((h - h0) / w) ** 2)))

        dh = 2 * a / 2048
        hs = -a + dh * (np.arange(2048) + 0.5)
        vol = np.pi * float(np.sum(profile(hs) ** 2)) * dh
        s = (4.0 / 3.0 * np.pi * radius ** 3 / vol) ** (1 / 3)   # >= 1: keep the volume
        h = h_all / s
        rho = np.sqrt(np.maximum((pts ** 2).sum(axis=1) - h_all ** 2, 0.0)) / s
        m = (rho < profile(h)).reshape(shape3)
        masks[f] = m
        record(1, f, m)

    for f in range(div, frames):               # daughters
        q = (f - div) / (frames - div - 1) if frames - div > 1 else 0.0
        gap = gap_min + drift * q
        n_in = blunt + (2.0 - blunt) * q
        lam = 0.92 + 0.08 * q
        parts = []
        for label, share, side in ((2, frac, 1.0), (3, 1 - frac, -1.0)):
            vol = share * v_div
            b = (vol / (np.pi * lam * (2 / 3 + _superellipse_half_volume(n_in)))) ** (1 / 3)
            a = lam * b
            parts.append((label, side, a, b, vol, side * (0.5 * gap + a)))
        shift = -sum(v * c for *_, v, c in parts) / sum(v for *_, v, _ in parts)
        m_all = np.zeros(shape3, bool)
        for label, side, a, b, vol, c in parts:
            offset = (c + shift) * axis + side * slide * q * lateral
            rel = pts - offset.astype(np.float32)
            h = rel @ axis.astype(np.float32)
            rho = np.sqrt(np.maximum((rel ** 2).sum(axis=1) - h ** 2, 0.0))
            x = np.abs(h) / a
            n = np.where(h * side < 0, n_in, 2.0)      # inner (contact) side is blunt
            prof = b * np.power(np.maximum(1 - np.minimum(x, 1.0) ** n, 0.0), 1 / n)
            m = ((x < 1) & (rho < prof)).reshape(shape3)
            m_all |= m
            record(label, f, m)
        masks[f] = m_all

    lineage = {"mother": 1, "daughters": [2, 3], "division_frame": div, "tracks": tracks}
    return masks, lineage
