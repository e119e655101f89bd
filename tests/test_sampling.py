"""The training sampler on an analytic sphere: near/far/inside fractions, both near-set
rules, trilinear targets against the exact SDF, frames_every, determinism, int32 indices."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cellshapes.errors import InputError
from cellshapes.io import SDFSequence, write_dataset
from cellshapes.training.data import load_training_data
from cellshapes.training.sampling import SDFSampler, frame_times, index_dtype, near_mask

S = 33  # voxel size h = 2 / 32
H = 2.0 / (S - 1)
R = 0.5  # sphere radius, cube units
BAND = 0.1  # 1.6 voxels
JITTER = math.sqrt(3) / 2 * H  # farthest a near point lies from its voxel centre


def _grid(size=S):
    g = np.linspace(-1.0, 1.0, size)
    return np.meshgrid(g, g, g, indexing="ij")


def sphere_sdf(size=S, radius=R, centre=(0.0, 0.0, 0.0)):
    z, y, x = _grid(size)
    return (np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2)
            - radius).astype(np.float32)


def exact(points, radius=R):
    return points.double().norm(dim=-1) - radius


def _sampler(near_set, frames=2, **kw):
    vol = np.stack([sphere_sdf()] * frames)
    return SDFSampler([vol], [BAND], near_set=near_set, **kw)


def _voxel_of(points):
    """(B, P, 3) points -> flat voxel index (nearest grid node) and whether that is clear
    (not within 1e-4 voxel of a cell boundary, where float rounding could tip it)."""
    u = (points.double() + 1.0) / H
    ijk = u.round()
    clear = ((u - ijk).abs() < 0.5 - 1e-4).all(-1)
    ijk = ijk.long().clamp(0, S - 1)
    return (ijk[..., 0] * S + ijk[..., 1]) * S + ijk[..., 2], clear


@pytest.mark.parametrize("near_set", ["paper", "band"])
def test_near_set_is_the_rule_of_sec_4_5_or_the_shell(near_set):
    vol = sphere_sdf()
    s = _sampler(near_set)
    rule = vol <= BAND if near_set == "paper" else np.abs(vol) <= BAND
    assert s.near_count.tolist() == [int(rule.sum())] * 2
    assert np.array_equal(s.near_idx[: s.near_count[0]].long().numpy(), np.flatnonzero(rule))
    centre = ((S // 2) * S + S // 2) * S + S // 2  # sdf = -R: deep inside
    assert (centre in set(s.near_idx.tolist())) == (near_set == "paper")
    # against the continuous volumes, within one voxel shell of discretisation
    outer = 4 / 3 * math.pi * (R + BAND) ** 3 / H**3
    inner = 4 / 3 * math.pi * (R - BAND) ** 3 / H**3
    expected = outer if near_set == "paper" else outer - inner
    assert abs(int(rule.sum()) / expected - 1) < 0.05


@pytest.mark.parametrize("near_set", ["paper", "band"])
def test_near_points_come_from_near_voxels_and_far_points_are_uniform(near_set):
    s = _sampler(near_set)
    n_points = 20000
    n_near = round(0.7 * n_points)
    b = s.sample(4, n_points, torch.Generator().manual_seed(0))
    near_pts, far_pts = b.points[:, :n_near], b.points[:, n_near:]
    members = torch.zeros(S**3, dtype=torch.bool)
    members[s.near_idx[: s.near_count[0]].long()] = True
    voxel, clear = _voxel_of(near_pts)
    assert bool(members[voxel][clear].all()) and float(clear.double().mean()) > 0.99
    d = exact(near_pts)
    if near_set == "paper":
        assert float(d.max()) <= BAND + JITTER
    else:
        assert float(d.abs().max()) <= BAND + JITTER
    # far points: uniform in the cube, so the share inside the sphere is its volume / 8
    inside = float((exact(far_pts) < 0).double().mean())
    p = 4 / 3 * math.pi * R**3 / 8
    assert abs(inside - p) < 5 * math.sqrt(p * (1 - p) / far_pts[..., 0].numel())
    # and the share of far points in the near set is the near set's share of the cube
    in_near = float(members[_voxel_of(far_pts)[0]].double().mean())
    q = float(s.near_count[0]) / S**3
    assert abs(in_near - q) < 5 * math.sqrt(q * (1 - q) / far_pts[..., 0].numel()) + 0.01


def test_deep_interior_is_sampled_only_with_the_paper_rule():
    """Points deeper than band + jitter: 70 % x (deep voxels / near voxels) + 30 % x volume
    share with the paper's rule; only the 30 % uniform share with the |sdf| band."""
    depth = 0.2  # deeper than BAND + JITTER = 0.154
    n_points = 20000
    vol = sphere_sdf()
    share_far = 4 / 3 * math.pi * (R - depth) ** 3 / 8
    for near_set in ("paper", "band"):
        s = _sampler(near_set)
        b = s.sample(4, n_points, torch.Generator().manual_seed(1))
        got = float((exact(b.points) < -depth).double().mean())
        rule = vol <= BAND if near_set == "paper" else np.abs(vol) <= BAND
        deep_voxels = (vol < -depth).sum() if near_set == "paper" else 0
        want = 0.7 * deep_voxels / rule.sum() + 0.3 * share_far
        assert abs(got - want) < 0.1 * want + 0.002, (near_set, got, want)
    assert want < 0.01  # the band rule leaves the interior to the uniform draw


