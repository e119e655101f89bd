"""Rotation recovery: the measure returns applied relative rotations (nothing trained)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from cellshapes.config import GridOptions, model_config
from cellshapes.cube import rotate_sdf_sequence
from cellshapes.errors import InputError
from cellshapes.inference.grid import sequence_sdf
from cellshapes.measure.rotation import geodesic_deg, relative_rotation_errors, turned_dsc
from cellshapes.model import AutoDecoder, matrix_to_euler


def _shape(p: torch.Tensor) -> torch.Tensor:
    """An asymmetric cell in cube coordinates (z, y, x): an ellipsoid body with an
    off-centre lobe, so no rotation but the identity maps it onto itself."""
    body = torch.sqrt((p[..., 0] / 0.25) ** 2 + (p[..., 1] / 0.35) ** 2
                      + (p[..., 2] / 0.5) ** 2) - 1.0
    lobe = torch.linalg.norm(p - torch.tensor([0.12, 0.2, 0.45]), dim=-1) / 0.18 - 1.0
    return torch.minimum(body * 0.25, lobe * 0.18)


class _Analytic(torch.nn.Module):
    """A decoder whose shape is :func:`_shape` whatever the code and time."""

    def forward(self, x, t, z):  # noqa: ANN001, ANN201
        return _shape(x)


def _grid(size: int) -> torch.Tensor:
    u = torch.linspace(-1, 1, size)
    return torch.stack(torch.meshgrid(u, u, u, indexing="ij"), -1)


def test_geodesic_angle_of_known_rotations():
    for deg in (0.0, 1.0, 37.5, 120.0, 179.0):
        r = Rotation.from_rotvec(np.radians(deg) * np.array([0.3, -0.5, 0.8]) /
                                 np.linalg.norm([0.3, -0.5, 0.8])).as_matrix()
        assert geodesic_deg(np.eye(3), r) == pytest.approx(deg, abs=1e-6)
    with pytest.raises(InputError, match="not all rotations"):
        geodesic_deg(np.eye(3), 2 * np.eye(3))


def test_relative_rotations_come_back_whatever_the_canonical_frame():
    applied = Rotation.random(8, random_state=1).as_matrix()
    groups = ["a"] * 4 + ["b"] * 4
    q = Rotation.random(random_state=2).as_matrix()      # any shared canonical frame
    learned = applied @ q.T                              # R_a = A_a Q^T
    rows = relative_rotation_errors(learned, applied, groups)
    assert len(rows) == 12 and max(r["error_deg"] for r in rows) < 1e-5
    assert min(r["applied_deg"] for r in rows) > 1.0     # the copies do differ
    tilt = Rotation.from_rotvec([0, 0, np.radians(10.0)]).as_matrix()
    off = learned.copy()
    off[1] = tilt @ off[1]                               # copy 1 learned 10 deg off
    errs = {(r["a"], r["b"]): r["error_deg"] for r in relative_rotation_errors(off, applied,
                                                                               groups)}
    assert errs[(0, 1)] == pytest.approx(10.0, abs=1e-4) and errs[(0, 2)] < 1e-5


def test_model_convention_end_to_end_and_the_shape_check():
    """Copies of one shape made by rotate_sdf_sequence (the dataset path) are rebuilt by a
    model whose rotations are R_a = A_a Q^T (the decoder sees R^T x): the R^T x
    convention of the model matches the data's; the relative rotation comes back within
    1 degree, and turning copy a by it gives copy b's shape."""
    size = 40
    q = Rotation.random(random_state=5).as_matrix()
    applied = Rotation.random(3, random_state=4).as_matrix()
    canonical = _shape(_grid(size) @ torch.tensor(q, dtype=torch.float32)).numpy()  # S(Q^T x)
    copies = [rotate_sdf_sequence(canonical[None], a, float(canonical.max()))[0]
              for a in applied]
    model = AutoDecoder(model_config("smoke"), 3)
    model.decoder = _Analytic()
    learned = applied @ q                                # the decoder's shape is S: D = S
    with torch.no_grad():
        model.angles.copy_(matrix_to_euler(torch.tensor(learned, dtype=torch.float32)))
    got = model.rotations(torch.arange(3)).detach().numpy()
    assert np.allclose(got, learned, atol=1e-5)
    rec = [sequence_sdf(model, [0.0], size, seq=i, lipschitz=1.0,
                        options=GridOptions(narrow_band=False))[0][0] for i in range(3)]
    for r, c in zip(rec, copies):
        inside = (c <= 0).sum()
        assert ((r <= 0) & (c <= 0)).sum() > 0.97 * inside  # the model rebuilds each copy
    rows = relative_rotation_errors(got, applied, [0, 0, 0])
    assert max(r["error_deg"] for r in rows) < 1.0
    rel = got[1] @ got[0].T
    assert turned_dsc(rec[0], copies[1], rel) > 0.95
    assert turned_dsc(rec[0], copies[1], np.eye(3)) < 0.9  # unturned: another shape


