"""Surface distances in um (HD95, ASSD, surface Dice) against analytic spheres, and the
``cellshapes compare`` command with its bad inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cellshapes.cli import main
from cellshapes.errors import InputError
from cellshapes.io import write_tiff
from cellshapes.measure import surface as S
from cellshapes.measure.compare import compare_shapes


def _grid(shape, spacing, centre_offset=(0.0, 0.0, 0.0)):
    """Physical coordinates (um) of voxel centres, origin near the middle of the grid."""
    return np.meshgrid(*[(np.arange(n) - (n - 1) / 2 - o) * s
                         for n, s, o in zip(shape, spacing, centre_offset)], indexing="ij")


def sphere_sdf(shape, r_um, spacing=(1.0, 1.0, 1.0), offset=(0.1, -0.2, 0.3)):
    z, y, x = _grid(shape, spacing, offset)
    return (np.sqrt(x**2 + y**2 + z**2) - r_um).astype(np.float32)


# ------------------------------------------------------------------ concentric spheres
@pytest.mark.parametrize("r, d", [(4.0, 1.0), (6.0, 2.0), (8.0, 0.5), (12.0, 1.5),
                                  (16.0, 2.0)])
@pytest.mark.parametrize("path", ["sdf", "mask"])
def test_concentric_spheres_distance_is_d(r, d, path):
    """Radii r and r + d (um, 1 um voxels): hd95 and assd equal d within half a voxel.
    Voxel-boundary surfaces (MONAI) are off by up to 0.45 voxel here; ours: <= 0.4 on
    the mask path, <= 0.04 on the SDF path."""
    shape = (int(2 * (r + d)) + 8,) * 3
    a, b = sphere_sdf(shape, r), sphere_sdf(shape, r + d)
    if path == "mask":
        a, b = a <= 0, b <= 0
    tol = 0.5 if path == "mask" else 0.05
    assert S.hd95(a, b) == pytest.approx(d, abs=tol)
    assert S.assd(a, b) == pytest.approx(d, abs=0.5 if path == "mask" else 0.02)
    # surface Dice: no surface within d / 2 of the other, all of it within 2 d
    assert S.surface_dice(a, b, tolerance_um=0.5 * d) == pytest.approx(0.0, abs=0.02)
    assert S.surface_dice(a, b, tolerance_um=d + 0.6) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("spacing", [(2.0, 0.5, 0.5), (0.5, 1.0, 0.5)])
def test_concentric_spheres_anisotropic(spacing):
    """Distances are in um: radius 6 vs 7.5 um on an anisotropic grid -> 1.5 um."""
    shape = tuple(int(2 * 9 / s) + 6 for s in spacing)
    a, b = sphere_sdf(shape, 6.0, spacing), sphere_sdf(shape, 7.5, spacing)
    half_voxel = 0.5 * min(spacing)
    assert S.hd95(a, b, spacing) == pytest.approx(1.5, abs=half_voxel)
    assert S.assd(a, b, spacing) == pytest.approx(1.5, abs=half_voxel)
    # the same arrays read at unit spacing are other shapes: the shells are 0.75 to 3
    # voxels apart instead of 1.5 um
    assert S.hd95(a, b) > 2.0


def test_shape_against_itself():
    z = _grid((30, 30, 30), (1.0, 1.0, 1.0))[0]
    a = np.maximum(sphere_sdf((30, 30, 30), 9.0), np.abs(z) - 3.0)  # a flat disc
    for vol in (a, a <= 0):
        m = compare_shapes(vol, vol.copy())
        assert m["dsc"] == 1.0
        assert (m["hd95_um"], m["assd_um"], m["surface_dice"]) == (0.0, 0.0, 1.0)


def test_directed_distances_and_weights():
    """A small sphere inside a large one: every triangle of each is d away; the areas
    weigh the two directions (4 pi r^2 each)."""
    a, b = sphere_sdf((40,) * 3, 6.0), sphere_sdf((40,) * 3, 14.0)
    sd = S.surface_distances(a, b)
    np.testing.assert_allclose(sd.d_ab, 8.0, atol=0.1)
    np.testing.assert_allclose(sd.d_ba, 8.0, atol=0.1)
    assert sd.w_a.sum() == pytest.approx(4 * np.pi * 36, rel=0.02)
    assert sd.w_b.sum() == pytest.approx(4 * np.pi * 196, rel=0.02)
    # the 100th percentile is the Hausdorff distance, the 50th at most that
    assert S.hd95(a, b, percentile=100) >= S.hd95(a, b, percentile=50)


def test_shifted_sphere_hd95_above_assd():
    """A sphere shifted by 3 um: distances range from 0 to 3, so assd < hd95 <= 3."""
    a = sphere_sdf((36,) * 3, 10.0, offset=(0.0, 0.0, 0.0))
    b = sphere_sdf((36,) * 3, 10.0, offset=(0.0, 0.0, 3.0))
    h, m = S.hd95(a, b), S.assd(a, b)
    assert 2.5 < h <= 3.05
    assert 1.0 < m < h


def test_bad_inputs_raise():
    a = sphere_sdf((20,) * 3, 5.0)
    with pytest.raises(InputError, match="shape"):
        S.hd95(a, a[:-1])
    with pytest.raises(InputError, match="empty"):
        S.assd(a, np.zeros_like(a, dtype=bool))
    with pytest.raises(InputError, match="spacing"):
        S.hd95(a, a, (1.0, -1.0, 1.0))
    with pytest.raises(InputError, match="tolerance"):
        S.surface_dice(a, a, tolerance_um=-1.0)
    with pytest.raises(InputError, match="percentile"):
        S.hd95(a, a, percentile=0)
    with pytest.raises(InputError, match="3D"):
        S.hd95(a[0], a[0])


# ------------------------------------------------------------------------------ CLI
def _write_masks(path, sdfs, spacing=(1.0, 1.0, 1.0)):
    return write_tiff(path, np.stack([s <= 0 for s in sdfs]).astype(np.uint8),
                      spacing=spacing)


def test_cli_compare_concentric(tmp_path, capsys):
    """The issue's must-show: radii 7 and 9 um at spacing 0.5 um -> hd95 and assd 2 um
    within half a voxel (0.25 um); each frame against itself: dsc 1, hd95 0."""
    sp = (0.5, 0.5, 0.5)
    small, big = sphere_sdf((44,) * 3, 7.0, sp), sphere_sdf((44,) * 3, 9.0, sp)
    truth = _write_masks(tmp_path / "truth.tif", [small, small], sp)
    other = _write_masks(tmp_path / "other.tif", [big, small], sp)
    out = tmp_path / "cmp.json"
    assert main(["compare", str(truth), str(other), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for col in ("dsc", "hd95_um", "assd_um", "surface_dice", "protrusion_recall"):
        assert col in printed
    rep = json.loads(out.read_text())
    f0, f1 = rep["frames"]
    assert f0["hd95_um"] == pytest.approx(2.0, abs=0.25)
    assert f0["assd_um"] == pytest.approx(2.0, abs=0.25)
    assert f0["dsc"] == pytest.approx(2 * 7**3 / (7**3 + 9**3), abs=0.02)
    assert (f1["dsc"], f1["hd95_um"], f1["assd_um"], f1["surface_dice"]) == (1.0, 0, 0, 1.0)
    assert f1["protrusion_recall"] is None  # a sphere has no protrusion: NaN -> null
    assert rep["spacing_um"] == [0.5, 0.5, 0.5]
    assert rep["tolerance_um"] == pytest.approx(np.sqrt(3) * 0.5)
    # one frame only, prepared SDFs accepted on either side
    assert main(["compare", str(truth), str(other), "--frame", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2  # header + frame 1


def test_cli_compare_spacing_override(tmp_path, capsys):
    a, b = sphere_sdf((30,) * 3, 6.0), sphere_sdf((30,) * 3, 8.0)
    t, o = _write_masks(tmp_path / "t.tif", [a]), _write_masks(tmp_path / "o.tif", [b])
    out = tmp_path / "r.json"
    assert main(["compare", str(t), str(o), "--spacing", "2", "2", "2", "--json",
                 str(out)]) == 0
    assert json.loads(out.read_text())["frames"][0]["hd95_um"] == pytest.approx(4.0, abs=1.0)


def _one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("cellshapes: error:")
    return err


def test_cli_compare_bad_inputs(tmp_path, capsys):
    a = sphere_sdf((20,) * 3, 5.0)
    good = _write_masks(tmp_path / "good.tif", [a, a])
    cases = {
        "missing": ([str(tmp_path / "nope.tif"), str(good)], "nope.tif"),
        "shape": ([str(good), str(_write_masks(tmp_path / "small.tif",
                                               [a[:-2], a[:-2]]))], "shape"),
        "frames": ([str(good), str(_write_masks(tmp_path / "one.tif", [a]))], "shape"),
        "empty": ([str(good), str(write_tiff(tmp_path / "empty.tif",
                                             np.stack([a <= 0, np.zeros(a.shape, bool)])
                                             .astype(np.uint8)))], "frame 1"),
        "spacing": ([str(good), str(good), "--spacing", "1", "0", "1"], "spacing"),
        "frame": ([str(good), str(good), "--frame", "5"], "out of range"),
        "spacings differ": ([str(good), str(_write_masks(tmp_path / "sp.tif", [a, a],
                                                         (2.0, 1.0, 1.0)))], "spacing"),
    }
    for name, (args, needle) in cases.items():
        assert main(["compare", *args]) == 2, name
        err = _one_error_line(capsys.readouterr().err)
        assert needle in err, (name, err)
    existing = tmp_path / "exists.json"
    existing.write_text("{}")
    assert main(["compare", str(good), str(good), "--json", str(existing)]) == 2
    assert "exists" in _one_error_line(capsys.readouterr().err)
    assert existing.read_text() == "{}"
    assert main(["compare", str(good), str(good), "--json", str(existing), "--frame", "0",
                 "--overwrite"]) == 0
    assert json.loads(existing.read_text())["frames"][0]["dsc"] == 1.0


def test_cli_compare_prepared_datasets(tmp_path, capsys):
    """Prepared SDF datasets are paired by sequence name; other sets of names fail."""
    from .conftest import write_ellipsoid_dataset

    ds = write_ellipsoid_dataset(tmp_path / "ds.h5", n=2, frames=2, size=24)
    other = write_ellipsoid_dataset(tmp_path / "one.h5", n=1, frames=2, size=24)
    out = tmp_path / "r.json"
    assert main(["compare", str(ds), str(ds), "--json", str(out)]) == 0
    frames = json.loads(out.read_text())["frames"]
    assert [(f["sequence"], f["frame"]) for f in frames] == [
        ("seq_0000", 0), ("seq_0000", 1), ("seq_0001", 0), ("seq_0001", 1)]
    assert all(f["dsc"] == 1.0 and f["hd95_um"] == 0.0 for f in frames)
    assert main(["compare", str(ds), str(other)]) == 2
    assert "different sequences" in _one_error_line(capsys.readouterr().err)
