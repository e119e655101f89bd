"""mask_to_sdf and the cube pipeline against analytic spheres and ellipsoids."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.sdf import (centroid_um, choose_label, mask_to_sdf, max_extent_um,
                            prepare_sequence, principal_axes, resample_cube, select_components)

ANISO = (2.0, 0.5, 0.5)


def _grid(shape, spacing):
    return np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij")


def _ellipsoid(shape, spacing, centre, semi):
    z, y, x = _grid(shape, spacing)
    f = sum(((g - c) / a) ** 2 for g, c, a in zip((z, y, x), centre, semi))
    return f <= 1.0, (z, y, x)


def test_sphere_anisotropic_sign_and_magnitude():
    r, c = 10.0, (19.0, 16.2, 15.9)
    mask, (z, y, x) = _ellipsoid((20, 64, 64), ANISO, c, (r, r, r))
    sdf = mask_to_sdf(mask, ANISO)
    assert sdf.dtype == np.float32 and sdf.shape == mask.shape
    assert np.array_equal(sdf < 0, mask) and np.all(sdf != 0)
    true = np.sqrt((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) - r
    near = np.abs(true) < 3.0
    err = np.abs(sdf - true)[near]
    assert err.max() <= max(ANISO), err.max()  # within one (largest) voxel
    assert err.mean() < 0.5


def test_sphere_isotropic_half_voxel():
    r, c = 12.0, (20.3, 19.7, 20.1)
    mask, (z, y, x) = _ellipsoid((40, 40, 40), (1, 1, 1), c, (r, r, r))
    true = np.sqrt((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) - r
    err = np.abs(mask_to_sdf(mask) - true)[np.abs(true) < 3]
    assert err.max() < 0.8 and err.mean() < 0.3, (err.max(), err.mean())


def test_ellipsoid_anisotropic_axes():
    c, semi = (20.0, 16.0, 16.0), (12.0, 6.0, 9.0)
    mask, (z, y, x) = _ellipsoid((21, 64, 64), ANISO, c, semi)
    sdf = mask_to_sdf(mask, ANISO)
    assert np.array_equal(sdf < 0, mask)
    # Outside points on a principal axis: the nearest surface point is the vertex.
    iy, ix = 32, 32
    for k in range(mask.shape[0]):
        d = abs(z[k, iy, ix] - c[0]) - semi[0]
        if 0 < d < 6:
            assert abs(sdf[k, iy, ix] - d) <= ANISO[0]
    for j in range(mask.shape[2]):
        d = abs(x[10, iy, j] - c[2]) - semi[2]
        if 0 < d < 6:
            assert abs(sdf[10, iy, j] - d) <= 0.5


@pytest.mark.parametrize("bad", [np.zeros((5, 5, 5), bool), np.ones((5, 5, 5), bool),
                                 np.ones((5, 5), bool)])
def test_mask_to_sdf_rejects(bad):
    with pytest.raises(InputError):
        mask_to_sdf(bad)


def test_spacing_validated():
    m = np.zeros((5, 5, 5), bool)
    m[2, 2, 2] = True
    with pytest.raises(InputError):
        mask_to_sdf(m, (1, 0, 1))


def test_components_auto_keeps_daughters_drops_debris():
    m = np.zeros((20, 40, 40), bool)
    m[5:15, 5:15, 5:15] = True           # 1000
    m[5:14, 25:34, 25:34] = True         # 729: a daughter
    m[18, 38, 38] = True                 # debris
    kept, info = select_components(m)
    assert info == {"n_components": 3, "kept": 2, "sizes": [1000, 729, 1]}
    assert kept.sum() == 1729
    assert select_components(m, keep="largest")[0].sum() == 1000
    assert select_components(m, keep="all")[0].sum() == 1730


def test_choose_label():
    lab = np.zeros((2, 4, 4, 4), np.uint16)
    assert choose_label(lab + (np.arange(4) == 1))[0] == -1
    lab[0, :2] = 3
    lab[1, 2:3] = 7
    assert choose_label(lab)[0] == 3
    assert choose_label(lab, 7)[0] == 7
    with pytest.raises(InputError, match="labels present: 3, 7"):
        choose_label(lab, 5)


def test_principal_axes_proper_rotation_and_long_axis_first():
    sp = (1.0, 1.0, 1.0)
    m, _ = _ellipsoid((40, 40, 40), sp, (20, 20, 20), (4.0, 6.0, 12.0))
    R = principal_axes(m, sp)
    assert np.isclose(np.linalg.det(R), 1.0)
    assert abs(R[2, 0]) > 0.99  # the longest axis (x) is cube axis 0
    R2 = principal_axes(m, sp, reference=R)
    assert np.allclose(R2, R)


def test_prepare_sequence_sphere_volume_and_centre():
    r, c = 10.0, (21.0, 15.0, 17.0)
    mask, _ = _ellipsoid((22, 64, 64), ANISO, c, (r, r, r))
    scale = max_extent_um(mask, ANISO) * 1.25
    sdf, attrs = prepare_sequence(mask[None], ANISO, 64, scale)
    assert sdf.shape == (1, 64, 64, 64) and sdf.dtype == np.float32
    vol = (sdf[0] <= 0).sum() * attrs["voxel_um"] ** 3
    assert abs(vol / (4 / 3 * np.pi * r ** 3) - 1) < 0.02
    assert np.isclose(sdf.max(), 1.0)  # clamped outside, normalised by the clamp
    assert np.isclose(attrs["sdf_unit_um"], scale / 4)
    inside = np.argwhere(sdf[0] <= 0).mean(axis=0)
    assert np.allclose(inside, 31.5, atol=0.3)
    assert np.allclose(attrs["centroid_um"][0], centroid_um(mask, ANISO))
    # Distances in um match the analytic sphere within one output voxel near the surface.
    u = (-1 + 2 * np.arange(64) / 63) * scale
    zz, yy, xx = np.meshgrid(u, u, u, indexing="ij")
    true = np.sqrt(zz ** 2 + yy ** 2 + xx ** 2) - r
    near = np.abs(true) < 2
    assert np.abs(sdf[0] * attrs["sdf_unit_um"] - true)[near].max() < max(ANISO)


def test_prepare_sequence_align_and_empty_frame():
    m, _ = _ellipsoid((32, 32, 32), (1, 1, 1), (16, 16, 16), (4.0, 5.0, 10.0))
    sdf, attrs = prepare_sequence(np.stack([m, m]), (1, 1, 1), 24, 14.0, align=True)
    assert attrs["rotation"].shape == (2, 3, 3)
    ext = [np.ptp(np.argwhere(sdf[0] <= 0)[:, k]) for k in range(3)]
    assert ext[0] > ext[1] > ext[2]  # long axis along cube axis 0 after alignment
    with pytest.raises(InputError, match="frame 1 is empty"):
        prepare_sequence(np.stack([m, np.zeros_like(m)]), (1, 1, 1), 24, 14.0)


def test_resample_cube_corner_aligned():
    u = np.linspace(-1, 1, 33)
    z, y, x = np.meshgrid(u, u, u, indexing="ij")
    a = (z + 2 * y - x)[None].astype(np.float32)
    b = resample_cube(a, 17)
    v = np.linspace(-1, 1, 17)
    z, y, x = np.meshgrid(v, v, v, indexing="ij")
    assert np.allclose(b[0], z + 2 * y - x, atol=1e-5)
