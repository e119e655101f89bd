"""Mask readers and the TIFF writer: layouts, metadata, natural order, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile

from cellshapes.errors import (DatasetFormatError, InputError, InputFileNotFoundError,
                               OutputExistsError)
from cellshapes.io import as_tzyx, natural_key, read_masks, read_tiff, write_tiff


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


def test_natural_key_orders_numbers_as_integers():
    names = ["mask10.tif", "mask2.tif", "Mask1.tif", "mask2b.tif"]
    assert sorted(names, key=natural_key) == ["Mask1.tif", "mask2.tif", "mask2b.tif",
                                              "mask10.tif"]


def test_read_tiff_keeps_stored_axes_and_as_tzyx_orders_them(tmp_path):
    a = _labels((2, 3, 5, 6))
    tifffile.imwrite(tmp_path / "c.tif", a[:, :, None], imagej=True,
                     metadata={"axes": "TZCYX", "spacing": 3.0, "unit": "um"})
    raw, spacing, axes = read_tiff(tmp_path / "c.tif")
    assert raw.shape == (2, 3, 5, 6) and axes == "TZYX" and spacing[0] == 3.0
    assert np.array_equal(as_tzyx(raw, axes, "c.tif"), a)
    assert np.array_equal(as_tzyx(a[:, :, None], "TZCYX", "c.tif"), a)  # singleton C dropped
    assert np.array_equal(as_tzyx(a.transpose(1, 0, 2, 3), "ZTYX", "x"), a)
    assert as_tzyx(a[0], "", "x").shape == (1, 3, 5, 6)  # plain 3D: one time point
    assert as_tzyx(a[0], "ZYX", "x").shape == (1, 3, 5, 6)
    with pytest.raises(InputError, match="channels"):
        as_tzyx(np.zeros((2, 3, 4, 5)), "ZCYX", "x")
    with pytest.raises(InputError, match="no Z"):
        as_tzyx(np.zeros((2, 4, 5)), "TYX", "x")
