"""``growing`` phantoms: lobed embryo cells that grow about tenfold (like DS_Plat).

The paper's *Platynereis dumerilii* cells span 586-5720 um^3; a growing phantom starts at
480-650 um^3 and grows exponentially in time by a factor of 8.5-11, so one sequence covers
about the data set's range. The body is an anisotropic ellipsoid with broad lobes of
smoothly varying amplitude and one to four flattened contact faces (neighbour cells)
that press harder as the cell grows.
"""
from __future__ import annotations

import numpy as np

from cellshapes.phantoms.geometry import (Grid, Polar, StarShape, log_axes, random_dirs,
                                          random_rotation, star_scale)

__all__ = ["VOLUME_UM3", "GROWTH", "draw_growing"]

#: Range of the first frame's volume (um^3).
VOLUME_UM3: tuple[float, float] = (480.0, 650.0)
#: Range of the volume ratio last / first frame.
GROWTH: tuple[float, float] = (8.5, 11.0)


def draw_growing(rng: np.random.Generator, taus: np.ndarray, grid: Grid) -> np.ndarray:
    """Draw one growing cell at normalised times ``taus``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random choice (advanced).
    taus : (T,) ndarray of float
        Normalised times in [0, 1].
    grid : Grid
        Where to sample the shape.

    Returns
    -------
    (T, Z, Y, X) uint8 ndarray
        Binary masks; volume V(tau) = V0 * growth ** tau.
    """
    rot = random_rotation(rng)
    axes0, axes1 = log_axes(rng, 0.12), log_axes(rng, 0.12)
    k = 6
    dirs = random_dirs(rng, k)
    kappa = rng.uniform(2.0, 4.5, k)
    base = rng.normal(0.0, 0.06, k)
    osc = rng.uniform(0.04, 0.1, k) * rng.choice([-1.0, 1.0], k)
    freq = rng.uniform(0.25, 0.8, k)
    phase = rng.uniform(0.0, 2 * np.pi, k)
    n_faces = int(rng.integers(1, 5))
    face_n = random_dirs(rng, n_faces)
    face_frac = rng.uniform(0.7, 0.86, n_faces)
    face_press = rng.uniform(0.0, 0.08, n_faces)  # neighbours press harder as it grows
    v0 = rng.uniform(*VOLUME_UM3)
    growth = rng.uniform(*GROWTH)
    centre = rng.normal(0.0, 0.4, 3)

    polar = Polar(grid, centre)
    masks = np.empty((len(taus),) + polar.shape, np.uint8)
    for i, tau in enumerate(taus):
        axes = axes0 ** (1 - tau) * axes1 ** tau
        amps = base + osc * np.sin(2 * np.pi * freq * tau + phase)
        body = StarShape(rot, axes, dirs, kappa, amps, np.zeros((0, 3)), np.zeros(0))
        face_d = face_frac * (1 - face_press * tau) * body.ellipsoid_radius(face_n)
        shape = StarShape(rot, axes, dirs, kappa, amps, face_n, face_d)
        scale = star_scale(shape, v0 * growth ** tau)
        masks[i] = polar.inside(shape, scale)
    return masks
