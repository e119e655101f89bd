"""Mask readers, TIFF writer, prepared-dataset and reference-file formats."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import tifffile

from cellshapes.errors import (DatasetFormatError, InputError, InputFileNotFoundError,
                               OutputExistsError)
from cellshapes.io import (SDFSequence, dataset_info, read_dataset, read_masks,
                           read_reference_sdf, write_dataset, write_reference_sdf, write_tiff)


def _labels(shape=(3, 6, 8, 10)):
    a = np.zeros(shape, np.uint16)
    a[:, 1:4, 2:5, 3:7] = 1
    a[1:, 2:5, 5:7, 1:3] = 7
    return a


def test_tiff_3d_and_3dt_with_spacing(tmp_path):
    a = _labels()
    write_tiff(tmp_path / "a.tif", a, spacing=(2.0, 0.5, 0.25))
    back, info = read_masks(tmp_path / "a.tif")
    assert np.array_equal(back, a)
    assert np.allclose(info["spacing_um"], (2.0, 0.5, 0.25), rtol=1e-5)
    write_tiff(tmp_path / "b.tif", a[0] > 0, spacing=(1.5, 0.3, 0.3))
    back, info = read_masks(tmp_path / "b.tif")
    assert back.shape == (1, 6, 8, 10) and back.dtype == np.uint8
    assert np.allclose(info["spacing_um"], (1.5, 0.3, 0.3), rtol=1e-5)


def test_tiff_without_metadata_and_label_selection(tmp_path):
    a = _labels()
    tifffile.imwrite(tmp_path / "plain.tif", a)  # generic TIFF: 4D by ndim, no spacing
    back, info = read_masks(tmp_path / "plain.tif")
    assert np.array_equal(back, a) and info["spacing_um"] is None
    one, _ = read_masks(tmp_path / "plain.tif", label=7)
    assert np.array_equal(one, (a == 7).astype(np.uint8))
    with pytest.raises(InputError, match="labels present: 1, 7"):
        read_masks(tmp_path / "plain.tif", label=3)


def test_imagej_axes_are_trusted(tmp_path):
    a = _labels((2, 3, 5, 6))
    # Stored as ZTYX-like order would confuse ndim rules; ImageJ always writes TZCYXS.
    tifffile.imwrite(tmp_path / "c.tif", a[:, :, None], imagej=True,
                     metadata={"axes": "TZCYX", "spacing": 3.0, "unit": "um"})
    back, info = read_masks(tmp_path / "c.tif")
    assert np.array_equal(back, a) and info["spacing_um"][0] == 3.0


@pytest.mark.parametrize("names", [["man_seg000.tif", "man_seg001.tif", "man_seg010.tif",
                                    "man_seg002.tif"],
                                   ["man_seg_000_000.tif", "man_seg_000_001.tif",
                                    "man_seg_000_002.tif", "man_seg_000_010.tif"],
                                   ["mask_t0.tif", "mask_t1.tif", "mask_t2.tif", "mask_t10.tif"]])
def test_folder_natural_order(tmp_path, names):
    frames = [np.full((2, 3, 4), i, np.uint8) for i in range(4)]
    order = sorted(range(4), key=lambda i: int("".join(c for c in names[i] if c.isdigit())))
    for rank, i in enumerate(order):
        write_tiff(tmp_path / names[i], frames[rank], spacing=(1.0, 0.5, 0.5))
    back, info = read_masks(tmp_path)
    assert back.shape == (4, 2, 3, 4)
    assert [int(f[0, 0, 0]) for f in back] == [0, 1, 2, 3]
    assert np.allclose(info["spacing_um"], (1.0, 0.5, 0.5))


def test_folder_errors(tmp_path):
    with pytest.raises(InputError, match="no .tif"):
        read_masks(tmp_path)
    write_tiff(tmp_path / "mask000.tif", np.zeros((2, 3, 4), np.uint8))
    write_tiff(tmp_path / "mask001.tif", np.zeros((2, 3, 5), np.uint8))
    with pytest.raises(InputError, match="differ in shape"):
        read_masks(tmp_path)


def test_npy_and_bad_inputs(tmp_path):
    a = _labels()
    np.save(tmp_path / "a.npy", a.astype(np.float32))
    back, info = read_masks(tmp_path / "a.npy")
    assert np.array_equal(back, a) and info["spacing_um"] is None
    with pytest.raises(InputFileNotFoundError):
        read_masks(tmp_path / "nope.tif")
    (tmp_path / "junk.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(DatasetFormatError):
        read_masks(tmp_path / "junk.tif")
    np.save(tmp_path / "flat.npy", np.zeros((8, 8)))
    with pytest.raises(InputError, match=r"needs a 3D \(Z,Y,X\) or 3D\+t"):
        read_masks(tmp_path / "flat.npy")
    np.save(tmp_path / "five.npy", np.zeros((2, 2, 2, 2, 2)))
    with pytest.raises(InputError, match="got shape"):
        read_masks(tmp_path / "five.npy")
    np.save(tmp_path / "garbage.npy", np.random.default_rng(0).random((3, 4, 5)))
    with pytest.raises(InputError, match="non-binary"):
        read_masks(tmp_path / "garbage.npy")


def test_write_tiff_refuses_overwrite(tmp_path):
    write_tiff(tmp_path / "a.tif", np.zeros((2, 3, 4), bool))
    with pytest.raises(OutputExistsError):
        write_tiff(tmp_path / "a.tif", np.ones((2, 3, 4), bool))
    assert read_masks(tmp_path / "a.tif")[0].max() == 0


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