def test_principal_init_aligns_rotated_copies():
    """angle_init="principal": copies of an asymmetric shape start at rotations whose
    relative rotation is the applied one (what training with the paper's random init did
    not find: median error 125-133 degrees in 3 seeds, see the README)."""
    from types import SimpleNamespace

    from cellshapes.model import euler_to_matrix
    from cellshapes.training.loop import principal_angles

    size = 40
    shape = _shape(_grid(size)).numpy()
    applied = np.concatenate([np.eye(3)[None], Rotation.random(3, random_state=7).as_matrix()])
    copies = [rotate_sdf_sequence(shape[None], a, float(shape.max())) for a in applied]
    learned = euler_to_matrix(principal_angles(SimpleNamespace(volumes=copies))).numpy()
    rows = relative_rotation_errors(learned, applied, [0] * 4)
    assert max(r["error_deg"] for r in rows) < 5.0
    assert model_config("smoke", angle_init="principal").angle_init == "principal"
    with pytest.raises(InputError, match="angle_init must be one of"):
        model_config("smoke", angle_init="uniform")


# ------------------------------------------------------------------ rotation search (#33)
class _Flipped(torch.nn.Module):
    """A decoder that learned each copy as a shape of its own: code z (9 numbers) holds a
    matrix M and D(y, z) = S(M y), i.e. :func:`_shape` turned by M^T."""

    def forward(self, x, t, z):  # noqa: ANN001, ANN201
        m = z.reshape(-1, 3, 3)
        return _shape(x @ m.transpose(1, 2))  # rows: (M y)^T = y^T M^T


def _flipped_copies(flips: list[int], size: int = 24):
    """Copies of :func:`_shape` turned by random A_i whose model starts at R_i = A_i F_i
    (F_i a proper sign flip, as a wrong skewness sign of the principal frame gives) with
    codes that rebuild each copy exactly in that wrong frame."""
    from cellshapes.training.rotation_sync import candidate_rotations
    from cellshapes.training.sampling import SDFSampler

    n = len(flips)
    applied = Rotation.random(n, random_state=11).as_matrix()
    f = candidate_rotations("flips")[flips]
    g = _grid(size).reshape(-1, 3)
    vols = [_shape(g @ torch.tensor(a, dtype=torch.float32)).reshape(1, size, size, size)
            .numpy() for a in applied]                        # sdf_i(x) = S(A_i^T x)
    model = AutoDecoder(model_config("smoke", latent_dim=9), n)
    model.decoder = _Flipped()
    with torch.no_grad():
        model.angles.copy_(matrix_to_euler(torch.tensor(applied @ f, dtype=torch.float32)))
        model.codes.copy_(torch.tensor(f.reshape(n, 9), dtype=torch.float32))  # D_i = S(F_i y)
    sampler = SDFSampler(vols, [0.15] * n, near_set="band")
    return model, sampler, applied


