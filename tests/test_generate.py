"""Generation of new sequences: sampled codes, interpolation, random rotations."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch

from cellshapes.cli import main
from cellshapes.inference.generate import interpolate_codes, random_rotations, sample_codes
from cellshapes.model import euler_to_matrix
from cellshapes.training.data import load_training_data


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


@pytest.mark.parametrize("method", ["gaussian", "near", "gmm", "span", "hull", "local", "pca"])
def test_sample_codes_methods(method):
    codes = np.random.default_rng(0).normal(0, 0.03, (8, 16))  # rule: 0.1 / 0.05
    new, src = sample_codes(codes, 5, method, seed=3)
    again, _ = sample_codes(codes, 5, method, seed=3)
    assert new.shape == (5, 16) and np.array_equal(new, again)
    if method == "gaussian":
        assert new.std() == pytest.approx(0.1, rel=0.35)
    if method == "near":
        assert (src >= 0).all()
        assert np.abs(new - codes[src]).std() == pytest.approx(0.05, rel=0.35)


def test_interpolation_and_rotations():
    path = interpolate_codes(np.zeros(4), np.ones(4), 5)
    assert path.shape == (5, 4) and np.allclose(path[:, 0], [0, 0.25, 0.5, 0.75, 1])
    ang = torch.tensor(random_rotations(20, seed=0))
    rot = euler_to_matrix(ang)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(20), atol=1e-5)


def test_paper_std_reproduces_the_papers_numbers():
    """Sec 5.1: code std 0.0004 and 0.0008 -> N(0, 0.001); 0.0007 -> codes + N(0, 0.0005)."""
    from cellshapes.errors import InputError
    from cellshapes.inference.generate import paper_std

    rng = np.random.default_rng(0)
    for sd, method, expected in [(0.0004, "gaussian", 1e-3), (0.0008, "gaussian", 1e-3),
                                 (0.0007, "near", 5e-4), (0.027, "gaussian", 0.1)]:
        codes = rng.normal(0.0, sd, (200, 64))
        assert paper_std(codes, method) == pytest.approx(expected), (sd, method)
    codes = rng.normal(0.0, 0.0004, (200, 64))
    new, _ = sample_codes(codes, 4000, "gaussian", seed=1)
    assert np.std(new) == pytest.approx(1e-3, rel=0.02)  # a std, not a variance
    new, _ = sample_codes(codes, 4000, "gaussian", seed=1, variance=1e-4)
    assert np.std(new) == pytest.approx(1e-2, rel=0.02)
    new, _ = sample_codes(codes, 4000, "gaussian", seed=1, std=0.2)
    assert np.std(new) == pytest.approx(0.2, rel=0.02)
    with pytest.raises(InputError, match="one of std, variance or scale"):
        sample_codes(codes, 2, "gaussian", std=0.1, variance=0.1)
    with pytest.raises(InputError, match="std"):
        paper_std(np.zeros((3, 4)), "gaussian")


def test_generate_reports_islands_and_drops_them_only_when_asked(trained_run, tmp_path,
                                                                 monkeypatch):
    from cellshapes.inference.generate import generate_run
    from cellshapes.measure.topology import largest_component_share

    rep = generate_run(trained_run, tmp_path / "a", n=2, seed=3, progress=False)
    assert set(rep["sequences"]) == {"gen_0000", "gen_0001"}
    assert rep["drop_islands_voxels"] == 0 and 0.0 <= rep["island_fraction_mean"] < 1.0
    assert all(len(v["frames"]) == 4 for v in rep["sequences"].values())
    assert rep["method"] == "local"
    assert rep["valid_share"] == np.mean([v["valid"] for v in rep["sequences"].values()])
    for v in rep["sequences"].values():  # a sequence is valid when every frame is
        assert v["valid"] == all(f["valid"] for f in v["frames"]) or any(
            b["cells"] < a["cells"] for a, b in zip(v["frames"], v["frames"][1:]))
    assert all(0.0 <= v["nearest_training_dsc"] <= 1.0 for v in rep["sequences"].values())
    assert "reference" in rep["realism"]
    assert all(v["last_frame"] is None or v["last_frame"]["volume_um3"] > 0
               for v in rep["sequences"].values())
    # a frame with a detached 1-voxel speck: counted, and removed only with the option
    speck = np.zeros((8, 8, 8), bool)
    speck[1:5, 1:5, 1:5] = True
    speck[7, 7, 7] = True
    assert largest_component_share(speck) == {"components": 2.0,
                                              "island_fraction": pytest.approx(1 / 65)}
    from cellshapes.inference import grid  # generate_run imports sequence_sdf from here

    monkeypatch.setattr(grid, "sequence_sdf", lambda *a, **k: (
        np.where(np.stack([speck] * 4), -1.0, 1.0).astype(np.float32), {}))
    for drop, expect in ((0, 65), (2, 64)):
        out = tmp_path / f"d{drop}"
        rep = generate_run(trained_run, out, n=1, size=8, progress=False,
                           drop_islands_voxels=drop)
        mask = tifffile.imread(out / "masks" / "gen_0000.tif")
        assert int(mask[0].sum()) == expect
        first = rep["sequences"]["gen_0000"]["frames"][0]
        assert first["components"] == 2 and first["cells"] == 2  # 1.5 % of it: not an island
        assert rep["sequences"]["gen_0000"]["valid"] is False  # two cells where one belongs
        assert json.loads((out / "config.json").read_text())["generate"][
            "drop_islands_voxels"] == drop


def test_island_share_keeps_as_many_cells_as_asked():
    """Two daughters are cells, not islands, when keep=2; a third speck is an island."""
    from cellshapes.errors import InputError
    from cellshapes.measure.topology import largest_component_share

    m = np.zeros((12, 12, 12), bool)
    m[1:5, 1:5, 1:5] = True      # 64 voxels
    m[7:10, 7:10, 7:10] = True   # 27 voxels, the second daughter
    m[11, 0, 11] = True          # 1-voxel island
    assert largest_component_share(m)["island_fraction"] == pytest.approx(28 / 92)
    two = largest_component_share(m, keep=2)
    assert two == {"components": 3.0, "island_fraction": pytest.approx(1 / 92)}
    assert largest_component_share(np.zeros((4, 4, 4), bool), keep=2)["island_fraction"] == 0
    with pytest.raises(InputError, match="keep"):
        largest_component_share(m, keep=0)


def test_whole_sequence_needs_every_frame_filled_and_without_islands():
    from cellshapes.measure.topology import whole_sequence

    cell = np.zeros((12, 12, 12), bool)
    cell[1:5, 1:5, 1:5] = True               # 64 voxels
    speck = cell.copy()
    speck[11, 11, 11] = True                 # 1 of 65 voxels outside the cell: 1.5 %
    daughters = cell.copy()
    daughters[7:10, 7:10, 7:10] = True       # a second cell of 27 voxels
    assert whole_sequence(np.stack([cell, cell])) == (True, 0.0)
    ok, worst = whole_sequence(np.stack([cell, speck]))
    assert not ok and worst == pytest.approx(1 / 65)
    assert whole_sequence(np.stack([cell, speck]), max_island=0.02)[0]
    assert not whole_sequence(np.stack([cell, np.zeros_like(cell)]))[0]  # an empty frame
    assert not whole_sequence(np.stack([daughters]))[0]
    assert whole_sequence(np.stack([daughters]), keep=2) == (True, 0.0)


@pytest.mark.slow
def test_generate_from_the_shipped_filopodial_model_makes_whole_new_cells(tmp_path, capsys):
    """Issue 32's must-show: default options, 8 sequences at 48^3: >= 7 of 8 are one
    26-connected component in every frame with < 1 % of the foreground outside it, and
    the report gives validity and novelty."""
    from scipy import ndimage as ndi

    from cellshapes import pretrained

    out = tmp_path / "gen"
    assert main(["generate", str(pretrained.load("filopodial_study")), "--n", "8", "--size",
                 "48", "--out", str(out), "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "local" and "valid_share" in report
    assert {"nearest_training_dsc_median", "between_training_dsc"} <= set(report["novelty"])
    whole = 0
    for i in range(8):
        masks = tifffile.imread(out / "masks" / f"gen_{i:04d}.tif") > 0
        ok = True
        for m in masks:
            lab, n = ndi.label(m, structure=np.ones((3, 3, 3), bool))
            sizes = np.bincount(lab.ravel())[1:]
            ok &= n >= 1 and 1 - sizes.max() / sizes.sum() < 0.01
        whole += ok
        assert report["sequences"][f"gen_{i:04d}"]["valid"] == ok
    assert whole >= 7


def test_generate_steps_plan_build_write(trained_run, tmp_path):
    """plan sizes the grid and draws the codes the sampler registry draws; build makes
    one judged sequence per code without writing; write makes a run reconstruct reads."""
    from cellshapes.inference.generate import (GenerateConfig, build_generation,
                                               plan_generation, write_generation)
    from cellshapes.inference.reconstruct import load_run
    from cellshapes.inference.samplers import draw

    cfg = GenerateConfig(n=2, method="span", scale=0.4, seed=5, size=10, frames=3)
    plan = plan_generation(trained_run, cfg, device="cpu")
    learned = plan.model.codes.detach().cpu().numpy()
    codes, source, used = draw(learned, 2, "span", 5, 0.4)
    np.testing.assert_array_equal(plan.codes, codes)
    assert (plan.size, plan.frames, plan.scale, plan.names) == (10, 3, 0.4,
                                                                ["gen_0000", "gen_0001"])
    assert plan.angles.shape == (2, 3) and plan.source.tolist() == source.tolist()
    assert plan.max_cells == 1  # ellipsoids: one cell per frame
    gen = build_generation(plan)
    assert [q.sdf.shape for q in gen.sequences] == [(3, 10, 10, 10)] * 2
    assert [m.shape for m in gen.masks] == [(3, 10, 10, 10)] * 2
    assert not (tmp_path / "g").exists()
    report = gen.report(tmp_path / "g")
    assert report["valid_share"] == np.mean([v["valid"] for v in gen.per_sequence.values()])
    write_generation(gen, tmp_path / "g")
    model, config = load_run(tmp_path / "g")
    torch.testing.assert_close(model.codes.detach(), torch.tensor(codes))
    assert config["generate"]["scale"] == 0.4 and config["generate"]["method"] == "span"
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "g" / "masks" / "gen_0001.tif"),
                                  gen.masks[1].astype(np.uint8))


def test_generate_config_refuses_bad_values():
    from cellshapes.errors import InputError
    from cellshapes.inference.generate import GenerateConfig

    for bad in (dict(n=0), dict(method="nope"), dict(scale=-1.0), dict(size=1),
                dict(n=1.5), dict(drop_islands_voxels=-1)):
        with pytest.raises(InputError):
            GenerateConfig(**bad)
