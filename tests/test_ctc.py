"""CTC export of a dividing phantom: labels, lineage and file names agree."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from cellshapes.errors import InputError, OutputExistsError
from cellshapes.phantoms import make_sequence, write_phantoms
from cellshapes.synthesis.ctc import export_ctc, frame_names, project_labels, track_components

FRAMES = 6


@pytest.fixture(scope="module")
def dividing(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctc")
    write_phantoms("dividing", root / "ph", sequences=1, frames=FRAMES, size=24, seed=2,
                   progress=False)
    meta = json.loads((root / "ph" / "phantoms.json").read_text())["sequences"][0]
    out = root / "ctc"
    summary = export_ctc(root / "ph", out, dims=3, progress=False)
    return out, meta["lineage"], summary


def _lineage(path):
    rows = [tuple(int(v) for v in ln.split()) for ln in path.read_text().splitlines()]
    return {r[0]: r[1:] for r in rows}


def test_tracks_match_the_phantom_lineage(dividing):
    out, lineage, _ = dividing
    div = lineage["division_frame"]
    table = _lineage(out / "01_GT" / "TRA" / "man_track.txt")
    assert table == {1: (0, div - 1, 0), 2: (div, FRAMES - 1, 1), 3: (div, FRAMES - 1, 1)}
    assert (out / "01_GT" / "TRA" / "res_track.txt").read_text() == \
        (out / "01_GT" / "TRA" / "man_track.txt").read_text()
    for t in range(FRAMES):
        seg = tifffile.imread(out / "01_GT" / "SEG" / f"man_seg{t:03d}.tif")
        tra = tifffile.imread(out / "01_GT" / "TRA" / f"man_track{t:03d}.tif")
        np.testing.assert_array_equal(seg, tra)
        expected = {1} if t < div else {2, 3}
        assert set(np.unique(tra)) - {0} == expected
        assert tifffile.imread(out / "01" / f"t{t:03d}.tif").shape == seg.shape


def test_daughter_labels_follow_the_phantom_tracks(dividing):
    out, lineage, _ = dividing
    spacing = 40.0 / 24
    for rec in lineage["tracks"]:  # same cell, same label, every frame (volumes agree)
        tra = tifffile.imread(out / "01_GT" / "TRA" / f"man_track{rec['frame']:03d}.tif")
        vol = (tra == rec["label"]).sum() * spacing ** 3
        assert vol == pytest.approx(rec["volume_um3"], rel=1e-6)


def test_tracker_on_arrays_and_2d_projection():
    masks, meta = make_sequence("dividing", 4, 20, 7)
    labels, tracks = track_components(masks)
    assert [t["parent"] for t in tracks] == [0, 1, 1]
    np.testing.assert_array_equal(labels > 0, masks > 0)
    flat = project_labels(labels)
    assert flat.shape == (4, 20, 20)
    np.testing.assert_array_equal(flat > 0, masks.max(axis=1) > 0)


def test_frame_names_width():
    assert frame_names(3) == ["000", "001", "002"]
    assert frame_names(999)[-1] == "998"
    assert frame_names(1000)[-1] == "0999" and frame_names(1000)[0] == "0000"


def test_2d_export_and_bad_inputs(dividing, tmp_path):
    out, _, summary = dividing
    src = summary["sequences"][0]["source"]
    flat = export_ctc(src, tmp_path / "flat", dims=2, progress=False)
    assert tifffile.imread(tmp_path / "flat" / "01" / "t000.tif").ndim == 2
    assert flat["sequences"][0]["tracks"] == summary["sequences"][0]["tracks"]
    with pytest.raises(OutputExistsError):
        export_ctc(src, out, progress=False)
    with pytest.raises(InputError):
        export_ctc(src, tmp_path / "x", dims=4, progress=False)
    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros((2, 8, 8, 8), np.uint8))
    with pytest.raises(InputError):
        export_ctc(empty, tmp_path / "y", progress=False)
    assert not (tmp_path / "y").exists()


def test_export_passes_the_cell_tracking_challenge_measures(dividing, tmp_path):
    """py-ctcmetrics (the CTC's measures in Python) accepts the export: a result folder
    made of its tracking labels is valid, and scores 1 against its own ground truth."""
    ctc_metrics = pytest.importorskip("ctc_metrics")
    from ctc_metrics.scripts.evaluate import evaluate_sequence
    from ctc_metrics.scripts.validate import validate_sequence

    out, _, _ = dividing
    res = tmp_path / "01_RES"
    res.mkdir()
    for t in range(FRAMES):
        tra = tifffile.imread(out / "01_GT" / "TRA" / f"man_track{t:03d}.tif")
        tifffile.imwrite(res / f"mask{t:03d}.tif", tra)
    (res / "res_track.txt").write_text((out / "01_GT" / "TRA" / "res_track.txt").read_text())
    assert validate_sequence(str(res), threads=1)["Valid"] == 1, ctc_metrics.__file__
    scores = evaluate_sequence(str(res), str(out / "01_GT"), metrics=["SEG", "TRA", "DET"],
                               threads=1)
    assert scores["SEG"] == pytest.approx(1.0)
    assert scores["TRA"] == pytest.approx(1.0) and scores["DET"] == pytest.approx(1.0)