def test_trilinear_targets_match_the_analytic_sdf_within_the_interpolation_bound():
    """|trilinear - f| <= h^2 / 8 * sum_i max|f_ii| on the cell; for |x| - R the Hessian
    trace is 2 / r, at least (2 / r) at the cell's nearest corner to the centre."""
    s = _sampler("paper")
    b = s.sample(4, 20000, torch.Generator().manual_seed(2))
    r = b.points.double().norm(dim=-1)
    keep = r > 0.2
    err = (b.sdf.double() - exact(b.points))[keep].abs()
    bound = H**2 / 8 * 2 / (r[keep] - math.sqrt(3) * H) + 1e-6
    assert bool((err <= bound).all()), float((err - bound).max())
    assert float(err.max()) > 0.2 * float(bound.min())  # the bound is not vacuous here


def test_trilinear_reproduces_a_linear_function_exactly():
    z, y, x = _grid()
    f = (0.3 * z - 0.2 * y + 0.1 * x + 0.05).astype(np.float32)
    s = SDFSampler([f[None]], [10.0])
    b = s.sample(3, 5000, torch.Generator().manual_seed(3))
    p = b.points.double()
    want = 0.3 * p[..., 0] - 0.2 * p[..., 1] + 0.1 * p[..., 2] + 0.05
    assert float((b.sdf.double() - want).abs().max()) < 1e-6


def test_float16_storage_stays_within_the_bound_plus_rounding():
    s = _sampler("paper", storage_dtype="float16")
    assert s.volumes.dtype == torch.float16
    b = s.sample(2, 20000, torch.Generator().manual_seed(2))
    r = b.points.double().norm(dim=-1)
    keep = r > 0.2
    err = (b.sdf.double() - exact(b.points))[keep].abs()
    bound = H**2 / 8 * 2 / (r[keep] - math.sqrt(3) * H) + 2.0**-10
    assert bool((err <= bound).all())


def test_frames_every_keeps_frames_0_k_2k_with_their_times():
    seqs = [np.stack([sphere_sdf(radius=0.3 + 0.05 * k) for k in range(t)]) for t in (5, 4)]
    s = SDFSampler(seqs, [BAND, BAND], frames_every=2)
    assert s.frame_ids == [(0, 0), (0, 2), (0, 4), (1, 0), (1, 2)]
    assert s.seq.tolist() == [0, 0, 0, 1, 1]
    want_t = [frame_times(5)[k] for k in (0, 2, 4)] + [frame_times(4)[k] for k in (0, 2)]
    assert np.array_equal(s.times.numpy(), np.array(want_t, np.float32))
    for f, (i, k) in enumerate(s.frame_ids):
        assert np.array_equal(s.volumes[f].numpy(), seqs[i][k])
    b = s.sample(50, 10, torch.Generator().manual_seed(0))
    assert set(b.frames.tolist()) <= set(range(5)) and len(set(b.frames.tolist())) == 5


