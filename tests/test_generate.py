"""Generation of new sequences: sampled codes, interpolation, random rotations."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch

from cellshapes.cli import main
from cellshapes.generate import interpolate_codes, random_rotations, sample_codes
from cellshapes.model import euler_to_matrix
from cellshapes.training_data import load_training_data


def test_generate_new_distinct_sequences(trained_run, ellipsoid_dataset, tmp_path):
    out = tmp_path / "gen"
    assert main(["generate", str(trained_run), "--n", "3", "--out", str(out), "--method",
                 "near", "--seed", "1", "-q"]) == 0
    gen = [tifffile.imread(out / "masks" / f"gen_{i:04d}.tif") for i in range(3)]
    assert all(g.shape == (4, 24, 24, 24) and g.any() for g in gen)
    for a in range(3):
        for b in range(a + 1, 3):
            assert not np.array_equal(gen[a], gen[b])
    truth = load_training_data(ellipsoid_dataset)
    for g in gen:
        assert all(not np.array_equal(g, v <= 0) for v in truth.volumes)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["generate"]["method"] == "near"


@pytest.mark.parametrize("method", ["gaussian", "near", "gmm"])
def test_sample_codes_methods(method):
    codes = np.random.default_rng(0).normal(0, 0.1, (8, 16))
    new, src = sample_codes(codes, 5, method, seed=3)
    again, _ = sample_codes(codes, 5, method, seed=3)
    assert new.shape == (5, 16) and np.array_equal(new, again)
    if method == "gaussian":
        assert new.std() == pytest.approx(np.sqrt(1e-3), rel=0.35)
    if method == "near":
        assert (src >= 0).all()
        assert np.abs(new - codes[src]).std() == pytest.approx(np.sqrt(5e-4), rel=0.35)


def test_interpolation_and_rotations():
    path = interpolate_codes(np.zeros(4), np.ones(4), 5)
    assert path.shape == (5, 4) and np.allclose(path[:, 0], [0, 0.25, 0.5, 0.75, 1])
    ang = torch.tensor(random_rotations(20, seed=0))
    rot = euler_to_matrix(ang)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(20), atol=1e-5)
