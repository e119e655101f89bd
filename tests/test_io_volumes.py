"""load_volumes: every input of describe / mesh as volumes with the right spacing."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import DatasetFormatError
from cellshapes.io import (SDFSequence, VolumeSequence, load_volumes, write_dataset,
                           write_reference_sdf, write_tiff)


def _seq(name, voxel_um=None, frames=2, size=6):
    sdf = np.ones((frames, size, size, size), np.float32)
    sdf[:, 2:4, 2:4, 2:4] = -1.0
    attrs = {} if voxel_um is None else {"voxel_um": voxel_um}
    return SDFSequence(name, sdf, attrs)


def test_masks_with_file_spacing_or_the_argument(tmp_path):
    m = np.zeros((3, 5, 6, 7), np.uint8)
    m[:, 1:4, 2:4, 2:5] = 1
    path = write_tiff(tmp_path / "cell.tif", m, spacing=(2.0, 0.5, 0.25))
    (seq,) = load_volumes(path)
    assert isinstance(seq, VolumeSequence) and seq.name == "cell" and not seq.is_sdf
    assert np.array_equal(seq.volumes, m)
    assert np.allclose(seq.spacing, (2.0, 0.5, 0.25), rtol=1e-5)
    (seq,) = load_volumes(path, spacing=(1, 1, 1))
    assert seq.spacing.tolist() == [1.0, 1.0, 1.0]
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(2):
        write_tiff(folder / f"mask{t:03d}.tif", m[t])  # no spacing stored
    (seq,) = load_volumes(folder)
    assert seq.name == "frames" and seq.volumes.shape == (2, 5, 6, 7)
    assert seq.spacing.tolist() == [1.0, 1.0, 1.0]


def test_prepared_dataset_uses_voxel_um_and_first_only(tmp_path):
    path = write_dataset(tmp_path / "d.h5", [_seq("seq_0001", 0.5), _seq("seq_0000"),
                                              _seq("seq_0002", 2.0)])
    seqs = load_volumes(path)
    assert [s.name for s in seqs] == ["seq_0000", "seq_0001", "seq_0002"]
    assert all(s.is_sdf and s.volumes.dtype == np.float32 for s in seqs)
    assert [s.spacing.tolist() for s in seqs] == [[1.0] * 3, [0.5] * 3, [2.0] * 3]
    first = load_volumes(path, first_only=True)
    assert [s.name for s in first] == ["seq_0000"]
    (over,) = load_volumes(path, spacing=(3, 3, 3), first_only=True)
    assert over.spacing.tolist() == [3.0] * 3
    empty = write_dataset(tmp_path / "empty.h5", [])
    with pytest.raises(DatasetFormatError, match="no sequences"):
        load_volumes(empty)


def test_reference_file_is_an_sdf_without_spacing(tmp_path):
    sdf = _seq("x").sdf
    path = write_reference_sdf(tmp_path / "ref_cell.h5", sdf)
    (seq,) = load_volumes(path)
    assert seq.name == "ref_cell" and seq.is_sdf and np.array_equal(seq.volumes, sdf)
    assert seq.spacing.tolist() == [1.0, 1.0, 1.0]
    (seq,) = load_volumes(path, spacing=(0.5, 0.5, 0.5))
    assert seq.spacing.tolist() == [0.5] * 3