def test_candidate_sets_are_groups_of_proper_rotations():
    from cellshapes.training.rotation_sync import candidate_rotations, group_tables

    for kind, k in (("flips", 4), ("cube", 24)):
        c = candidate_rotations(kind)
        assert c.shape == (k, 3, 3) and np.allclose(c[0], np.eye(3))
        assert np.allclose(np.linalg.det(c), 1.0)
        mul, inv = group_tables(c)
        for a in range(k):
            assert mul[a, inv[a]] == 0
            for b in range(k):
                assert np.allclose(c[mul[a, b]], c[a] @ c[b])
    with pytest.raises(InputError, match="rotation candidates"):
        candidate_rotations("icosahedral")


def test_search_repairs_sign_flipped_starts():
    """Six copies start in frames that differ by 180-degree turns (3 distinct flips, so no
    majority); the decoder rebuilds each copy exactly in its wrong frame, so gradient steps
    have nothing to repair. After the search every relative rotation is the applied one
    within 1 degree, and each copy is rebuilt in its new frame by the code it took."""
    from cellshapes.model import euler_to_matrix
    from cellshapes.training.rotation_search import search_rotations

    model, sampler, applied = _flipped_copies([0, 1, 2, 3, 1, 0])
    groups = [0] * 6

    def errors() -> np.ndarray:
        rot = euler_to_matrix(model.angles.detach()).numpy()
        return np.array([r["error_deg"] for r in relative_rotation_errors(rot, applied, groups)])

    assert (errors() > 170).sum() >= 8  # most pairs start half a turn apart
    rec = search_rotations(model, sampler, "flips", points=256, seed=0)
    assert errors().max() < 1.0
    assert len(rec["changed"]) >= 3 and max(rec["loss_after"]) < 0.01  # grid interpolation
    assert np.allclose(rec["angles_after"], model.angles.detach().numpy())
    before = euler_to_matrix(torch.tensor(rec["angles_before"])).numpy()
    assert np.median([r["error_deg"] for r in
                      relative_rotation_errors(before, applied, groups)]) > 90


def test_search_leaves_right_starts_and_unrelated_shapes_alone():
    """Copies that start right are not turned; neither is a lone shape that no other
    sequence explains (every candidate fits it equally badly: the margin holds)."""
    from cellshapes.training.rotation_sync import (candidate_rotations, group_tables,
                                                   synchronise)

    rng = np.random.default_rng(0)

    cands = candidate_rotations("flips")
    n = 5
    losses = 1.0 + 0.05 * rng.random((n, 4, n))  # unrelated: all about equally bad
    for i in range(4):
        for j in range(4):
            losses[i, 0, j] = 0.01 + 0.001 * rng.random()  # 0-3: one shape, same frame
    assert (synchronise(losses, cands) == 0).all()
    losses[0, :, 1:4] = losses[0, [1, 0, 3, 2], 1:4]  # 0 is flipped about axis 0 wrt 1-3
    losses[1:4, :, 0] = losses[1:4, [1, 0, 3, 2], 0]
    corr = synchronise(losses, cands)
    mul, inv = group_tables(cands)
    assert all(mul[corr[0], inv[corr[j]]] == 1 for j in (1, 2, 3))  # C_0 C_j^-1 = G_1
    assert corr[4] == 0 and (corr != 0).sum() in (1, 3)  # one side turned


