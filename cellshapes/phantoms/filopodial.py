"""``filopodial`` phantoms: a blebbing body whose filopodia grow and branch (like DS_Filo).

The paper's synthetic A549 cells carry filopodia that keep growing and branching for the
whole 30-frame sequence, so their surface is dominated by protrusions at the end (DS_Filo
sphericity 36 pi V^2 / A^3 = 0.021 at t = 30). Here:

* the body is a blebby star shape (broad lobes plus narrow blebs that rise and fall);
* two or three filopodia are already out at the first frame, further ones sprout until
  tau = 0.75, six to nine in all; each grows at a constant speed and never retracts;
* filopodia branch: a branch sprouts once its parent's tip has passed the branch point
  and grows like a filopodium;
* filopodia are capsule chains of radius :data:`FILOPODIUM_RADIUS_UM` (at least 1.5
  voxels at :data:`STUDY_SIZE`^3, i.e. 3 voxels thick) along persistent random walks
  that reach at most :data:`REACH_UM` from the body centre.

So the number of filopodia and their total length never decrease, and the sphericity
falls from about 0.7 to below 0.3 at 64^3. :func:`draw_filopodial` returns the count and
total length per frame with the masks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellshapes.phantoms.geometry import (Grid, Polar, StarShape, bend, cut_polyline, fit_in_ball,
                                          fit_in_box, log_axes, paint_capsule, point_at,
                                          random_dirs, random_rotation, star_scale, unit, window)

__all__ = ["FILOPODIUM_RADIUS_UM", "STUDY_SIZE", "REACH_UM", "Filopodium", "draw_filopodial"]

#: Range of filopodium radii in um. At the field of view of 40 um and a 64^3 grid
#: (0.625 um voxels) the thinnest is 1.76 voxels in radius: more than 3 voxels across.
FILOPODIUM_RADIUS_UM: tuple[float, float] = (1.1, 1.35)
#: Grid edge (voxels) of the study profile, at which filopodia must be >= 3 voxels thick.
STUDY_SIZE = 64
#: Farthest a filopodium's centre line reaches from the body centre (um). It bounds the
#: cell's extent, hence the cube ``prepare`` cuts (1.25 x the extent, 1.25 x about
#: 17.5 um): about 0.7 um voxels at 64^3, so the thinnest filopodia stay 3 voxels
#: across on the prepared study grid too, not only at 40 um / 64 = 0.625 um.
REACH_UM = 15.0

_STEP_UM = 2.0          # length of one random-walk step of a filopodium's centre line
_MIN_ANGLE = np.deg2rad(40.0)  # between the directions of two filopodia on the body


@dataclass(frozen=True)
class Filopodium:
    """One filopodium or branch: a centre line that grows from its base at constant speed.

    ``points[0]`` is the anchor; the first ``root`` um (inside the body for a primary
    filopodium, zero for a branch) are drawn as soon as it is born, the rest grows out at
    ``speed`` um per unit of normalised time from ``birth`` on, up to the full line.
    """

    points: np.ndarray       # (P, 3) centre line in um
    root: float              # um of the line inside the body
    radius: float            # um
    birth: float             # normalised time at which it leaves the body / its parent
    speed: float             # um per unit of normalised time
    parent: int              # index of the parent filopodium, -1 for a primary one

    @property
    def free_max(self) -> float:
        """Length (um) of the line outside the body when fully grown."""
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum()) - self.root

    def length(self, tau: float) -> float:
        """Grown length (um) outside the body / parent at normalised time ``tau``."""
        return float(np.clip(self.speed * (tau - self.birth), 0.0, self.free_max))

    def capsules(self, tau: float, radius: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Capsules (a, b, radius) in um making up the filopodium at ``tau`` (none before
        its birth)."""
        if tau <= self.birth:
            return []
        return cut_polyline(self.points, self.root + self.length(tau), radius)


