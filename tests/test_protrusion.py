"""Protrusion recall on analytic cells with known protrusions: a ball with capsules
(cylinders with round ends) sticking out, built here (not from cellshapes.phantoms)."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.measure.compare import compare_shapes
from cellshapes.measure.protrusion import (cell_body, default_body_radius, protrusion_recall,
                                           protrusion_skeleton, skeleton_lengths)

N = 64
R_BODY = 12.0       # um, at 1 um voxels unless a test says otherwise
R_CAPSULE = 2.0     # radius of a protrusion: 4 voxels thick
TIP = 26.0          # protrusions reach 26 um from the centre
AXES = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])]  # +x and +y


def cell_sdf(n_caps: int, spacing=(1.0, 1.0, 1.0), shape=(N, N, N), r_body=R_BODY,
             axes=AXES) -> np.ndarray:
    """Analytic distance field (um) of a ball plus ``n_caps`` capsules from its centre."""
    zyx = np.stack(np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s
                                 for n, s in zip(shape, spacing)], indexing="ij"), -1)
    d = np.linalg.norm(zyx, axis=-1) - r_body
    for u in axes[:n_caps]:
        t = np.clip(zyx @ u, 0.0, TIP)
        d = np.minimum(d, np.linalg.norm(zyx - t[..., None] * u, axis=-1) - R_CAPSULE)
    return d


@pytest.fixture(scope="module")
def cells():
    return {k: cell_sdf(k) <= 0 for k in (0, 1, 2)}


def test_body_is_the_ball_and_skeleton_the_two_axes(cells):
    body = cell_body(cells[2])
    ball = cells[0]
    # the opening drops the capsules and keeps the ball, up to some of its rim voxels
    # (measured 192 of 7208: a digital ball is not a union of digital balls)
    assert not np.any(body & ~ball)
    assert np.count_nonzero(ball & ~body) < 0.04 * np.count_nonzero(ball)
    skel = protrusion_skeleton(cells[2], tolerance_um=np.sqrt(3))
    coords, length = skeleton_lengths(skel)
    # along +x and +y, from the band around the body out to near the tips
    centre = (N - 1) / 2
    off = coords - centre
    on_axis = (np.abs(off[:, 0]) <= 1) & ((np.abs(off[:, 1]) <= 1) | (np.abs(off[:, 2]) <= 1))
    assert on_axis.all()
    expected = 2 * (TIP - R_BODY - np.sqrt(3))  # per capsule: tip minus body and band
    assert length.sum() == pytest.approx(expected, rel=0.15)


@pytest.mark.parametrize("other, expected", [(2, 1.0), (0, 0.0), (1, 0.5)])
def test_recall_of_known_protrusions(cells, other, expected):
    """Against itself 1, the ball alone 0, one of the two capsules 0.5."""
    assert protrusion_recall(cells[2], cells[other]) == pytest.approx(expected, abs=0.05)


def test_recall_grows_with_a_shorter_protrusion_rebuilt():
    """A rebuilt capsule reaching only 19 of 26 um along each axis: recall about the share
    of the protrusion skeleton (13 -> ~12.3 um long) it covers, ~ (19 + tol - 13.7) /
    12.3."""
    truth = cell_sdf(2) <= 0
    zyx = np.stack(np.meshgrid(*[np.arange(N) - (N - 1) / 2] * 3, indexing="ij"), -1)
    short = np.linalg.norm(zyx, axis=-1) <= R_BODY
    for u in AXES:
        t = np.clip(zyx @ u, 0.0, 19.0)
        short |= np.linalg.norm(zyx - t[..., None] * u, axis=-1) <= R_CAPSULE
    r = protrusion_recall(truth, short)
    assert 0.4 < r < 0.8


def test_bigger_ball_alone_gets_little(cells):
    """A body 1 um larger than the truth covers only the first um of each protrusion."""
    bigger = cell_sdf(0, r_body=R_BODY + 1.0) <= 0
    assert protrusion_recall(cells[2], bigger) < 0.15


def test_no_protrusion_is_nan(cells):
    assert np.isnan(protrusion_recall(cells[0], cells[2]))


def test_anisotropic_spacing():
    """The same physical cell on a grid with 2 um z steps: same answers."""
    sp = (2.0, 0.5, 0.5)
    shape = (34, 120, 120)
    two, one = (cell_sdf(k, sp, shape) <= 0 for k in (2, 1))
    ball = cell_sdf(0, sp, shape) <= 0
    assert protrusion_recall(two, two, sp) == pytest.approx(1.0)
    assert protrusion_recall(two, ball, sp) == pytest.approx(0.0, abs=0.05)
    assert protrusion_recall(two, one, sp) == pytest.approx(0.5, abs=0.08)


def test_default_body_radius_and_bad_input(cells):
    v = np.count_nonzero(cells[0])
    assert default_body_radius(cells[0], (1, 1, 1)) == pytest.approx(
        0.5 * (3 * v / (4 * np.pi)) ** (1 / 3))
    with pytest.raises(InputError, match="body radius"):
        protrusion_recall(cells[2], cells[2], body_radius_um=0)
    with pytest.raises(InputError, match="tolerance"):
        protrusion_recall(cells[2], cells[2], tolerance_um=-1)
    with pytest.raises(InputError, match="empty"):
        protrusion_recall(np.zeros_like(cells[2]), cells[2])
    with pytest.raises(InputError, match="shape"):
        protrusion_recall(cells[2], cells[2][:-1])
    # a body scale below the protrusions' radius keeps them in the body: no protrusion
    # left (1 um, not 1.5: a 4-voxel-wide digital capsule holds no digital ball of 1.5)
    assert np.isnan(protrusion_recall(cells[2], cells[0], body_radius_um=1.0))


def test_compare_reports_protrusion_recall(cells):
    sdf_two = cell_sdf(2).astype(np.float32)
    m = compare_shapes(sdf_two, cells[1])  # an SDF truth against a mask
    assert m["protrusion_recall"] == pytest.approx(0.5, abs=0.05)
    assert m["dsc"] > 0.9  # the DSC barely sees the missing protrusion
