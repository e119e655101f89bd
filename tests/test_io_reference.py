"""Reference-implementation ``sdf_vid`` files: MATLAB axis order, detection, errors."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from cellshapes.errors import DatasetFormatError
from cellshapes.io import (clamp_units_to_reference, is_reference_sdf, read_dataset,
                           read_reference_sdf, reference_clamp_voxels, reference_to_clamp_units,
                           write_reference_sdf)
from cellshapes.io.reference import ReferenceUnitsWarning


def test_reference_layout(tmp_path):
    arr = np.random.default_rng(2).normal(size=(2, 4, 5, 6)).astype(np.float32)
    with h5py.File(tmp_path / "ref.h5", "w") as f:  # what MATLAB's [T Z Y X] looks like
        f["sdf_vid"] = arr.transpose(3, 2, 1, 0)
    assert np.array_equal(read_reference_sdf(tmp_path / "ref.h5"), arr)
    write_reference_sdf(tmp_path / "out.h5", arr)
    with h5py.File(tmp_path / "out.h5") as f:
        assert f["sdf_vid"].shape == (6, 5, 4, 2)
        assert np.array_equal(f["sdf_vid"][...].transpose(3, 2, 1, 0), arr)
    with pytest.raises(DatasetFormatError, match="sdf_vid"):
        read_dataset(tmp_path / "out.h5")  # a reference file is not a prepared dataset


def test_is_reference_sdf_and_bad_files(tmp_path):
    write_reference_sdf(tmp_path / "ref.h5", np.zeros((1, 3, 3, 3)))
    assert is_reference_sdf(tmp_path / "ref.h5")
    (tmp_path / "text.h5").write_text("hello")
    assert not is_reference_sdf(tmp_path / "text.h5")
    assert not is_reference_sdf(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    assert not is_reference_sdf(tmp_path / "other.h5")
    with pytest.raises(DatasetFormatError, match="no 'sdf_vid'"):
        read_reference_sdf(tmp_path / "other.h5")
    with h5py.File(tmp_path / "flat.h5", "w") as f:
        f["sdf_vid"] = np.zeros((4, 4))
    with pytest.raises(DatasetFormatError, match="3D or 4D"):
        read_reference_sdf(tmp_path / "flat.h5")
    with h5py.File(tmp_path / "one.h5", "w") as f:  # a single MATLAB frame is 3D
        f["sdf_vid"] = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    one = read_reference_sdf(tmp_path / "one.h5")
    assert one.shape == (1, 2, 3, 4) and one[0, 1, 2, 3] == 3 * 6 + 2 * 2 + 1


# ------------------------------------------------------------------ units of a reference
def _sphere_vox(n: int, r: float) -> np.ndarray:
    """True signed distance (voxels) to a sphere of radius r centred in an n^3 grid."""
    c = (n - 1) / 2
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) - c,) * 3, indexing="ij")
    return np.sqrt(z * z + y * y + x * x) - r


def _as_stored(d_vox: np.ndarray, clamp: float) -> np.ndarray:
    """What the reference stores: clamp outside, divide the frame by its max |sdf|."""
    a = np.minimum(d_vox, clamp)
    return (a / np.abs(a).max()).astype(np.float32)


def test_clamp_voxels_of_a_reference_grid():
    assert reference_clamp_voxels(256) == 32
    assert reference_clamp_voxels(64) == pytest.approx(32 * 63 / 255)


def test_frames_deeper_than_the_clamp_get_one_unit():
    n = 64
    clamp = reference_clamp_voxels(n)                    # 7.9 voxels
    shallow, deep = _sphere_vox(n, 6.0), _sphere_vox(n, 20.0)  # depth 6 < clamp < 20
    stored = np.stack([_as_stored(shallow, clamp), _as_stored(deep, clamp)])
    depth = -deep.min()                                  # 19.1 voxels at the grid points
    assert stored[1].max() == pytest.approx(clamp / depth, rel=1e-6)  # what the reference does
    units, peaks = reference_to_clamp_units(stored)
    np.testing.assert_allclose(peaks, [1.0, clamp / depth], rtol=1e-6)
    for k, d in enumerate((shallow, deep)):
        np.testing.assert_allclose(units[k] * clamp, np.minimum(d, clamp), atol=1e-4)
    assert units[1].min() * clamp == pytest.approx(-depth, rel=1e-5)   # the inside depth
    back = clamp_units_to_reference(units)
    np.testing.assert_allclose(back, stored, atol=1e-6)


def test_a_frame_that_never_reaches_the_clamp_takes_its_units_from_the_slope():
    n = 64
    clamp = reference_clamp_voxels(n)
    fills = _sphere_vox(n, 50.0)       # box corners only 4.6 voxels outside: clamp unseen
    assert fills.max() < clamp
    stored = np.stack([_as_stored(_sphere_vox(n, 20.0), clamp), _as_stored(fills, clamp)])
    with pytest.warns(ReferenceUnitsWarning, match=r"frame 1 does not reach .* slope"):
        units, _ = reference_to_clamp_units(stored, "cell.h5")
    inside = fills < 0
    np.testing.assert_allclose(units[1][inside] * clamp, fills[inside], rtol=0.01, atol=0.05)
    np.testing.assert_allclose(units[0] * clamp, np.minimum(_sphere_vox(n, 20.0), clamp),
                               atol=1e-4)                  # frame 0 as before


def test_a_frame_that_is_no_distance_is_refused():
    d = _sphere_vox(48, 12.0)
    squared = np.sign(d) * d ** 2     # slope 2 d: not one per voxel up to a factor
    with pytest.raises(DatasetFormatError, match="frame 0 is no distance field"):
        reference_to_clamp_units(_as_stored(squared, 200.0)[None], "cell.h5")
    with pytest.raises(DatasetFormatError, match="frame 0 has no outside"):
        reference_to_clamp_units(-np.ones((1, 8, 8, 8)))
