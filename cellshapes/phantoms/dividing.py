"""``dividing`` phantoms: a C. elegans-like first division with ground-truth lineage.

The mother grows, elongates and pinches at an (asymmetric) cleavage furrow; from
``division_frame = frames // 2`` on, two daughters drift apart and round up. Before the
division frame the mask has exactly one 26-connected component, from it on exactly two.
With ``align_daughters`` each daughter is rotated about its own centroid into its
principal axes after the division, as the paper prepared DS_Cele ("each daughter cell
was aligned separately", Sec 4.4).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cellshapes.phantoms.geometry import Grid, random_dirs, rotation_between, unit

__all__ = ["draw_dividing"]

_N_PROFILE = 2048  # samples of the 1D profiles used for volumes, moments and supports


def _superellipse_half_volume(n: float) -> float:
    """I(n) = int_0^1 (1 - x^n)^(2/n) dx: volume of a half body of revolution / (pi b^2 a)."""
    x = (np.arange(_N_PROFILE) + 0.5) / _N_PROFILE
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


def _daughter_profile(h: np.ndarray, a: float, b: float, side: float, n_in: float
                      ) -> np.ndarray:
    """Radius rho(h) of a daughter: half ellipse outside, half superellipse (n_in) inside."""
    x = np.abs(h) / a
    n = np.where(h * side < 0, n_in, 2.0)      # inner (contact) side is blunt
    return b * np.power(np.maximum(1 - np.minimum(x, 1.0) ** n, 0.0), 1 / n) * (x < 1)


class _Daughter:
    """A daughter body of revolution about ``axis`` with its centre at ``offset`` (um).

    ``delta`` is the centroid's position along the axis from ``offset``; ``axis_out`` the
    symmetry axis signed by positive skewness and ``longest`` whether it is the axis of
    largest variance (else the smallest; the other two are equal).
    """

    def __init__(self, a: float, b: float, side: float, n_in: float, axis: np.ndarray,
                 offset: np.ndarray):
        self.a, self.b, self.side, self.n_in = a, b, side, n_in
        self.axis, self.offset = axis, offset
        h = -a + 2 * a * (np.arange(_N_PROFILE) + 0.5) / _N_PROFILE
        rho = _daughter_profile(h, a, b, side, n_in)
        w = rho ** 2 / np.sum(rho ** 2)                # cross-section area weights
        self.delta = float(np.sum(w * h))
        hc = h - self.delta
        var_axial = float(np.sum(w * hc ** 2))
        var_perp = float(np.sum(w * rho ** 2 / 4))     # a disc: r^2 / 4 per direction
        self.longest = var_axial >= var_perp
        self.axis_out = axis if np.sum(w * hc ** 3) >= 0 else -axis
        self._hc, self._rho = hc, rho

    @property
    def centroid(self) -> np.ndarray:
        """(3,) centroid in um."""
        return self.offset + self.delta * self.axis

    def support(self, direction: np.ndarray, rot: np.ndarray) -> float:
        """How far (um) the body rotated by ``rot`` about its centroid reaches along
        unit ``direction`` from its centroid."""
        cos = float((rot.T @ direction) @ self.axis)
        sin = np.sqrt(max(0.0, 1.0 - cos * cos))
        return float(np.max(self._hc * cos + self._rho * sin))

    def inside(self, pts: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """(N,) bool: points (N, 3) in um inside the body rotated by ``rot`` about its
        centroid."""
        g = self.centroid
        rel = (pts - g.astype(np.float32)) @ rot.astype(np.float32) \
            + (self.delta * self.axis).astype(np.float32)
        return self._inside_local(rel)

    def inside_unrotated(self, pts: np.ndarray) -> np.ndarray:
        """(N,) bool: points (N, 3) in um inside the body as drawn (no rotation)."""
        return self._inside_local(pts - self.offset.astype(np.float32))

    def _inside_local(self, rel: np.ndarray) -> np.ndarray:
        h = rel @ self.axis.astype(np.float32)
        rho = np.sqrt(np.maximum((rel ** 2).sum(axis=1) - h ** 2, 0.0))
        return rho < _daughter_profile(h, self.a, self.b, self.side, self.n_in)


def _aligned(parts: list[tuple[int, float, _Daughter]], gap: float
             ) -> list[tuple[int, _Daughter, np.ndarray]]:
    """Rotate each daughter into its principal axes and keep them ``gap`` um apart.

    The symmetry axis goes to cube axis z (0) when it is the longest principal axis, to
    x (2) when it is the shortest, pointing to the side of positive skewness, as
    :func:`cellshapes.sdf.principal_axes` orders and signs axes. If the rotated bodies
    would come closer than ``gap``, both move apart along the line through their
    centroids, keeping the common centre of mass.
    """
    z_axis, x_axis = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    rots = [rotation_between(d.axis_out, z_axis if d.longest else x_axis)
            for _, _, d in parts]
    (_, v2, d2), (_, v3, d3) = parts
    u = unit(d2.centroid - d3.centroid)
    need = d2.support(u, rots[0]) + d3.support(-u, rots[1]) + gap
    dist = float(np.linalg.norm(d2.centroid - d3.centroid))
    if dist < need:
        push = need - dist
        d2.offset = d2.offset + push * v3 / (v2 + v3) * u
        d3.offset = d3.offset - push * v2 / (v2 + v3) * u
    return [(label, d, rot) for (label, _, d), rot in zip(parts, rots)]


def draw_dividing(rng: np.random.Generator, frames: int, grid: Grid,
                  align_daughters: bool = False) -> tuple[np.ndarray, dict]:
    """Draw one dividing cell: grow, elongate, furrow, split at frame ``frames // 2``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random choice (advanced).
    frames : int
        Number of frames T >= 2.
    grid : Grid
        Where to sample the shape.
    align_daughters : bool
        Rotate each daughter about its own centroid into its principal axes after the
        division (the random draws, volumes and centroids stay the same unless the
        daughters have to move apart to stay separate).

    Returns
    -------
    masks : (T, Z, Y, X) uint8 ndarray
        Binary masks.
    lineage : dict
        ``mother`` (1), ``daughters`` ([2, 3], 2 is the larger), ``division_frame``,
        ``aligned_daughters`` and ``tracks`` (per label and frame: ``centroid_um`` [z, y,
        x] from the centre of voxel (0, 0, 0), ``volume_um3``).
    """
    axis = random_dirs(rng, 1)[0]
    lateral = unit(np.cross(axis, rng.normal(size=3)))
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
    shape3 = grid.shape
    neck_min = max(1.0, 2.2 * grid.max_spacing)  # keeps the pre-division neck 26-connected
    gap_min = max(1.0, 2.5 * grid.max_spacing)   # > sqrt(3) voxels: daughters never touch
    v_div = 4.0 / 3.0 * np.pi * r0 ** 3 * (1 + growth)
    div = frames // 2
    masks = np.zeros((frames,) + shape3, np.uint8)
    tracks: list[dict] = []
    x0 = _split_plane(frac)
    spacings = grid.spacings
    voxel = float(np.prod(spacings))

    def record(label: int, frame: int, m: np.ndarray) -> None:
        idx = np.argwhere(m)
        tracks.append({"label": label, "frame": frame,
                       "centroid_um": [round(float(c), 4) for c in idx.mean(axis=0) * spacings],
                       "volume_um3": round(float(len(idx)) * voxel, 4)})

    for f in range(div):                       # mother
        p = f / (div - 1) if div > 1 else 0.0
        lam = elong0 + (elong - elong0) * p
        radius = (3.0 / (4.0 * np.pi) * v_div / (1 + growth) * (1 + growth * p)) ** (1 / 3)
        a, b = lam ** (2 / 3) * radius, lam ** (-1 / 3) * radius
        h0, w = x0 * a, 0.3 * b
        e0 = b * np.sqrt(1 - x0 ** 2)
        depth = min(depth_max * p ** 2, max(0.0, 1.0 - neck_min / e0))
        profile = _mother_profile(a, b, h0, w, depth)
        dh = 2 * a / _N_PROFILE
        hs = -a + dh * (np.arange(_N_PROFILE) + 0.5)
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
        sizes = []
        for label, share, side in ((2, frac, 1.0), (3, 1 - frac, -1.0)):
            vol = share * v_div
            b = (vol / (np.pi * lam * (2 / 3 + _superellipse_half_volume(n_in)))) ** (1 / 3)
            a = lam * b
            sizes.append((label, side, a, b, vol, side * (0.5 * gap + a)))
        shift = -sum(v * c for *_, v, c in sizes) / sum(v for *_, v, _ in sizes)
        parts = [(label, vol, _Daughter(a, b, side, n_in, axis,
                                        (c + shift) * axis + side * slide * q * lateral))
                 for label, side, a, b, vol, c in sizes]
        m_all = np.zeros(shape3, bool)
        if align_daughters:
            for label, d, rot in _aligned(parts, gap):
                m = d.inside(pts, rot).reshape(shape3)
                m_all |= m
                record(label, f, m)
        else:
            for label, _, d in parts:
                m = d.inside_unrotated(pts).reshape(shape3)
                m_all |= m
                record(label, f, m)
        masks[f] = m_all

    lineage = {"mother": 1, "daughters": [2, 3], "division_frame": div,
               "aligned_daughters": bool(align_daughters), "tracks": tracks}
    return masks, lineage


def _mother_profile(a: float, b: float, h0: float, w: float, depth: float
                    ) -> Callable[[np.ndarray], np.ndarray]:
    """rho(h) of the mother: a spheroid (semi-axes a, b) with a Gaussian furrow at h0."""
    def profile(h: np.ndarray) -> np.ndarray:
        return (b * np.sqrt(np.maximum(0.0, 1 - (h / a) ** 2))
                * (1 - depth * np.exp(-((h - h0) / w) ** 2)))
    return profile
