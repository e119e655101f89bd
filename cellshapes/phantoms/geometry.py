"""Geometry shared by the phantom kinds: the voxel grid, star-shaped bodies, capsules.

Everything is in micrometres, axes (z, y, x), with the origin at the centre of the field
of view. The kind modules (:mod:`.growing`, :mod:`.dividing`, :mod:`.filopodial`) draw
implicit shapes with these pieces and only ever sample them on a :class:`Grid`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "StarShape", "Polar", "SPHERE", "unit", "random_rotation", "random_dirs",
           "fibonacci_sphere", "smin", "window", "star_scale", "log_axes", "point_at",
           "cut_polyline", "bend", "fit_in_box", "fit_in_ball", "paint_capsule", "rotation_between"]


# ----------------------------------------------------------------------------- grid
@dataclass(frozen=True)
class Grid:
    """Box of voxels centred on the origin, in um: ``size`` voxels laterally (y, x).

    Parameters
    ----------
    size : int
        Voxels along y and x (and along z unless ``z_spacing`` is given).
    spacing : float
        Lateral voxel size (dy = dx) in um.
    z_spacing : float, optional
        Axial voxel size dz in um; default ``spacing`` (isotropic).
    nz : int, optional
        Voxels along z; default ``size``.
    """

    size: int
    spacing: float
    z_spacing: float | None = None
    nz: int | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(Z, Y, X) voxel counts."""
        return (self.size if self.nz is None else self.nz, self.size, self.size)

    @property
    def spacings(self) -> np.ndarray:
        """(3,) voxel size (dz, dy, dx) in um."""
        dz = self.spacing if self.z_spacing is None else self.z_spacing
        return np.array([dz, self.spacing, self.spacing])

    @property
    def max_spacing(self) -> float:
        """The coarsest voxel size in um (sets the connectivity safety margins)."""
        return float(self.spacings.max())

    @property
    def halves(self) -> np.ndarray:
        """(3,) distance (um) from the centre to the outermost voxel centres, per axis."""
        return 0.5 * (np.array(self.shape) - 1) * self.spacings

    @property
    def half(self) -> float:
        """Smallest of :attr:`halves`: the cube that fits in the box on every axis."""
        return float(self.halves.min())

    def axis(self, k: int = 2) -> np.ndarray:
        """(N_k,) float32 voxel-centre coordinates along axis ``k`` (0 = z), in um."""
        n, sp = self.shape[k], self.spacings[k]
        return ((np.arange(n) - 0.5 * (n - 1)) * sp).astype(np.float32)

    def points(self) -> np.ndarray:
        """(Z*Y*X, 3) float32 voxel centres (z, y, x) in um, in C order of the volume."""
        zz, yy, xx = np.meshgrid(self.axis(0), self.axis(1), self.axis(2), indexing="ij")
        return np.stack([zz.ravel(), yy.ravel(), xx.ravel()], axis=1)

    def index(self, coord_um: np.ndarray) -> np.ndarray:
        """Continuous voxel index (z, y, x) of coordinates ``(..., 3)`` in um."""
        return np.asarray(coord_um) / self.spacings + 0.5 * (np.array(self.shape) - 1)


# ----------------------------------------------------------------------------- vectors
def unit(v: np.ndarray) -> np.ndarray:
    """Vectors ``(..., 3)`` scaled to unit length along the last axis."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly random 3x3 rotation matrix (from a normalised Gaussian quaternion)."""
    w, x, y, z = unit(rng.normal(size=4))
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(3, 3) rotation R with ``R @ a`` parallel to ``b`` (shortest arc; a, b unit vectors)."""
    a, b = unit(np.asarray(a, float)), unit(np.asarray(b, float))
    v, c = np.cross(a, b), float(a @ b)
    if c < -1.0 + 1e-9:  # opposite: turn by pi about any axis perpendicular to a
        p = unit(np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0]))
        return 2.0 * np.outer(p, p) - np.eye(3)
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def random_dirs(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) independent uniformly random unit vectors."""
    return unit(rng.normal(size=(n, 3)))


