"""``oriented`` phantoms: growing cells with two off-centre lobes, so that they have one
orientation.

A growing phantom (:mod:`cellshapes.phantoms.growing`) is a lobed, anisotropic body, yet
close to an ellipsoid: two random rotations of one cell still overlap with DSC about 0.84
(6 cells x 4 rotations at 32^3, median), so whether a model recovered the rotation between
two copies is hard to see. An oriented phantom adds a large lobe and a smaller knob
attached to the body in two directions 60 to 100 degrees apart: the only rotation that
maps the cell onto itself is the identity. Both grow with the cell (radii 0.45 and 0.3 of
the body's equivalent-sphere radius). Not one of the paper's data sets: this kind exists
for the rotation experiment (notebook 04, ``benchmarks/rotation_init.py``).
"""
from __future__ import annotations

import numpy as np

from cellshapes.phantoms.geometry import Grid, random_dirs, unit
from cellshapes.phantoms.growing import draw_growing

__all__ = ["LOBE_RADII", "draw_oriented"]

#: Radii of the lobe and the knob, relative to the body's equivalent-sphere radius.
LOBE_RADII: tuple[float, float] = (0.6, 0.42)


def _second_direction(rng: np.random.Generator, d: np.ndarray) -> np.ndarray:
    """A unit vector at 60-100 degrees from ``d`` (random azimuth)."""
    side = unit(np.cross(d, random_dirs(rng, 1)[0]))
    angle = np.deg2rad(rng.uniform(60.0, 100.0))
    return unit(np.cos(angle) * d + np.sin(angle) * side)


def _add_ball(mask: np.ndarray, grid: Grid, centre: np.ndarray, radius: float) -> None:
    """Set the voxels of the ball (um) in ``mask`` (Z, Y, X), in place."""
    z, y, x = (grid.axis(k) for k in range(3))
    inside = ((z[:, None, None] - centre[0]) ** 2 + (y[None, :, None] - centre[1]) ** 2
              + (x[None, None, :] - centre[2]) ** 2) <= radius ** 2
    mask[inside] = 1


def draw_oriented(rng: np.random.Generator, taus: np.ndarray, grid: Grid) -> np.ndarray:
    """Draw one oriented cell: the growing cell of :func:`draw_growing` (same arguments,
    ``rng`` advanced further) plus a lobe and a knob on its surface, each centred at 0.9 of
    the body's extent from its centroid in its direction.

    Returns
    -------
    (T, Z, Y, X) uint8 ndarray
        Binary masks.
    """
    masks = draw_growing(rng, taus, grid)
    d1 = random_dirs(rng, 1)[0]
    dirs = (d1, _second_direction(rng, d1))
    pts = grid.points()
    voxel = float(np.prod(grid.spacings))
    for mask in masks:
        body = pts[mask.ravel() > 0]
        if not len(body):
            continue
        c = body.mean(0)
        r_eq = (3 * len(body) * voxel / (4 * np.pi)) ** (1 / 3)
        for d, rel in zip(dirs, LOBE_RADII):
            reach = float(((body - c) @ d).max())
            _add_ball(mask, grid, c + 0.9 * reach * d, rel * r_eq)
    return masks
