"""The prepared dataset (HDF5): round trip, layout and one-line format errors."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from cellshapes.errors import DatasetFormatError, InputFileNotFoundError, OutputExistsError
from cellshapes.io import (DATASET_FORMAT, DATASET_FORMAT_VERSION, SDFSequence, dataset_info,
                           read_dataset, write_dataset)


def _seqs():
    rng = np.random.default_rng(1)
    attrs = {"spacing_um": (2.0, 0.5, 0.5), "scale_um": 10.0, "voxel_um": 20 / 7,
             "sdf_unit_um": 2.5, "cell_type": "test", "source": "x.tif", "label": -1,
             "params": '{"size": 8}'}
    return [SDFSequence(f"seq_{i:04d}", rng.normal(size=(3, 8, 8, 8)).astype(np.float32),
                        dict(attrs)) for i in range(2)]


def test_dataset_round_trip_and_layout(tmp_path):
    p = tmp_path / "d.h5"
    seqs = _seqs()
    write_dataset(p, seqs, attrs={"note": "x"})
    with h5py.File(p) as f:
        assert f.attrs["format"] == "cellshapes.sdf" and f.attrs["format_version"] == 1
        d = f["seq_0000/sdf"]
        assert d.dtype == np.float32 and d.chunks == (1, 8, 8, 8) and d.compression == "gzip"
    back = read_dataset(p)
    assert [s.name for s in back] == ["seq_0000", "seq_0001"]
    assert np.array_equal(back[1].sdf, seqs[1].sdf)
    assert back[0].attrs["spacing_um"] == (2.0, 0.5, 0.5)
    assert back[0].attrs["cell_type"] == "test" and back[0].attrs["label"] == -1
    info = dataset_info(p)
    assert info[1]["shape"] == (3, 8, 8, 8) and info[1]["attrs"]["scale_um"] == 10.0
    assert [s.name for s in read_dataset(p, names=["seq_0001"])] == ["seq_0001"]
    with pytest.raises(OutputExistsError):
        write_dataset(p, seqs)


def test_dataset_format_errors(tmp_path):
    p = tmp_path / "d.h5"
    write_dataset(p, _seqs())
    trunc = tmp_path / "t.h5"
    trunc.write_bytes(p.read_bytes()[:2000])
    not_h5 = tmp_path / "n.h5"
    not_h5.write_text("hello")
    other = tmp_path / "o.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    nan = tmp_path / "nan.h5"
    write_dataset(nan, _seqs())
    with h5py.File(nan, "a") as f:
        f["seq_0000/sdf"][0, 0, 0, 0] = np.nan
    for bad in (trunc, not_h5, other, nan):
        with pytest.raises(DatasetFormatError) as exc:
            read_dataset(bad)
        assert "\n" not in str(exc.value)
    with pytest.raises(InputFileNotFoundError):
        read_dataset(tmp_path / "missing.h5")


def test_format_tag_is_unchanged():
    assert (DATASET_FORMAT, DATASET_FORMAT_VERSION) == ("cellshapes.sdf", 1)
