"""Grid evaluation: narrow band == dense, chunking, Lipschitz bound and grid attributes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cellshapes.errors import InputError
from cellshapes.grid import (GridOptions, check_grid_args, grid_attrs, lipschitz_bound,
                             sdf_grid, sequence_sdf)
from cellshapes.reconstruct import load_run
from cellshapes.sampling import frame_times


@pytest.mark.parametrize("size,max_fraction", [(32, 1.0), (64, 0.6)])
def test_narrow_band_masks_equal_dense(trained_run, size, max_fraction):
    model, _ = load_run(trained_run, "cpu")
    times = frame_times(3)
    dense, sd = sequence_sdf(model, times, size, seq=1, options=GridOptions(narrow_band=False))
    band, sb = sequence_sdf(model, times, size, seq=1, lipschitz=1.0,
                            options=GridOptions(narrow_band=True, stride=4))
    assert sd["fraction"] == 1.0 and sb["fraction"] <= max_fraction
    assert np.array_equal(dense <= 0, band <= 0)
    near = np.abs(dense) < 0.05
    assert np.allclose(dense[near], band[near], atol=1e-5)


def test_narrow_band_on_analytic_sphere():
    """A true SDF (Lipschitz 1): the narrow band evaluates a small fraction of the grid
    and gives the dense mask exactly."""
    def sphere(p: torch.Tensor) -> torch.Tensor:
        return p.norm(dim=-1) - 0.5

    dev = torch.device("cpu")
    dense, sd = sdf_grid(sphere, 65, dev, 4096, GridOptions(narrow_band=False))
    band, sb = sdf_grid(sphere, 65, dev, 4096, GridOptions(stride=8), lipschitz=1.0)
    assert sd["fraction"] == 1.0 and sb["fraction"] < 0.3
    assert torch.equal(dense <= 0, band <= 0)
    axis = -1.0 + 2.0 * torch.arange(65) / 64
    assert dense[32, 32, 32] == pytest.approx(-0.5) and dense[0, 32, 32] == pytest.approx(0.5)
    assert torch.allclose(dense[32, 32], axis.abs() - 0.5, atol=1e-6)


def test_chunk_size_does_not_change_result(trained_run):
    model, _ = load_run(trained_run, "cpu")
    small, _ = sequence_sdf(model, [0.3], 24, seq=0,
                            options=GridOptions(narrow_band=False, memory_mb=0.01))
    large, _ = sequence_sdf(model, [0.3], 24, seq=0,
                            options=GridOptions(narrow_band=False, memory_mb=512))
    np.testing.assert_allclose(small, large, atol=1e-5)


def test_lipschitz_bound_and_grid_attrs():
    attrs = {"scale_um": 10.0, "sdf_unit_um": 2.0, "cell_type": "filo", "label": 7}
    assert lipschitz_bound(attrs) == 5.0
    assert lipschitz_bound({}) == 1.0
    g = grid_attrs(attrs, 41)
    assert g["voxel_um"] == pytest.approx(0.5) and g["spacing_um"] == [pytest.approx(0.5)] * 3
    assert (g["scale_um"], g["sdf_unit_um"], g["cell_type"], g["label"]) == (10.0, 2.0, "filo",
                                                                            -1)


@pytest.mark.parametrize("size,frames", [(1, None), (None, 0), (2.5, None), (True, None)])
def test_check_grid_args_rejects(size, frames):
    with pytest.raises(InputError):
        check_grid_args(size, frames)
    check_grid_args(None, None)
    check_grid_args(2, 1)
