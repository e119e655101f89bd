"""check_spacing: valid and invalid spacings, and the same error from every caller."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.units import check_spacing


@pytest.mark.parametrize("spacing", [(2, 0.5, 0.5), [2.0, 0.5, 0.5], np.array([2, 0.5, 0.5]),
                                     np.array([[2.0], [0.5], [0.5]]), ("2", "0.5", "0.5")])
def test_valid_spacings_become_float64_triples(spacing):
    sp = check_spacing(spacing)
    assert sp.dtype == np.float64 and sp.shape == (3,)
    assert np.array_equal(sp, [2.0, 0.5, 0.5])


def test_result_is_a_new_array():
    given = np.array([1.0, 2.0, 3.0])
    sp = check_spacing(given)
    sp[0] = 9.0
    assert given[0] == 1.0


def test_tiny_and_huge_values_are_kept_exactly():
    sp = check_spacing((1e-9, 1.0, 1e9))
    assert sp.tolist() == [1e-9, 1.0, 1e9]


def test_none_uses_the_default_or_fails():
    assert np.array_equal(check_spacing(None, default=(1, 1, 1)), [1.0, 1.0, 1.0])
    with pytest.raises(InputError, match="spacing is required"):
        check_spacing(None)
    with pytest.raises(InputError, match="positive"):
        check_spacing(None, default=(1, 0, 1))  # a bad default is caught too


@pytest.mark.parametrize("bad", [(1, 0, 1), (1, -0.5, 1), (math.nan, 1, 1), (1, math.inf, 1),
                                 (1, 1), (1, 1, 1, 1), (), 1.0, "abc", (1, None, 1),
                                 ("a", "b", "c")])
def test_invalid_spacings_raise_one_clear_message(bad):
    with pytest.raises(InputError) as info:
        check_spacing(bad)
    msg = str(info.value)
    assert msg.startswith("spacing must be three positive numbers (dz, dy, dx) in um, got ")


def test_message_names_the_argument_and_the_value():
    with pytest.raises(InputError, match=r"--spacing must be .* got \(1\.0, -1\.0, 1\.0\)"):
        check_spacing([1, -1, 1], what="--spacing")


# ------------------------------------------------------------- every caller, same error
def _ball(n=12, r=4):
    z, y, x = np.mgrid[:n, :n, :n] - n / 2
    return (z ** 2 + y ** 2 + x ** 2 <= r * r).astype(np.uint8)


def _callers():
    from cellshapes import cube, sdf
    from cellshapes.measure import mesh, metrics
    from cellshapes.synthesis import microscopy

    m = _ball()
    return {
        "metrics.volume": lambda sp: metrics.volume(m, sp),
        "metrics.describe_volume": lambda sp: metrics.describe_volume(m, sp),
        "mesh.isosurface": lambda sp: mesh.isosurface(m, sp),
        "sdf.mask_to_sdf": lambda sp: sdf.mask_to_sdf(m, sp),
        "sdf.centroid_um": lambda sp: sdf.centroid_um(m, sp),
        "cube.prepare_sequence": lambda sp: cube.prepare_sequence(m[None], sp, 8, 10.0),
        "microscopy.simulate": lambda sp: microscopy.simulate(m[None], sp),
    }


@pytest.mark.parametrize("name", sorted(_callers()))
def test_every_caller_rejects_a_bad_spacing(name):
    call = _callers()[name]
    for bad in [(1.0, 0.0, 1.0), (1.0, 1.0), (1.0, math.nan, 1.0)]:
        with pytest.raises(InputError, match="spacing must be three positive numbers"):
            call(bad)


def test_metrics_and_mesh_read_none_as_unit_spacing():
    from cellshapes.measure import mesh, metrics

    m = _ball()
    assert metrics.volume(m, None) == metrics.volume(m, (1, 1, 1)) == float(m.sum())
    v0, _ = mesh.isosurface(m, None)
    v1, _ = mesh.isosurface(m, (1, 1, 1))
    assert np.array_equal(v0, v1)


def test_prepare_and_load_volumes_reject_a_bad_spacing(tmp_path):
    from cellshapes.io import load_volumes, write_tiff
    from cellshapes.prepare import prepare_dataset

    path = write_tiff(tmp_path / "m.tif", _ball(), spacing=(1, 1, 1))
    with pytest.raises(InputError, match="positive"):
        prepare_dataset([path], tmp_path / "out.h5", size=8, spacing=(1, -1, 1),
                        progress=False)
    assert not (tmp_path / "out.h5").exists()
    with pytest.raises(InputError, match="positive"):
        load_volumes(path, spacing=(0, 1, 1))
    (seq,) = load_volumes(path)
    assert np.allclose(seq.spacing, 1.0) and not seq.is_sdf
