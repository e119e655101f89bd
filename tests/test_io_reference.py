"""Reference-implementation ``sdf_vid`` files: MATLAB axis order, detection, errors."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from cellshapes.errors import DatasetFormatError
from cellshapes.io import (is_reference_sdf, read_dataset, read_reference_sdf,
                           write_reference_sdf)


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
