"""Property-based tests of the readers (GitHub issue 7).

Random shapes and dtypes written as TIFF / ``.npy`` and read with
:func:`cellshapes.io.read_masks`; random arrays, attributes and layouts (valid and not)
written as HDF5 and read with :func:`cellshapes.io.read_dataset`. A reader either returns
exactly the input as (T, Z, Y, X), or raises a :class:`CellshapesError` subclass: never
another exception type.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cellshapes.errors import CellshapesError
from cellshapes.io import read_dataset, read_masks

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DTYPES = ["bool", "uint8", "uint16", "int32", "float32", "float64"]


@st.composite
def mask_arrays(draw):
    ndim = draw(st.integers(1, 6))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if dtype == bool:
        elements = st.booleans()
    elif dtype.kind == "u":
        elements = st.integers(0, 5)
    elif dtype.kind == "i":
        elements = st.integers(-2, 5)
    else:  # floats: integer-valued labels, fractions, NaN and inf
        elements = st.one_of(st.sampled_from([0.0, 1.0, 2.0, 3.0]),
                             st.floats(-2, 5, width=32), st.just(float("nan")),
                             st.just(float("inf")))
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _is_valid_mask(arr: np.ndarray) -> bool:
    if arr.ndim not in (3, 4):
        return False
    if arr.dtype.kind == "f":
        return bool(np.all(np.isfinite(arr)) and np.all(arr >= 0)
                    and np.all(arr == np.round(arr)))
    return bool(arr.dtype == bool or np.all(arr >= 0))


def _check_read(path: Path, arr: np.ndarray) -> None:
    try:
        out, info = read_masks(path)
    except CellshapesError:
        assert not _is_valid_mask(arr), f"valid {arr.dtype} {arr.shape} input refused"
        return
    # any other exception type propagates and fails the test
    assert _is_valid_mask(arr), f"invalid {arr.dtype} {arr.shape} input accepted"
    expected = arr if arr.ndim == 4 else arr[None]
    assert out.ndim == 4 and out.shape == expected.shape
    assert np.issubdtype(out.dtype, np.integer)
    np.testing.assert_array_equal(out, expected.astype(np.int64))
    assert info["source"] == str(path)


@SETTINGS
@given(arr=mask_arrays())
def test_read_masks_tiff_random(arr):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.tif"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                tifffile.imwrite(path, arr, photometric="minisblack")
            except (ValueError, IndexError):  # tifffile cannot write e.g. a 1-D bilevel image
                reject()
        _check_read(path, arr)


@SETTINGS
@given(arr=mask_arrays())
def test_read_masks_npy_random(arr):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.npy"
        np.save(path, arr)
        _check_read(path, arr)


@SETTINGS
@given(data=st.binary(min_size=0, max_size=300), suffix=st.sampled_from([".tif", ".npy"]))
def test_read_masks_garbage_bytes(data, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"g{suffix}"
        path.write_bytes((b"II*\x00" if suffix == ".tif" else b"\x93NUMPY") + data)
        with pytest.raises(CellshapesError):
            read_masks(path)


def test_read_masks_npy_pickle_refused(tmp_path):
    """An object array in an .npy needs pickle: refused, not unpickled."""
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(CellshapesError, match="npy"):
        read_masks(path)


# ------------------------------------------------------------------------------ HDF5
LAYOUTS = ["valid", "no_format", "root_dataset", "group_without_sdf", "wrong_rank",
           "not_cube", "nan", "truncated", "empty_file"]
_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                max_size=8)  # HDF5 strings cannot hold NUL
ATTR_VALUES = st.one_of(st.integers(-5, 5), st.floats(allow_nan=True), _TEXT,
                        hnp.arrays(np.float64, st.integers(0, 4)),
                        hnp.arrays(np.int32, (2, 2)))


@st.composite
def h5_cases(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    n_seq = draw(st.integers(1, 3))
    seqs = []
    for _ in range(n_seq):
        t, s = draw(st.integers(1, 3)), draw(st.integers(2, 4))
        dtype = draw(st.sampled_from([np.float32, np.float64, np.int16]))
        arr = draw(hnp.arrays(dtype, (t, s, s, s),
                              elements=st.integers(-3, 3) if dtype == np.int16
                              else st.floats(-3, 3, width=32)))
        attrs = draw(st.dictionaries(st.sampled_from(["scale_um", "voxel_um", "source",
                                                      "label", "spacing_um", "x"]),
                                     ATTR_VALUES, max_size=3))
        seqs.append((arr, attrs))
    cut = draw(st.floats(0.05, 0.95))
    return layout, seqs, cut


def _write_h5(path: Path, layout: str, seqs, cut: float) -> None:
    with h5py.File(path, "w") as f:
        if layout != "no_format":
            f.attrs["format"] = "cellshapes.sdf"
            f.attrs["format_version"] = 1
        for i, (arr, attrs) in enumerate(seqs):
            if layout == "root_dataset":
                f.create_dataset(f"seq_{i:04d}", data=arr)
                continue
            g = f.create_group(f"seq_{i:04d}")
            for k, v in attrs.items():
                g.attrs[k] = v
            if layout == "group_without_sdf":
                g.create_dataset("masks", data=arr)
            elif layout == "wrong_rank":
                g.create_dataset("sdf", data=arr[0])
            elif layout == "not_cube":
                g.create_dataset("sdf", data=arr[:, :, :1])
            elif layout == "nan" and i == len(seqs) - 1:
                bad = arr.astype(np.float32)
                bad.flat[0] = np.nan
                g.create_dataset("sdf", data=bad)
            else:
                g.create_dataset("sdf", data=arr, chunks=(1,) + arr.shape[1:],
                                 compression="gzip")
    if layout == "truncated":
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * cut)])
    elif layout == "empty_file":
        path.write_bytes(b"")


@SETTINGS
@given(case=h5_cases())
def test_read_dataset_random_layouts(case):
    layout, seqs, cut = case
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "d.h5"
        _write_h5(path, layout, seqs, cut)
        try:
            out = read_dataset(path)
        except CellshapesError:
            assert layout != "valid", "a valid dataset was refused"
            return
        assert layout in ("valid", "truncated") or (
            layout == "not_cube" and all(a.shape[2] == 1 for a, _ in seqs)), layout
        assert [s.name for s in out] == [f"seq_{i:04d}" for i in range(len(seqs))]
        for s, (arr, _) in zip(out, seqs):
            assert s.sdf.dtype == np.float32 and s.sdf.shape == arr.shape
            np.testing.assert_array_equal(s.sdf, arr.astype(np.float32))
            assert isinstance(s.attrs, dict)
