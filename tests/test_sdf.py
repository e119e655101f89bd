"""mask_to_sdf, component choice and geometry against analytic spheres and ellipsoids."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.sdf import (centroid_um, check_mask, choose_label, mask_to_sdf, max_extent_um,
                            principal_axes, select_components, touches_border)

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


def test_check_mask_and_touches_border():
    m = np.zeros((4, 5, 6), np.uint8)
    m[1:3, 1:4, 1:5] = 7
    b = check_mask(m)
    assert b.dtype == bool and b.sum() == 2 * 3 * 4
    assert not touches_border(b)
    b[0, 2, 2] = True
    assert touches_border(b)
    with pytest.raises(InputError, match="3D"):
        check_mask(np.zeros((4, 4)))


def test_centroid_and_max_extent_of_a_box():
    m = np.zeros((10, 12, 14), bool)
    m[2:5, 3:8, 4:12] = True  # voxel centres z 2..4, y 3..7, x 4..11
    sp = (2.0, 0.5, 0.25)
    c = centroid_um(m, sp)
    assert np.allclose(c, (3.0 * 2.0, 5.0 * 0.5, 7.5 * 0.25))
    # farthest voxel centre from c: (1 * 2, 2 * 0.5, 3.5 * 0.25) um, plus half a voxel diagonal
    far = np.linalg.norm((2.0, 1.0, 0.875)) + 0.5 * np.linalg.norm(sp)
    assert max_extent_um(m, sp) == pytest.approx(far)
    assert max_extent_um(m, sp, centre_um=(0.0, 0.0, 0.0)) > far
