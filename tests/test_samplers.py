"""Latent samplers: each draws where its definition says, at the scale it states."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.inference.samplers import (DEFAULT_SAMPLER, SAMPLERS, code_geometry,
                                           default_scale, draw)

CODES = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0]])


def test_code_geometry_of_known_codes():
    g = code_geometry(CODES)
    assert g["n"] == 4 and g["dim"] == 3 and g["rank"] == 3
    assert np.allclose(g["nn_distance"], [1.0, 1.0, 2.0, 4.0])
    assert g["nn_median"] == pytest.approx(1.5)


@pytest.mark.parametrize("scale", [0.25, 0.5, 1.0])
def test_span_lies_on_a_segment_between_two_codes_within_its_scale(scale):
    new, src, used = draw(CODES, 200, "span", seed=1, scale=scale)
    assert used == scale and (src >= 0).all()
    for z, i in zip(new.astype(float), src):
        step = z - CODES[i]
        # the step points at exactly one other code and goes at most `scale` of the way
        fits = [np.linalg.norm(np.cross(step, CODES[j] - CODES[i])) < 1e-5
                and step @ (CODES[j] - CODES[i]) >= -1e-6
                and np.linalg.norm(step) <= scale * np.linalg.norm(CODES[j] - CODES[i]) + 1e-5
                for j in range(4) if j != i]
        assert any(fits)


def test_hull_stays_in_the_convex_hull():
    from scipy.optimize import linprog

    new, _, _ = draw(CODES, 30, "hull", seed=2, scale=1.0)
    for z in new.astype(float):  # z = sum w_k c_k, w >= 0, sum w = 1 has a solution
        a_eq = np.vstack([CODES.T, np.ones(4)])
        res = linprog(np.zeros(4), A_eq=a_eq, b_eq=np.append(z, 1.0), bounds=(0, None))
        assert res.status == 0


def test_local_noise_is_relative_to_the_nearest_code_distance():
    codes = np.random.default_rng(0).normal(0, 1, (6, 64))
    nn = code_geometry(codes)["nn_distance"]
    new, src, _ = draw(codes, 3000, "local", seed=0, scale=0.25)
    ratio = np.linalg.norm(new - codes[src], axis=1) / nn[src]
    assert ratio.mean() == pytest.approx(0.25, rel=0.05)


def test_pca_stays_in_the_codes_span_with_their_spread():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(16, 2)))[0].T   # a 2D plane in 16D
    codes = rng.normal(size=(40, 2)) * [3.0, 0.5] @ basis
    new, _, _ = draw(codes, 4000, "pca", seed=1, scale=1.0)
    off = new - new @ basis.T @ basis                      # component outside the plane
    assert np.abs(off).max() < 1e-4
    assert np.std(new @ basis.T, axis=0) == pytest.approx(np.std(codes @ basis.T, axis=0,
                                                                 ddof=1), rel=0.1)


def test_default_sampler_and_errors():
    assert DEFAULT_SAMPLER in SAMPLERS and not SAMPLERS[DEFAULT_SAMPLER].paper
    assert default_scale(CODES, "span") == 0.5 and default_scale(CODES, "local") == 0.25
    with pytest.raises(InputError, match="unknown sampler"):
        draw(CODES, 2, "banana")
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        draw(CODES, 2, "span", scale=1.5)
    with pytest.raises(InputError, match="N >= 2"):
        draw(CODES[:1], 2, "span")
    with pytest.raises(InputError, match="n must be|--n"):
        draw(CODES, 0, "span")


def test_paper_std_is_refused_for_a_relative_sampler():
    from cellshapes.inference.generate import sample_codes

    with pytest.raises(InputError, match="relative scale"):
        sample_codes(CODES, 2, "span", std=0.1)
    new, _ = sample_codes(CODES, 2, "span", scale=0.3)
    assert new.shape == (2, 3)