def test_align_start_repairs_flips_and_small_offsets():
    """The data-side search before training: principal-like starts R_i = A_i E_i F_i (F_i a
    sign flip, E_i a 5-degree error of the axes, about another axis per copy) lose their
    flips, and the record says which sequences were flipped. (With 8-degree errors this
    small shape at 24^3 no longer tells the flips apart: measured, not asserted.)"""
    from cellshapes.model import euler_to_matrix
    from cellshapes.training.rotation_sync import candidate_rotations
    from cellshapes.training.rotation_start import align_start

    flips = [0, 1, 2, 3, 1, 0]
    model, sampler, applied = _flipped_copies(flips)
    axes = Rotation.random(6, random_state=3).as_rotvec()
    tilt = Rotation.from_rotvec(np.radians(5.0) * axes
                                / np.linalg.norm(axes, axis=1, keepdims=True)).as_matrix()
    start = applied @ tilt @ candidate_rotations("flips")[flips]
    with torch.no_grad():
        model.angles.copy_(matrix_to_euler(torch.tensor(start, dtype=torch.float32)))
    err0 = [r["error_deg"] for r in relative_rotation_errors(start, applied, [0] * 6)]
    assert sum(e > 160 for e in err0) >= 8  # most pairs start half a turn apart
    tilted = [r["error_deg"] for r in relative_rotation_errors(applied @ tilt, applied,
                                                                [0] * 6)]  # 4-10 degrees
    rec = align_start(model, sampler, "flips")
    rot = euler_to_matrix(model.angles.detach()).numpy()
    err = [r["error_deg"] for r in relative_rotation_errors(rot, applied, [0] * 6)]
    assert max(err) < 15.0  # every flip repaired
    # the refinement pulls each copy towards its nearest copy only (here in pairs), so it
    # does not remove the tilts, it must not add to them
    assert np.median(err) <= np.median(tilted) + 1.0
    assert set(rec["changed"]) in ({1, 2, 3, 4}, {0, 2, 3, 5}, {0, 1, 3, 4, 5},
                                   {0, 1, 2, 4, 5})  # every copy turned to one frame


def test_frozen_angles_stay_at_the_searched_start(tmp_path):
    """freeze_angles: training moves the codes and the decoder, never the angles; the run
    records the start and the search (``rotation_search.json``)."""
    from tests.conftest import write_ellipsoid_dataset

    from cellshapes.config import train_config
    from cellshapes.inference.reconstruct import load_run
    from cellshapes.training.loop import train
    from cellshapes.training.rotation_search import read_record

    ds = write_ellipsoid_dataset(tmp_path / "e.h5", n=2, size=16)
    run = tmp_path / "run"
    train(ds, run, model_config("smoke", angle_init="principal"),
          train_config("smoke", epochs=2, freeze_angles=True, rotation_search=(0,)),
          device="cpu", progress=False)
    rec = read_record(run)
    assert {"start", "epoch_0"} <= set(rec)
    net, _ = load_run(run, "cpu")
    assert np.allclose(net.angles.detach().numpy(), rec["epoch_0"]["angles_after"], atol=1e-6)
    assert not np.allclose(net.codes.detach().numpy(), rec["start"]["codes"])


def test_fit_principal_restarts_start_at_the_flipped_principal_axes():
    """FitConfig.rotation_init="principal": restarts 0-3 of every sequence are its
    principal axes times the 4 sign flips, the rest stay random; one of the four is the
    applied rotation times the canonical shape's principal frame."""
    from types import SimpleNamespace

    from cellshapes.inference.fit import _principal_restarts
    from cellshapes.model import euler_to_matrix
    from cellshapes.sdf import principal_axes

    shape = _shape(_grid(32)).numpy()
    applied = Rotation.random(2, random_state=9).as_matrix()
    copies = [rotate_sdf_sequence(shape[None], a, float(shape.max())) for a in applied]
    rand = torch.randn(2 * 6, 3)
    got = euler_to_matrix(_principal_restarts(SimpleNamespace(volumes=copies), rand, 6))
    got = got.reshape(2, 6, 3, 3).numpy()
    assert np.allclose(got[:, 4:], euler_to_matrix(rand).reshape(2, 6, 3, 3)[:, 4:].numpy(),
                       atol=1e-5)
    p0 = principal_axes(shape <= 0, (1.0, 1.0, 1.0))
    for i, a in enumerate(applied):
        best = min(geodesic_deg(got[i, f], a @ p0).item() for f in range(4))
        assert best < 5.0