def test_seeded_generator_gives_the_same_batch_and_another_seed_does_not():
    s = _sampler("paper")
    a = s.sample(3, 1000, torch.Generator().manual_seed(7))
    b = s.sample(3, 1000, torch.Generator().manual_seed(7))
    c = s.sample(3, 1000, torch.Generator().manual_seed(8))
    assert torch.equal(a.points, b.points) and torch.equal(a.sdf, b.sdf)
    assert torch.equal(a.frames, b.frames)
    assert not torch.equal(a.points, c.points)


def test_frame_reader_fills_the_same_tensor_as_arrays(tmp_path):
    vols = np.stack([sphere_sdf(radius=0.3 + 0.1 * k) for k in range(3)])
    attrs = dict(spacing_um=[1.0, 1.0, 1.0], scale_um=1.0, voxel_um=H, sdf_unit_um=1.0)
    write_dataset(tmp_path / "d.h5", [SDFSequence("seq_0000", vols, attrs)])
    lazy = load_training_data(tmp_path / "d.h5", lazy=True)
    assert lazy.volumes[0].shape == (3, S, S, S) and lazy.size == S
    assert np.array_equal(lazy.volumes[0][2], vols[2]) and np.array_equal(lazy.volumes[0][-1],
                                                                          vols[2])
    a = SDFSampler(lazy.volumes, [BAND])
    b = SDFSampler([vols], [BAND])
    assert torch.equal(a.volumes, b.volumes) and torch.equal(a.near_idx, b.near_idx)
    with pytest.raises(IndexError):
        lazy.volumes[0][3]


def test_indices_are_int32_below_2_pow_31_voxels():
    s = _sampler("paper")
    assert s.near_idx.dtype == torch.int32
    assert index_dtype(1290) == torch.int32 and index_dtype(1291) == torch.int64  # 1291^3 > 2^31
    n = int(s.near_count.sum())
    assert s.nbytes == 2 * S**3 * 4 + n * 4 + 2 * 8 * 2 + 2 * 8 + 2 * 4


def test_near_mask_rules_on_known_values():
    v = torch.tensor([-5.0, -0.2, -0.1, 0.0, 0.1, 0.2])
    assert near_mask(v, 0.1, "paper").tolist() == [True, True, True, True, True, False]
    assert near_mask(v, 0.1, "band").tolist() == [False, False, True, True, True, False]
    with pytest.raises(InputError, match="near_set"):
        near_mask(v, 0.1, "shell")


def test_bad_frames_are_refused():
    with pytest.raises(InputError, match="no voxel in the near set"):
        SDFSampler([np.ones((1, 8, 8, 8), np.float32)], [0.1])
    big = sphere_sdf()[None] * 1e5  # beyond float16's 65504
    with pytest.raises(InputError, match="range of torch.float16"):
        SDFSampler([big], [BAND], storage_dtype="float16")
    with pytest.raises(InputError, match="same"):
        SDFSampler([sphere_sdf()[None], sphere_sdf(size=9)[None]], [BAND, BAND])
    with pytest.raises(InputError, match="near_set"):
        SDFSampler([sphere_sdf()[None]], [BAND], near_set="shell")
    with pytest.raises(InputError, match="storage dtype"):
        SDFSampler([sphere_sdf()[None]], [BAND], storage_dtype="bfloat16")


def test_run_from_before_near_set_resumes_with_the_band(tmp_path):
    """A config.json without ``near_set`` was trained with the |sdf| band: resuming it
    keeps that rule instead of switching to the new default."""
    import json

    from cellshapes.config import model_config, train_config
    from cellshapes.training.loop import train

    from .conftest import write_ellipsoid_dataset

    path = write_ellipsoid_dataset(tmp_path / "e.h5", n=2, frames=2, size=12)
    run = tmp_path / "run"
    mcfg = model_config("smoke", hidden=16, layers=2, latent_dim=4, latent_layers=(0,))
    tcfg = train_config("paper", epochs=1, frames_per_batch=2, points_per_frame=64,
                        amp=False, compile=False, storage_dtype="float32")
    train(path, run, mcfg, tcfg, device="cpu", progress=False)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["near_set"] == "paper"
    del cfg["train"]["near_set"]
    (run / "config.json").write_text(json.dumps(cfg))
    train(path, run, resume=True, epochs=2, device="cpu", progress=False)
    assert json.loads((run / "config.json").read_text())["train"]["near_set"] == "band"
