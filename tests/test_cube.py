"""The cube pipeline (frame_to_cube, prepare_sequence), resampling and rotation of
prepared cubes, against analytic spheres, ellipsoids and linear fields."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cellshapes.cube import (CLAMP_FRACTION, default_clamp_um, frame_to_cube, prepare_sequence,
                             resample_cube, rotate_sdf_sequence)
from cellshapes.errors import InputError
from cellshapes.sdf import centroid_um, max_extent_um

ANISO = (2.0, 0.5, 0.5)


def _ellipsoid(shape, spacing, centre, semi):
    z, y, x = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij")
    f = sum(((g - c) / a) ** 2 for g, c, a in zip((z, y, x), centre, semi))
    return f <= 1.0, (z, y, x)


def test_default_clamp_is_32_of_256_voxels():
    assert CLAMP_FRACTION == 32 / 256
    assert default_clamp_um(128.0) == pytest.approx(32.0)  # cube edge 256 um
    assert default_clamp_um(10.0) == pytest.approx(2.5)


def test_frame_to_cube_sphere_volume_and_clamp():
    r = 6.0
    mask, _ = _ellipsoid((30, 30, 30), (1, 1, 1), (15, 15, 15), (r, r, r))
    cube = frame_to_cube(mask, (1, 1, 1), 33, 10.0, clamp_um=2.0)
    assert cube.shape == (33, 33, 33) and cube.dtype == np.float32
    assert cube.max() == pytest.approx(2.0)  # clamped outside
    voxel = 2 * 10.0 / 32
    vol_in = (cube <= 0).sum() * voxel ** 3
    assert abs(vol_in / (mask.sum() * 1.0) - 1) < 0.03  # preserve_volume
    with pytest.raises(InputError, match="size"):
        frame_to_cube(mask, (1, 1, 1), 1, 10.0, clamp_um=2.0)
    with pytest.raises(InputError, match="spacing"):
        frame_to_cube(mask, (1, 0, 1), 33, 10.0, clamp_um=2.0)


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


def test_rotate_90_degrees_equals_rot90():
    a = np.random.default_rng(0).random((2, 9, 9, 9)).astype(np.float32)
    quarter = {  # rotation taking the first named axis to the second, on (z, y, x)
        (2, 3): np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]),
        (1, 3): np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]]),
        (1, 2): np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]]),
    }
    for axes, r in quarter.items():
        assert np.allclose(rotate_sdf_sequence(a, r, 5.0), np.rot90(a, 1, axes=axes),
                           atol=1e-6), axes
        back = rotate_sdf_sequence(a, r.T, 5.0)
        assert np.allclose(back, np.rot90(a, -1, axes=axes), atol=1e-6)


def test_rotate_sphere_invariant_and_clamp_fills_corners():
    g = np.linspace(-1, 1, 21)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    sdf = np.minimum(np.sqrt(z ** 2 + y ** 2 + x ** 2) - 0.5, 0.4)[None].astype(np.float32)
    r = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    out = rotate_sdf_sequence(sdf, r, 0.4)
    assert out.shape == sdf.shape and out.max() <= 0.4
    rad = np.sqrt(z ** 2 + y ** 2 + x ** 2)
    assert np.abs(out - sdf)[0][(rad > 0.2) & (rad < 0.8)].max() < 0.015  # trilinear
    assert out[0, 0, 0, 0] == pytest.approx(0.4)  # corner comes from outside the cube
    n_in = int((sdf <= 0).sum())
    assert abs(int((out <= 0).sum()) - n_in) <= 0.06 * n_in  # radius of only 5 voxels


def test_rotate_rejects_bad_inputs():
    with pytest.raises(InputError):
        rotate_sdf_sequence(np.zeros((4, 4, 4)), np.eye(3), 1.0)
    with pytest.raises(InputError):
        rotate_sdf_sequence(np.zeros((1, 4, 4, 4)), np.diag([1.0, 1.0, -1.0]), 1.0)
    with pytest.raises(InputError):
        rotate_sdf_sequence(np.zeros((1, 4, 4, 4)), 2 * np.eye(3), 1.0)