def _walk(rng: np.random.Generator, start: np.ndarray, d: np.ndarray, length: float,
          sd_angle: float) -> np.ndarray:
    """(P, 3) persistent random walk of ``length`` um from ``start`` in direction ``d``."""
    steps = max(1, int(np.ceil(length / _STEP_UM)))
    pts = [start]
    for _ in range(steps):
        d = bend(rng, d, abs(rng.normal(0.0, sd_angle)))
        pts.append(pts[-1] + d * length / steps)
    return np.array(pts)


def _spread_dirs(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) random unit vectors at least ``_MIN_ANGLE`` apart where possible."""
    out: list[np.ndarray] = []
    for _ in range(50 * n):
        d = random_dirs(rng, 1)[0]
        if all(float(d @ e) < np.cos(_MIN_ANGLE) for e in out):
            out.append(d)
            if len(out) == n:
                break
    while len(out) < n:  # crowded: accept any direction
        out.append(random_dirs(rng, 1)[0])
    return np.array(out)


def _shrink(points: np.ndarray, base: np.ndarray, half: np.ndarray, centre: np.ndarray
            ) -> np.ndarray:
    """Scale the line about ``base`` until it lies in the box [-half, half] (um) and
    within :data:`REACH_UM` of the body ``centre``."""
    s = min(fit_in_box(points, base, half), fit_in_ball(points, base, centre, REACH_UM))
    return base + s * (points - base)


def _draw_filopodia(rng: np.random.Generator, centre: np.ndarray, surface: np.ndarray,
                    dirs: np.ndarray, half: np.ndarray) -> list[Filopodium]:
    """Primary filopodia along ``dirs`` (based at body radius ``surface`` um) and their
    branches, each kept inside the box [-half, half] (um, already less the radius)."""
    n = len(dirs)
    n_early = int(rng.integers(2, 4))
    births = np.concatenate([rng.uniform(-0.25, -0.05, n_early),
                             np.sort(rng.uniform(0.0, 0.75, n - n_early))])
    out: list[Filopodium] = []
    for d, r_surf, birth in zip(dirs, surface, births):
        radius = float(rng.uniform(*FILOPODIUM_RADIUS_UM))
        anchor = centre + 0.4 * r_surf * d
        base = centre + r_surf * d
        free = _walk(rng, base, bend(rng, d, rng.uniform(0.0, 0.35)),
                     float(rng.uniform(8.0, 13.0)), 0.18)
        free = _shrink(free, base, half, centre)
        pts = np.vstack([anchor, free])
        done = rng.uniform(0.95, 1.35)  # normalised time at which it would be fully grown
        parent = Filopodium(pts, 0.6 * r_surf, radius, float(birth), 1.0, -1)
        speed = parent.free_max / (done - birth)
        parent = Filopodium(pts, 0.6 * r_surf, radius, float(birth), float(speed), -1)
        k = len(out)
        out.append(parent)
        n_branch = int(rng.choice(3, p=[0.25, 0.45, 0.3]))
        for at in np.sort(rng.uniform(0.3, 0.8, n_branch)):
            s_b = float(at) * parent.free_max
            b_base = point_at(pts, parent.root + s_b)
            tangent = unit(point_at(pts, parent.root + s_b + 0.1) - b_base)
            b_pts = _walk(rng, b_base, bend(rng, tangent, rng.uniform(0.5, 1.0)),
                          float(rng.uniform(0.35, 0.6)) * parent.free_max, 0.2)
            b_pts = _shrink(b_pts, b_base, half, centre)
            b_birth = birth + s_b / speed + rng.uniform(0.02, 0.2)
            b_speed = speed * rng.uniform(0.7, 1.0)
            out.append(Filopodium(b_pts, 0.0, float(rng.uniform(*FILOPODIUM_RADIUS_UM)),
                                  float(b_birth), float(b_speed), k))
    return out


def draw_filopodial(rng: np.random.Generator, taus: np.ndarray, grid: Grid
                    ) -> tuple[np.ndarray, dict]:
    """Draw one filopodial cell at normalised times ``taus``.

    Parameters
    ----------
    rng, taus, grid
        Random generator (advanced), (T,) normalised times in [0, 1] and the sampling
        grid, as for :func:`cellshapes.phantoms.growing.draw_growing`.

    Returns
    -------
    masks : (T, Z, Y, X) uint8 ndarray
        Binary masks, one 26-connected component each.
    info : dict
        ``filopodia``: per frame ``{"count", "branches", "total_length_um"}`` (filopodia
        and branches out of the body / parent, branches among them, their summed grown
        length in um); ``filopodium_radius_um``: [min, max] radius drawn (um; never less
        than the coarsest voxel size, which keeps them connected on coarse grids).
    """
    rot = random_rotation(rng)
    axes0, axes1 = log_axes(rng, 0.1), log_axes(rng, 0.1)
    n_lobes = 5
    n_blebs = int(rng.integers(10, 19))
    k = n_lobes + n_blebs
    dirs = random_dirs(rng, k)
    kappa = np.concatenate([rng.uniform(2.0, 5.0, n_lobes), rng.uniform(18.0, 35.0, n_blebs)])
    lobe_base = rng.normal(0.0, 0.05, n_lobes)
    lobe_osc = rng.uniform(0.02, 0.06, n_lobes)
    lobe_freq = rng.uniform(0.25, 0.8, n_lobes)
    lobe_phase = rng.uniform(0.0, 2 * np.pi, n_lobes)
    bleb_amp = rng.uniform(0.1, 0.25, n_blebs)
    bleb_start = rng.uniform(-0.8, 0.9, n_blebs)
    bleb_dur = rng.uniform(0.5, 1.4, n_blebs)
    r0 = rng.uniform(5.2, 6.2)
    growth = rng.uniform(0.0, 0.15)
    centre = rng.normal(0.0, 0.5, 3)

    v0 = 4.0 / 3.0 * np.pi * r0 ** 3
    bodies = []
    for tau in taus:
        axes = axes0 ** (1 - tau) * axes1 ** tau
        amps = np.concatenate([
            lobe_base + lobe_osc * np.sin(2 * np.pi * lobe_freq * tau + lobe_phase),
            bleb_amp * window(tau, bleb_start, bleb_dur)])
        shape = StarShape(rot, axes, dirs, kappa, amps, np.zeros((0, 3)), np.zeros(0))
        bodies.append((shape, star_scale(shape, v0 * (1.0 + growth) ** tau)))

    fil_dirs = _spread_dirs(rng, int(rng.integers(6, 10)))
    # base of each filopodium: the body's largest radius along it over the sequence
    surface = np.max([scale * shape.radius(fil_dirs) for shape, scale in bodies], axis=0)
    paint_r = max(FILOPODIUM_RADIUS_UM[1], grid.max_spacing)
    half = grid.halves - 1.5 * grid.max_spacing - paint_r
    filopodia = _draw_filopodia(rng, centre, surface, fil_dirs, half)

    polar = Polar(grid, centre)
    masks = np.empty((len(taus),) + polar.shape, np.uint8)
    per_frame = []
    for i, (tau, (shape, scale)) in enumerate(zip(taus, bodies)):
        mask = polar.inside(shape, scale)
        for fil in filopodia:
            for a, b, r in fil.capsules(float(tau), max(fil.radius, grid.max_spacing)):
                paint_capsule(mask, grid, a, b, r)
        masks[i] = mask
        lengths = [fil.length(float(tau)) for fil in filopodia]
        per_frame.append({
            "count": int(sum(x > 0 for x in lengths)),
            "branches": int(sum(x > 0 for x, f in zip(lengths, filopodia) if f.parent >= 0)),
            "total_length_um": round(float(sum(lengths)), 4)})
    radii = [max(f.radius, grid.max_spacing) for f in filopodia]
    return masks, {"filopodia": per_frame,
                   "filopodium_radius_um": [round(min(radii), 4), round(max(radii), 4)]}
