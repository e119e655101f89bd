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


def test_reference_round_trip(tmp_path):
    # Off-centre ellipsoid elongated along x, shifted along +z: orientation is checkable.
    S, T = 24, 2
    u = np.linspace(-1, 1, S)
    z, y, x = np.meshgrid(u, u, u, indexing="ij")
    f = np.sqrt(((z - 0.3) / 0.2) ** 2 + (y / 0.3) ** 2 + (x / 0.6) ** 2) - 1
    arr = np.stack([np.minimum(f, 0.5) * (1 + 0.1 * k) for k in range(T)]).astype(np.float32)
    arr /= np.abs(arr).reshape(T, -1).max(axis=1)[:, None, None, None]
    with h5py.File(tmp_path / "cell01.h5", "w") as h:
        h["sdf_vid"] = arr.transpose(3, 2, 1, 0)
    s = prepare_dataset([tmp_path / "cell01.h5"], tmp_path / "ds.h5", size=S,
                        spacing=(0.125,) * 3, progress=False)
    seq = read_dataset(tmp_path / "ds.h5")[0]
    assert np.array_equal(seq.sdf, arr)
    inside = np.argwhere(seq.sdf[0] < 0)
    assert inside[:, 0].mean() > S / 2                     # shifted towards +z
    assert np.ptp(inside[:, 2]) > 2 * np.ptp(inside[:, 0])  # long along x
    assert seq.attrs["sdf_unit_um"] == pytest.approx(32 * 0.125)
    assert "reference" in seq.attrs["source_format"] and s["size"] == S
    paths = export_reference(tmp_path / "ds.h5", tmp_path / "ref")
    assert [p.name for p in paths] == ["seq_0000.h5"]
    assert np.array_equal(read_reference_sdf(paths[0]), arr)
    # Resampled import keeps orientation too.
    prepare_dataset([tmp_path / "cell01.h5"], tmp_path / "ds16.h5", size=16, progress=False)
    small = read_dataset(tmp_path / "ds16.h5")[0].sdf[0]
    assert np.argwhere(small < 0)[:, 0].mean() > 8


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
