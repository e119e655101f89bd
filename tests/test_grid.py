"""Grid evaluation: narrow band == dense (also where the network is steeper than a true
SDF), the checks that make it so, chunking, the Lipschitz bound and grid attributes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cellshapes.config import model_config
from cellshapes.errors import InputError
from cellshapes.inference.grid import (GridOptions, check_grid_args, grid_attrs, lipschitz_bound,
                                       model_lipschitz, sdf_grid, sequence_sdf)
from cellshapes.inference.reconstruct import load_run
from cellshapes.model import AutoDecoder
from cellshapes.training.sampling import frame_times


@pytest.mark.parametrize("size,max_fraction", [(32, 1.0), (64, 0.6)])
def test_narrow_band_masks_equal_dense(trained_run, size, max_fraction):
    model, _ = load_run(trained_run, "cpu")
    times = frame_times(3)
    dense, sd = sequence_sdf(model, times, size, seq=1, options=GridOptions(narrow_band=False))
    band, sb = sequence_sdf(model, times, size, seq=1,
                            options=GridOptions(narrow_band=True, stride=4))
    assert sd["fraction"] == 1.0 and sd["evaluated"] == 3 * size ** 3
    assert sb["fraction"] < max_fraction                  # fewer points than dense
    # the trained network is steeper than a distance (bound 1 in these units): measured
    assert sb["lipschitz_bound"] == 1.0 and sb["lipschitz_measured"] > 1.0
    assert sb["slope"] == pytest.approx(max(2.0, 1.5 * sb["lipschitz_measured"]))
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


def _steep_siren() -> AutoDecoder:
    """An untrained SIREN made ~20x steeper than a true SDF (first layer frequencies x20,
    output x10): fine structure that a narrow band with L = 1 misses."""
    torch.manual_seed(0)
    model = AutoDecoder(model_config("smoke"), 2).eval()
    with torch.no_grad():
        model.decoder.layers[0].linear.weight *= 20
        model.decoder.out.weight *= 10
        model.decoder.out.bias.fill_(0.2)
    return model


def test_steep_network_raises_the_bound_and_keeps_dense_masks():
    model = _steep_siren()
    dense, _ = sequence_sdf(model, [0.0], 48, seq=0, options=GridOptions(narrow_band=False))
    unchecked, _ = sequence_sdf(model, [0.0], 48, seq=0, lipschitz=1.0, options=GridOptions(
        check_gradient=False, check_blocks=False))
    assert (unchecked <= 0).sum() != (dense <= 0).sum()  # L = 1 is wrong for this network
    band, st = sequence_sdf(model, [0.0], 48, seq=0, lipschitz=1.0)
    assert st["lipschitz_bound"] == 1.0 and st["lipschitz_measured"] > 5
    assert st["raised"] == 1 and st["slope"] == pytest.approx(1.5 * st["lipschitz_measured"])
    assert np.array_equal(band <= 0, dense <= 0)
    # the block check alone (no gradient measured) finds the misses and evaluates those
    # blocks (and their neighbours) densely
    blocks, sb = sequence_sdf(model, [0.0], 48, seq=0, lipschitz=1.0,
                              options=GridOptions(check_gradient=False))
    assert sb["dense_fallback"] == 1 and sb["lipschitz_measured"] == 0
    assert 0 < sb["dense_blocks"] <= 1
    assert np.array_equal(blocks <= 0, dense <= 0)


def test_block_check_catches_a_feature_between_coarse_corners():
    """A small pocket at the centre of a far-out coarse block: the corners see only the
    big sphere, so the Lipschitz argument skips the block; the check evaluates the centre,
    sees the other sign, and evaluates that block and its neighbours densely."""
    q = torch.tensor([0.875, 0.875, 0.875])                # voxel (30, 30, 30) of 33^3

    def fn(p: torch.Tensor) -> torch.Tensor:
        return p.norm(dim=-1) - 0.5 - 2.0 * torch.exp(-((p - q) ** 2).sum(-1) / 0.03 ** 2)

    dev = torch.device("cpu")
    dense, _ = sdf_grid(fn, 33, dev, 4096, GridOptions(narrow_band=False))
    assert bool(dense[30, 30, 30] <= 0)
    opt = GridOptions(stride=4, check_gradient=False, check_blocks=False)
    blind, _ = sdf_grid(fn, 33, dev, 4096, opt)
    assert not bool(blind[30, 30, 30] <= 0)               # missed without the check
    band, st = sdf_grid(fn, 33, dev, 4096, GridOptions(stride=4, check_gradient=False))
    assert st["dense_fallback"] == 1 and torch.equal(band <= 0, dense <= 0)
    assert st["dense_blocks"] < 0.5                       # only the pocket's neighbourhood


def test_default_bound_comes_from_the_run_units(trained_run):
    model, config = load_run(trained_run, "cpu")
    assert model.data_attrs == config["data"]["attrs"]
    assert model_lipschitz(model, 0) == lipschitz_bound(config["data"]["attrs"][0]) == 1.0
    model.data_attrs = [{"scale_um": 8.0, "sdf_unit_um": 2.0},
                        {"scale_um": 8.0, "sdf_unit_um": 4.0}]
    assert model_lipschitz(model, 1) == 2.0 and model_lipschitz(model) == 4.0
    _, st = sequence_sdf(model, [0.0], 32, seq=1)
    assert st["lipschitz_bound"] == 2.0 and st["slope"] >= 4.0
    del model.data_attrs
    assert model_lipschitz(model, 0) == 1.0
