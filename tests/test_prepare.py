"""prepare_dataset / export_reference end to end, and the CLI's error handling."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from cellshapes.cli import main
from cellshapes.errors import InputError
from cellshapes.io import dataset_info, read_dataset, read_reference_sdf, write_tiff
from cellshapes.prepare import export_reference, prepare_dataset

ANISO = (2.0, 0.5, 0.5)
KEYS = {"spacing_um", "scale_um", "voxel_um", "sdf_unit_um", "cell_type", "source", "label",
        "params"}


def _sphere(shape, spacing, centre, r):
    z, y, x = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij")
    return (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= r * r


def test_sphere_volume_centre_attrs_and_shared_scale(tmp_path):
    r1, r2 = 12.0, 8.5
    a = _sphere((20, 72, 72), ANISO, (19.0, 18.0, 17.5), r1)
    b = _sphere((20, 72, 72), ANISO, (19.3, 15.0, 20.0), r2)
    write_tiff(tmp_path / "a.tif", np.stack([a, a]), spacing=ANISO)
    write_tiff(tmp_path / "b.tif", np.stack([b, b]), spacing=ANISO)
    out = tmp_path / "ds.h5"
    summary = prepare_dataset([tmp_path / "a.tif", tmp_path / "b.tif"], out, size=64,
                              cell_type="sphere", progress=False)
    json.dumps(summary)
    assert summary["n_sequences"] == 2 and summary["names"] == ["seq_0000", "seq_0001"]
    seqs = read_dataset(out)
    vols = []
    for s in seqs:
        assert KEYS <= set(s.attrs) and s.attrs["cell_type"] == "sphere"
        assert s.attrs["spacing_um"] == ANISO and s.attrs["label"] == -1
        assert s.attrs["scale_um"] == pytest.approx(summary["scale_um"])
        assert s.attrs["voxel_um"] == pytest.approx(2 * s.attrs["scale_um"] / 63)
        inside = s.sdf[0] <= 0
        vols.append(inside.sum() * s.attrs["voxel_um"] ** 3)
        assert np.allclose(np.argwhere(inside).mean(axis=0), 31.5, atol=0.3)
        assert s.sdf.max() == pytest.approx(1.0)
    assert vols[0] / (4 / 3 * np.pi * r1 ** 3) == pytest.approx(1, abs=0.02)
    assert vols[1] / (4 / 3 * np.pi * r2 ** 3) == pytest.approx(1, abs=0.02)
    assert (vols[0] / vols[1]) ** (1 / 3) == pytest.approx(r1 / r2, rel=0.02)


def test_labels_per_label_label_and_largest(tmp_path):
    lab = np.zeros((4, 24, 32, 32), np.uint16)
    for t in range(4):
        lab[t][_sphere((24, 32, 32), (1, 1, 1), (12, 9, 9), 5)] = 3
        lab[t][_sphere((24, 32, 32), (1, 1, 1), (12, 21, 21), 4)] = 5
        lab[t, 10:14, 0:4, 10:14] = 8                       # touches the border
    lab[0, 2:4, 28:30, 28:30] = 9                           # present in 1 of 4 frames
    np.save(tmp_path / "lab.npy", lab)
    s = prepare_dataset([tmp_path / "lab.npy"], tmp_path / "p.h5", size=24, per_label=True,
                        spacing=(1, 1, 1), progress=False)
    assert [x.split("#")[1] for x in s["sources"]] == ["label=3", "label=5"]
    reasons = {x["source"].split("#")[1]: x["reason"] for x in s["skipped"]}
    assert "border" in reasons["label=8"] and "half" in reasons["label=9"]
    s = prepare_dataset([tmp_path / "lab.npy"], tmp_path / "l.h5", size=24, label=5,
                        progress=False)
    assert dataset_info(tmp_path / "l.h5")[0]["attrs"]["label"] == 5
    s = prepare_dataset([tmp_path / "lab.npy"], tmp_path / "g.h5", size=24, progress=False)
    assert dataset_info(tmp_path / "g.h5")[0]["attrs"]["label"] == 3
    assert any("keeping label 3" in n for n in s["notes"])
    with pytest.raises(InputError, match="labels present: 3, 5, 8, 9"):
        prepare_dataset([tmp_path / "lab.npy"], tmp_path / "x.h5", label=4, progress=False)


def test_spacing_mismatch_and_empty_frame(tmp_path):
    m = _sphere((10, 16, 16), (1, 1, 1), (5, 8, 8), 3)
    write_tiff(tmp_path / "a.tif", m, spacing=(1, 1, 1))
    write_tiff(tmp_path / "b.tif", m, spacing=(2, 1, 1))
    with pytest.raises(InputError, match="different voxel spacings"):
        prepare_dataset([tmp_path / "a.tif", tmp_path / "b.tif"], tmp_path / "o.h5",
                        progress=False)
    s = prepare_dataset([tmp_path / "a.tif", tmp_path / "b.tif"], tmp_path / "o.h5",
                        spacing=(1, 1, 1), size=16, progress=False)
    assert s["n_sequences"] == 2
    np.save(tmp_path / "e.npy", np.stack([m, np.zeros_like(m)]))
    with pytest.raises(InputError, match=r"e\.npy: frame 1 is empty"):
        prepare_dataset([tmp_path / "e.npy"], tmp_path / "e.h5", progress=False)


def _centred_distance(n: int) -> tuple[np.ndarray, ...]:
    c = (n - 1) / 2
    return np.meshgrid(*(np.arange(n, dtype=np.float32) - c,) * 3, indexing="ij")


def _write_matlab_order(path, frames) -> None:
    """A reference file as MATLAB writes it: [T Z Y X] column-major = axes reversed."""
    with h5py.File(path, "w") as h:
        h["sdf_vid"] = np.stack(frames).astype(np.float32).transpose(3, 2, 1, 0)


def _stored(d_vox: np.ndarray, clamp: float) -> np.ndarray:
    a = np.minimum(d_vox, clamp)
    return a / np.abs(a).max()


def test_reference_large_sphere_imports_in_true_um(tmp_path):
    """The paper's format at full size: 256^3, clamp 32 voxels, a sphere of radius 60
    voxels (deeper than the clamp, so the file divides it by 60 - 0.9, not by 32)."""
    n, r, h = 256, 60.0, 0.5
    z, y, x = _centred_distance(n)
    d = np.sqrt(z * z + y * y + x * x) - r
    del z, y, x
    frame = _stored(d, 32.0)
    assert frame.max() == pytest.approx(32 / -d.min(), rel=1e-5) and frame.max() < 0.55
    _write_matlab_order(tmp_path / "big.h5", [frame])
    del frame
    s = prepare_dataset([tmp_path / "big.h5"], tmp_path / "ds.h5", size=64, spacing=(h,) * 3,
                        progress=False)
    seq = read_dataset(tmp_path / "ds.h5")[0]
    assert seq.attrs["sdf_unit_um"] == pytest.approx(32 * h)
    assert any("1 of 1 frame(s)" in note for note in s["notes"])
    # the true distance at the points of the 64^3 grid (corner-aligned over the 256 grid)
    u = np.arange(64) * 255 / 63 - 127.5
    zz, yy, xx = np.meshgrid(u, u, u, indexing="ij")
    true_um = (np.sqrt(zz ** 2 + yy ** 2 + xx ** 2) - r) * h
    um = seq.sdf[0] * seq.attrs["sdf_unit_um"]
    near = np.abs(true_um) < 16 * h                    # half the clamp either side
    assert near.sum() > 1000
    assert np.abs(um[near] - true_um[near]).max() < h  # within one voxel of 256^3
    assert um.min() == pytest.approx(true_um.min(), abs=h)   # the depth, beyond the clamp
    assert um.max() == pytest.approx(32 * h)


def test_reference_frames_of_different_depth_share_one_unit(tmp_path):
    n, h = 64, 0.25
    clamp = 32 * 63 / 255                              # the clamp of a 64^3 reference grid
    z, y, x = _centred_distance(n)
    rho = np.sqrt(z * z + y * y + x * x)
    frames = [_stored(rho - r, clamp) for r in (6.0, 14.0, 22.0)]   # 6 < clamp < 14, 22
    _write_matlab_order(tmp_path / "grow.h5", frames)
    prepare_dataset([tmp_path / "grow.h5"], tmp_path / "ds.h5", size=n, spacing=(h,) * 3,
                    progress=False)
    seq = read_dataset(tmp_path / "ds.h5")[0]
    np.testing.assert_allclose(seq.attrs["reference_peak"],
                               [1.0, clamp / (14 - 0.866), clamp / (22 - 0.866)], rtol=1e-3)
    for k, r in enumerate((6.0, 14.0, 22.0)):
        um = seq.sdf[k] * seq.attrs["sdf_unit_um"]
        true_um = np.minimum(rho - r, clamp) * h
        np.testing.assert_allclose(um, true_um, atol=1e-3 * h)
    # exported back: the same file, byte for byte up to float rounding
    paths = export_reference(tmp_path / "ds.h5", tmp_path / "ref")
    np.testing.assert_allclose(read_reference_sdf(paths[0]), np.stack(frames), atol=1e-6)


def test_reference_cell_filling_its_box_takes_units_from_the_slope(tmp_path, capsys):
    z, y, x = _centred_distance(48)
    d = np.sqrt(z * z + y * y + x * x) - 38.0           # corners 3 voxels out, clamp 5.9
    _write_matlab_order(tmp_path / "full.h5", [_stored(d, 32 * 47 / 255)])
    s = prepare_dataset([tmp_path / "full.h5"], tmp_path / "ds.h5", size=48, progress=False)
    assert any("frame 0 does not reach" in n and "slope" in n for n in s["notes"])
    assert "cellshapes: warning:" in capsys.readouterr().err
    seq = read_dataset(tmp_path / "ds.h5")[0]
    vox = seq.sdf[0] * seq.attrs["sdf_unit_um"] / seq.attrs["voxel_um"]
    inside = d < 0
    assert np.abs(vox[inside] - d[inside]).max() < 0.5   # true voxels, not clamp-scaled


def _radius_in_voxels(path) -> float:
    from cellshapes.measure.metrics import describe_path

    table = describe_path(path)
    vox = read_dataset(path)[0].attrs["voxel_um"]
    return (3 * table["volume_um3"][0] / (4 * np.pi)) ** (1 / 3) / vox


def test_reference_40_cube_with_a_32_voxel_clamp(tmp_path, capsys):
    """A 40^3 reference file written with the 256^3 clamp of 32 voxels (not the
    32 x 39 / 255 = 4.9 voxels of the rule): the units come from the surface slope, and a
    sphere of radius 11 voxels comes back at 11 voxels (within half a voxel)."""
    z, y, x = _centred_distance(40)
    d = np.sqrt(z * z + y * y + x * x) - 11.0           # outside up to 22.8 voxels
    _write_matlab_order(tmp_path / "r40.h5", [_stored(d, 32.0)])
    assert main(["prepare", str(tmp_path / "r40.h5"), "--size", "40", "--spacing", "1", "1",
                 "1", "--out", str(tmp_path / "ds.h5"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "frame 0 does not reach the 4.89-voxel outside clamp" in err
    assert abs(_radius_in_voxels(tmp_path / "ds.h5") - 11.0) < 0.5


def test_reference_256_layout_keeps_the_clamp_rule(tmp_path, capsys):
    z, y, x = _centred_distance(64)                      # the rule's clamp at 64^3: 7.9
    d = np.sqrt(z * z + y * y + x * x) - 14.0
    _write_matlab_order(tmp_path / "r64.h5", [_stored(d, 32 * 63 / 255)])
    s = prepare_dataset([tmp_path / "r64.h5"], tmp_path / "ds.h5", size=64,
                        spacing=(1, 1, 1), progress=False)
    assert not any("does not reach" in n for n in s["notes"])
    assert abs(_radius_in_voxels(tmp_path / "ds.h5") - 14.0) < 0.5


def test_reference_round_trip_keeps_orientation(tmp_path):
    # Off-centre capsule along x, shifted along +z: orientation is checkable.
    n, h = 40, 0.125
    clamp = 32 * 39 / 255
    z, y, x = _centred_distance(n)
    seg = np.clip(x, -10, 10)
    d = np.sqrt((z - 6) ** 2 + y ** 2 + (x - seg) ** 2) - 4.0
    arr = np.stack([_stored(d, clamp), _stored(d - 1.0, clamp)]).astype(np.float32)
    _write_matlab_order(tmp_path / "cell01.h5", list(arr))
    s = prepare_dataset([tmp_path / "cell01.h5"], tmp_path / "ds.h5", size=n,
                        spacing=(h,) * 3, progress=False)
    seq = read_dataset(tmp_path / "ds.h5")[0]
    np.testing.assert_allclose(seq.sdf * clamp, np.minimum(np.stack([d, d - 1]), clamp),
                               atol=1e-4)
    inside = np.argwhere(seq.sdf[0] < 0)
    assert inside[:, 0].mean() > n / 2                     # shifted towards +z
    assert np.ptp(inside[:, 2]) > 2 * np.ptp(inside[:, 0])  # long along x
    assert seq.attrs["sdf_unit_um"] == pytest.approx(clamp * h)
    assert "reference" in seq.attrs["source_format"] and s["size"] == n
    paths = export_reference(tmp_path / "ds.h5", tmp_path / "ref")
    assert [p.name for p in paths] == ["seq_0000.h5"]
    np.testing.assert_allclose(read_reference_sdf(paths[0]), arr, atol=1e-6)
    # Resampled import keeps orientation too.
    prepare_dataset([tmp_path / "cell01.h5"], tmp_path / "ds16.h5", size=16, progress=False)
    small = read_dataset(tmp_path / "ds16.h5")[0].sdf[0]
    assert np.argwhere(small < 0)[:, 0].mean() > 8


def test_export_writes_what_the_reference_code_reads(tmp_path):
    """A sphere prepared from masks, exported, read the way the reference code reads it
    (h5py, transpose(3, 2, 1, 0)): distance in voxels clamped at 32/255 of the cube edge,
    each frame divided by its max |sdf|; and imported back in the same um."""
    r = 9.0
    m = _sphere((40, 40, 40), (1, 1, 1), (19.5, 19.5, 19.5), r)
    write_tiff(tmp_path / "m.tif", np.stack([m, m]), spacing=(1, 1, 1))
    prepare_dataset([tmp_path / "m.tif"], tmp_path / "ds.h5", size=48, progress=False)
    orig = read_dataset(tmp_path / "ds.h5")[0]
    paths = export_reference(tmp_path / "ds.h5", tmp_path / "ref")
    with h5py.File(paths[0], "r") as f:
        assert list(f.keys()) == ["sdf_vid"] and f["sdf_vid"].shape == (48, 48, 48, 2)
        got = np.array(f["sdf_vid"]).transpose(3, 2, 1, 0)
    voxel = 2 * orig.attrs["scale_um"] / 47
    clamp = 32 * 47 / 255
    d_vox = orig.sdf * orig.attrs["sdf_unit_um"] / voxel
    want = np.minimum(d_vox, clamp)
    want /= np.abs(want).reshape(2, -1).max(axis=1)[:, None, None, None]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.abs(got).reshape(2, -1).max(axis=1) == pytest.approx([1, 1])
    assert got.max() < 0.5                            # deeper than the clamp: not 1
    # the reader's rule (the largest value is the clamp) gives the sphere's distance
    u = np.linspace(-orig.attrs["scale_um"], orig.attrs["scale_um"], 48)
    zz, yy, xx = np.meshgrid(u, u, u, indexing="ij")
    true_vox = (np.sqrt(zz ** 2 + yy ** 2 + xx ** 2) - r) / voxel
    read_vox = got[0] / got[0].max() * clamp
    near = np.abs(true_vox) < clamp
    assert np.abs(read_vox[near] - true_vox[near]).max() < 1.0   # within one voxel
    back = prepare_dataset(paths, tmp_path / "back.h5", size=48, spacing=(voxel,) * 3,
                           progress=False)
    imp = read_dataset(tmp_path / "back.h5")[0]
    assert back["scale_um"] == pytest.approx(orig.attrs["scale_um"])
    inner = orig.sdf < 0.99                           # not on the clamp plateau
    np.testing.assert_allclose(imp.sdf[inner] * imp.attrs["sdf_unit_um"],
                               orig.sdf[inner] * orig.attrs["sdf_unit_um"],
                               rtol=0.005, atol=1e-5)  # 255/256: the two clamps
    bigger = export_reference(tmp_path / "ds.h5", tmp_path / "ref64", size=64)
    assert read_reference_sdf(bigger[0]).shape == (2, 64, 64, 64)


def test_export_refuses_frames_short_of_the_clamp(tmp_path):
    from cellshapes.io import SDFSequence, write_dataset

    z, y, x = _centred_distance(24)
    d = (np.sqrt(z * z + y * y + x * x) - 18.0) / 24    # outside reaches < 1 unit
    attrs = dict(spacing_um=[1.0] * 3, scale_um=11.5, voxel_um=1.0, sdf_unit_um=24 * 32 / 255,
                 cell_type="x", source="t", label=-1, params="{}")
    write_dataset(tmp_path / "ds.h5", [SDFSequence("seq_0000", d[None], attrs)])
    with pytest.raises(InputError, match="seq_0000 frame 0: the outside reaches"):
        export_reference(tmp_path / "ds.h5", tmp_path / "ref")
    assert not (tmp_path / "ref").exists()


# ------------------------------------------------------------------------------- CLI
def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [ln for ln in err.split("\n") if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("cellshapes: error:"), err
    assert "Traceback" not in err
    return lines[0]


def test_cli_errors(tmp_path, capsys):
    out = str(tmp_path / "o.h5")
    assert main(["prepare", str(tmp_path / "missing.tif"), "--out", out]) == 2
    assert "does not exist" in _one_error_line(capsys)
    np.save(tmp_path / "flat.npy", np.ones((8, 8), np.uint8))
    assert main(["prepare", str(tmp_path / "flat.npy"), "--out", out, "-q"]) == 2
    assert "3D" in _one_error_line(capsys)
    np.save(tmp_path / "empty.npy", np.zeros((2, 8, 8, 8), np.uint8))
    assert main(["prepare", str(tmp_path / "empty.npy"), "--out", out, "-q"]) == 2
    assert "frame 0 is empty" in _one_error_line(capsys)
    np.save(tmp_path / "garbage.npy", np.random.default_rng(0).random((8, 8, 8)))
    assert main(["prepare", str(tmp_path / "garbage.npy"), "--out", out, "-q"]) == 2
    assert "non-binary" in _one_error_line(capsys)
    assert main(["export-reference", str(tmp_path / "garbage.npy"), "--out",
                 str(tmp_path / "r")]) == 2
    _one_error_line(capsys)


def test_cli_prepare_and_no_overwrite(tmp_path, capsys):
    m = _sphere((12, 16, 16), (1, 1, 1), (6, 8, 8), 4)
    write_tiff(tmp_path / "m.tif", np.stack([m, m]), spacing=(1, 1, 1))
    out = tmp_path / "o.h5"
    assert main(["prepare", str(tmp_path / "m.tif"), "--out", str(out), "--size", "16",
                 "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["n_sequences"] == 1
    before = out.read_bytes()
    assert main(["prepare", str(tmp_path / "m.tif"), "--out", str(out), "-q"]) == 2
    assert "already exists" in _one_error_line(capsys)
    assert out.read_bytes() == before
    assert main(["export-reference", str(out), "--out", str(tmp_path / "ref")]) == 0
    assert (tmp_path / "ref" / "seq_0000.h5").exists()
    assert main(["export-reference", str(out), "--out", str(tmp_path / "ref")]) == 2
    assert "already exists" in _one_error_line(capsys)
