"""The microscopy simulator against its forward model: background, noise, PSF, MIP, seeds."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.synthesis.microscopy import (MicroscopyConfig, fluorophore_density, max_projection,
                                             poisson_gaussian, simulate)


def _ball(size: int = 24, radius: float = 6.0) -> np.ndarray:
    g = np.arange(size) - (size - 1) / 2
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    return (z ** 2 + y ** 2 + x ** 2 <= radius ** 2).astype(np.uint8)


def test_background_level_and_poisson_gaussian_variance():
    cfg = MicroscopyConfig(background=20.0, gain=2.0, read_noise=3.0)
    vols, _ = simulate(np.zeros((2, 16, 32, 32), np.uint8), (1.0, 1.0, 1.0), cfg, seed=1)
    # no cells: counts = gain * Poisson(background) + N(0, read_noise^2)
    assert vols.mean() == pytest.approx(2.0 * 20.0, rel=0.01)
    assert vols.var() == pytest.approx(2.0 ** 2 * 20.0 + 3.0 ** 2, rel=0.05)


def test_noise_variance_follows_the_mean():
    rng = np.random.default_rng(0)
    for photons in (5.0, 50.0, 500.0):
        c = poisson_gaussian(np.full(40000, photons), gain=1.5, read_noise=2.0, rng=rng)
        assert c.mean() == pytest.approx(1.5 * photons, rel=0.02)
        assert c.var() == pytest.approx(1.5 ** 2 * photons + 4.0, rel=0.05)


def test_cells_are_brighter_and_mip_is_max_over_z():
    m = np.stack([_ball(), _ball(radius=7.0)])
    vols, mip = simulate(m, (0.5, 0.5, 0.5), seed=3)
    assert vols.shape == m.shape and vols.dtype == np.float32
    assert mip.shape == (2, 24, 24)
    np.testing.assert_array_equal(mip, vols.max(axis=1))
    np.testing.assert_array_equal(max_projection(vols), mip)
    inside, outside = vols[m > 0].mean(), vols[m == 0].mean()
    assert inside > 3 * outside


def test_membrane_mode_is_a_shell():
    d = fluorophore_density(_ball(radius=8.0)[None][0].astype(np.int32), (1.0, 1.0, 1.0),
                            "membrane", membrane_um=1.5)
    assert d[12, 12, 12] == 0  # centre dark
    assert d[12, 12, 12 - 7] == 1 or d[12, 12, 12 + 7] == 1  # near the surface bright
    assert 0 < d.sum() < _ball(radius=8.0).sum()


def test_same_seed_same_images_other_seed_other_images():
    m = _ball()[None]
    a, _ = simulate(m, seed=5)
    b, _ = simulate(m, seed=5)
    c, _ = simulate(m, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), -np.ones((1, 4, 4, 4), int),
                                 np.full((1, 4, 4, 4), 0.5)])
def test_bad_masks_raise(bad):
    with pytest.raises(InputError):
        simulate(bad)


def test_bad_config_raises():
    with pytest.raises(InputError):
        MicroscopyConfig(mode="brightfield")
    with pytest.raises(InputError):
        simulate(_ball()[None], spacing=(1.0, 0.0, 1.0))