def fibonacci_sphere(n: int = 4096) -> np.ndarray:
    """(n, 3) nearly uniform unit vectors, used as quadrature nodes on the sphere."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = np.pi * (1.0 + 5.0 ** 0.5) * i
    r = np.sqrt(1.0 - z * z)
    return np.stack([z, r * np.cos(phi), r * np.sin(phi)], axis=1)


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum with blend width ``k`` (same units as a, b)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def window(tau: float, start: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """Rise-and-fall envelope sin(pi x), x = (tau - start) / duration, zero outside [0, 1]."""
    x = np.clip((tau - start) / duration, 0.0, 1.0)
    return np.sin(np.pi * x)


def log_axes(rng: np.random.Generator, sd: float) -> np.ndarray:
    """(3,) random relative semi-axes, log-normal with ``sd``, product 1 (unit volume)."""
    a = np.exp(rng.normal(0.0, sd, size=3))
    return a / np.prod(a) ** (1.0 / 3.0)


# --------------------------------------------------------------------- star-shaped bodies
@dataclass(frozen=True)
class StarShape:
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
            r = smin(r, d / cos, 0.15 * d)
        return r

    def ellipsoid_radius(self, u: np.ndarray) -> np.ndarray:
        """Radius (unit scale) of the bare ellipsoid along unit vectors ``u`` (..., 3)."""
        q = u @ self.rot
        return 1.0 / np.sqrt(((q / self.axes) ** 2).sum(axis=-1))


#: (4096, 3) quadrature nodes on the unit sphere.
SPHERE = fibonacci_sphere()


def star_scale(shape: StarShape, volume_um3: float) -> float:
    """Scale (um) that gives the star body ``volume_um3``: V = 4 pi / 3 * s^3 * mean r^3."""
    mean_r3 = float(np.mean(shape.radius(SPHERE) ** 3))
    return (volume_um3 / (4.0 / 3.0 * np.pi * mean_r3)) ** (1.0 / 3.0)


class Polar:
    """Distances and directions of all voxel centres from a centre point, cached.

    ``r_max`` [um] is the largest radius that keeps a body centred there 1.5 (coarsest)
    voxels inside the box.
    """

    def __init__(self, grid: Grid, centre: np.ndarray):
        p = grid.points() - centre.astype(np.float32)
        self.dist = np.linalg.norm(p, axis=1)
        self.u = p / np.maximum(self.dist, 1e-6)[:, None]
        self.shape = grid.shape
        self.r_max = float((grid.halves - np.abs(centre)).min()) - 1.5 * grid.max_spacing

    def inside(self, shape: StarShape, scale: float) -> np.ndarray:
        """(Z, Y, X) bool mask of |x| < min(scale * r(u), r_max)."""
        r_max = self.r_max
        # Only voxels in the shell between the smallest and largest radius need r(u).
        r_s = np.minimum(scale * shape.radius(SPHERE.astype(np.float32)), r_max)
        lo, hi = 0.8 * float(r_s.min()), min(1.25 * float(r_s.max()), r_max)
        mask = self.dist < lo
        shell = np.flatnonzero((self.dist >= lo) & (self.dist < hi))
        r = np.minimum(scale * shape.radius(self.u[shell]), r_max)
        mask[shell] = self.dist[shell] < r
        return mask.reshape(self.shape)


# ----------------------------------------------------------------------------- polylines
def point_at(points: np.ndarray, s: float) -> np.ndarray:
    """(3,) point at arclength ``s`` (um) along the polyline ``points`` (P, 3)."""
    seg = np.diff(points, axis=0)
    lens = np.linalg.norm(seg, axis=1)
    for a, d, n in zip(points[:-1], seg, lens):
        if s <= n:
            return a + d * (s / n)
        s -= n
    return points[-1].copy()


def cut_polyline(points: np.ndarray, s: float, radius: float
                 ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Capsules (a, b, radius) covering the first ``s`` um of the polyline ``points``."""
    out = []
    for a, b in zip(points[:-1], points[1:]):
        n = float(np.linalg.norm(b - a))
        if s <= 0:
            break
        out.append((a, a + (b - a) * min(1.0, s / n), radius))
        s -= n
    return out


def bend(rng: np.random.Generator, d: np.ndarray, angle: float) -> np.ndarray:
    """Rotate unit vector ``d`` by ``angle`` (rad) towards a random perpendicular."""
    perp = unit(np.cross(d, rng.normal(size=3)))
    return unit(np.cos(angle) * d + np.sin(angle) * perp)


def fit_in_box(points: np.ndarray, anchor: np.ndarray, half: float | np.ndarray) -> float:
    """Largest s <= 1 with anchor + s (points - anchor) inside the box [-half, half] (um).

    ``half`` is a scalar (cube) or (3,) per-axis half-sides.
    """
    half = np.broadcast_to(np.asarray(half, float), (3,))
    d = points - anchor
    with np.errstate(divide="ignore", invalid="ignore"):
        lim = np.where(d > 0, (half - anchor) / d, np.where(d < 0, (-half - anchor) / d, np.inf))
    return float(min(1.0, lim.min()))


def fit_in_ball(points: np.ndarray, anchor: np.ndarray, centre: np.ndarray,
                radius: float) -> float:
    """Largest s <= 1 with anchor + s (points - anchor) within ``radius`` um of ``centre``.

    ``points`` is (P, 3) in um; ``anchor`` must lie inside the ball.
    """
    w = np.asarray(anchor, float) - centre
    d = np.asarray(points, float) - anchor
    dd = (d * d).sum(axis=1)
    wd = d @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        root = (-wd + np.sqrt(wd * wd - dd * (w @ w - radius * radius))) / dd
    return float(min(1.0, np.nanmin(np.where(dd > 0, root, np.inf))))


def paint_capsule(mask: np.ndarray, grid: Grid, a: np.ndarray, b: np.ndarray,
                  radius: float) -> None:
    """Set voxels within ``radius`` um of segment a-b (um) in ``mask`` (Z, Y, X), in place."""
    shape = np.array(grid.shape)
    lo = np.floor(grid.index(np.minimum(a, b) - radius)).astype(int)
    hi = np.ceil(grid.index(np.maximum(a, b) + radius)).astype(int) + 1
    lo, hi = np.clip(lo, 0, shape), np.clip(hi, 0, shape)
    if np.any(hi <= lo):
        return
    z, y, x = np.meshgrid(grid.axis(0)[lo[0]:hi[0]], grid.axis(1)[lo[1]:hi[1]],
                          grid.axis(2)[lo[2]:hi[2]], indexing="ij")
    p = np.stack([z, y, x], axis=-1) - a.astype(np.float32)
    ab = (b - a).astype(np.float32)
    t = np.clip((p @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    dist2 = ((p - t[..., None] * ab) ** 2).sum(axis=-1)
    mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] |= dist2 <= radius * radius
