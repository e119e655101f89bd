"""Measures of a synthesized population on analytic shapes with known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cellshapes.errors import InputError
from cellshapes.measure.population import (frame_validity, min_ks_pvalue, nearest_dsc,
                                           novelty_index, pairwise_dsc, realism_per_time,
                                           sequence_validity)
from cellshapes.measure.protrusion import attached_protrusions


def ball(shape=(24, 24, 24), centre=(12, 12, 12), r=5.0):
    g = np.indices(shape).transpose(1, 2, 3, 0)
    return np.linalg.norm(g - np.array(centre), axis=-1) <= r


def test_frame_validity_counts_cells_and_islands():
    cell = ball()
    assert frame_validity(cell)["valid"] and frame_validity(cell)["cells"] == 1
    speck = cell.copy()
    speck[0, 0, 0] = True                        # 1 of 516 voxels: an island below 1 %
    f = frame_validity(speck)
    assert f["components"] == 2 and f["cells"] == 1 and 0 < f["island_fraction"] < 0.01
    assert f["valid"]
    assert not frame_validity(speck, max_island=0.001)["valid"]
    two = ball(centre=(6, 12, 12), r=4) | ball(centre=(18, 12, 12), r=4)
    assert not frame_validity(two)["valid"] and frame_validity(two)["cells"] == 2
    assert frame_validity(two, max_cells=2)["valid"]
    assert frame_validity(np.zeros((4, 4, 4), bool))["empty"]


def test_sequence_validity_allows_a_division_but_not_a_fusion():
    one = ball(r=6)
    two = ball(centre=(6, 12, 12), r=4) | ball(centre=(18, 12, 12), r=4)
    assert sequence_validity(np.stack([one, one, two, two]), max_cells=2)[0]
    ok, frames = sequence_validity(np.stack([one, two, one]), max_cells=2)
    assert not ok and frames["cells"].tolist() == [1, 2, 1]
    assert not sequence_validity(np.stack([one, np.zeros_like(one)]))[0]
    with pytest.raises(InputError, match="T, Z, Y, X"):
        sequence_validity(one)


def test_nearest_and_pairwise_dsc_of_known_shapes():
    a, b = ball(r=5), ball(r=5, centre=(12, 12, 14))
    same = np.stack([a, b])
    near, which = nearest_dsc(np.stack([a, b]), same)
    assert np.allclose(near, 1.0) and which.tolist() == [0, 1]
    inter = (a & b).sum()
    expected = 2 * inter / (a.sum() + b.sum())
    assert pairwise_dsc(same) == pytest.approx([expected])
    assert len(pairwise_dsc(np.stack([a, b, a]))) == 3
    with pytest.raises(InputError, match="two cells"):
        pairwise_dsc(a[None])


def test_novelty_index_runs_from_copy_to_different_cell():
    assert novelty_index([0.98, 0.69, 0.835], 0.98, 0.69) == pytest.approx([0.0, 1.0, 0.5])
    with pytest.raises(InputError, match="must exceed"):
        novelty_index([0.9], 0.7, 0.8)


def test_min_ks_pvalue_is_the_exact_floor():
    assert min_ks_pvalue(4, 4) == pytest.approx(2 / 70)      # 2 / C(8, 4)
    assert min_ks_pvalue(4, 8) == pytest.approx(2 / 495)     # 2 / C(12, 4)


def test_realism_per_time_is_zero_for_the_same_population_and_sees_a_shift():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"frame": np.repeat([0, 1], 20), "volume_um3": rng.normal(100, 5, 40)})
    same = realism_per_time(real, real, columns=["volume_um3"])
    assert same["ks"].tolist() == [0.0, 0.0] and np.allclose(same["w1"], 0.0)
    moved = real.assign(volume_um3=real["volume_um3"] + np.where(real["frame"] == 1, 50, 0))
    r = realism_per_time(real, moved, columns=["volume_um3"]).set_index("frame")
    assert r.loc[0, "ks"] == 0.0 and r.loc[1, "ks"] == 1.0 and r.loc[1, "pvalue"] < 1e-6
    assert r.loc[1, "w1"] == pytest.approx(50.0)
    with pytest.raises(InputError, match="lack"):
        realism_per_time(real, real, columns=["sphericity"])


def rod(mask, start, direction, length, radius=1.5):
    g = np.indices(mask.shape).transpose(1, 2, 3, 0).astype(float)
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    rel = g - np.asarray(start, float)
    along = rel @ d
    off = np.linalg.norm(rel - along[..., None] * d, axis=-1)
    return mask | ((along >= 0) & (along <= length) & (off <= radius))


def test_attached_protrusions_count_the_rods_on_a_ball_and_ignore_a_floating_one():
    shape, c = (48, 48, 48), (24, 24, 24)
    cell = ball(shape, c, r=8)
    for d in [(1, 0, 0), (0, 1, 0), (0, 0, -1)]:
        cell = rod(cell, c, d, length=20)              # 12 voxels beyond the body
    p = attached_protrusions(cell)
    assert p["count"] == 3
    assert all(6 <= length <= 14 for length in p["lengths_um"])
    floating = rod(cell, (4, 4, 40), (0, 1, 0), length=10)  # not connected to the body
    q = attached_protrusions(floating)
    assert q["count"] == 3 and q["detached_length_um"] > 5
    assert attached_protrusions(ball(shape, c, r=8))["count"] == 0
    assert attached_protrusions(np.zeros(shape, bool))["count"] == 0
