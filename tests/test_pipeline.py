"""``cellshapes model``: label video -> checked labels, dataset, run, report, new cells, CTC."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tifffile
import torch

from cellshapes.cli import main
from cellshapes.errors import InputError, OutputExistsError
from cellshapes.io import write_tiff
from cellshapes.pipeline import THRESHOLDS, build_model, verdict
from cellshapes.pipeline.labels import (check_label_video, merge_lineage, read_man_track,
                                        touching_pairs)


def _video(t=4, s=40):
    """(T, Z, Y, X) uint16: three separate ellipsoidal cells moving along x."""
    lab = np.zeros((t, s, s, s), np.uint16)
    zz, yy, xx = np.mgrid[:s, :s, :s]
    for k in range(t):
        for i, (c, r) in enumerate([((12, 12, 10), 5), ((26, 14, 26), 6),
                                    ((14, 28, 20), 5.5)], 1):
            inside = (((zz - c[0]) / (1 + 0.1 * k)) ** 2 + (yy - c[1]) ** 2
                      + (xx - c[2] - 2 * k) ** 2) <= r * r
            lab[k][inside] = i
    return lab


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One smoke-profile model of a three-cell video, with 2 new sequences and CTC."""
    tmp = tmp_path_factory.mktemp("model")
    video = tmp / "video.tif"
    write_tiff(video, _video(), (1.0, 1.0, 1.0))
    out = tmp / "m"
    rc = main(["model", str(video), "--out", str(out), "--profile", "smoke",
               "--synthesize", "2", "--ctc", "-q"])
    return video, out, rc


def test_model_command_writes_every_stage(built):
    video, out, rc = built
    assert rc == 0
    page = (out / "report.html").read_text()
    assert page.count("<img") >= 1 and "Verdict" in page
    assert "Synthesized sequences" in page
    assert ("Made although the verdict above is negative" in page) == ("NOT good" in page)
    config = json.loads((out / "run" / "config.json").read_text())
    assert len(config["data"]["names"]) == 3  # one sequence per label
    scores = pd.read_csv(out / "scores.csv")
    assert set(scores.columns) >= {"dsc", "island_fraction", "assd_um"}
    assert len(scores) == 3 * 4  # every cell and frame
    assert sorted(p.name for p in (out / "synthetic" / "masks").glob("*.tif")) == [
        "gen_0000.tif", "gen_0001.tif"]


def test_model_ctc_masks_agree_with_man_track(built):
    _, out, _ = built
    for seq in ("01", "02"):
        tra = out / "ctc" / f"{seq}_GT" / "TRA"
        tracks = [list(map(int, line.split())) for line in
                  (tra / "man_track.txt").read_text().splitlines() if line.strip()]
        frames = sorted(tra.glob("man_track*.tif"))
        for lab, begin, end, _parent in tracks:
            present = [k for k, f in enumerate(frames) if (tifffile.imread(f) == lab).any()]
            assert present == list(range(begin, end + 1)), (seq, lab)
        ids = set(np.unique(np.stack([tifffile.imread(f) for f in frames]))) - {0}
        assert ids == {t[0] for t in tracks}


def test_model_second_call_trains_nothing(built, monkeypatch, capsys):
    video, out, _ = built
    log = (out / "run" / "log.csv").read_text()

    def no_training(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr("cellshapes.training.loop.train", no_training)
    assert main(["model", str(video), "--out", str(out), "--profile", "smoke",
                 "--synthesize", "2", "--ctc", "-q"]) == 0
    assert (out / "run" / "log.csv").read_text() == log
    assert "report:" in capsys.readouterr().out


def test_model_other_options_need_overwrite(built):
    video, out, _ = built
    with pytest.raises(OutputExistsError, match="other options"):
        build_model([video], out, profile="smoke", synthesize=3, progress=False)


def test_model_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    write_tiff(tmp_path / "v.tif", _video(2, 32), (1.0, 1.0, 1.0))
    with pytest.raises(OutputExistsError, match="not a 'cellshapes model' folder"):
        build_model([tmp_path / "v.tif"], tmp_path / "mine", progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def _exit_2_one_line(args, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    return err


def test_model_bad_labels_exit_2_one_line_nothing_written(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "flat.tif", np.ones((20, 20), np.uint16))
    thin = np.zeros((3, 5, 40, 40), np.uint16)  # every cell touches a z border
    thin[:, 0:3, 5:12, 5:12], thin[:, 2:5, 20:30, 20:30] = 1, 2
    write_tiff(tmp_path / "thin.tif", thin, (1, 0.2, 0.2))
    empty = np.zeros((3, 20, 20, 20), np.uint16)
    empty[[0, 2], 5:10, 5:10, 5:10] = 1
    write_tiff(tmp_path / "empty.tif", empty, (1, 1, 1))
    aniso = np.zeros((3, 8, 64, 64), np.uint16)
    aniso[:, 2:5, 20:30, 20:30] = 1
    tifffile.imwrite(tmp_path / "aniso.tif", aniso)  # no voxel size in the file
    for name, needle in (("flat", "3D"), ("thin", "touches the first or last z slice in "
                                                   "some frame (a stack of 5 slices), so none "
                                                   "would be kept; pass --keep-border"),
                         ("empty", "frame 1 has no labelled voxel"),
                         ("aniso", "--spacing Z Y X")):
        err = _exit_2_one_line(["model", str(tmp_path / f"{name}.tif"), "--out",
                                str(tmp_path / f"out_{name}"), "-q"], capsys)
        assert needle in err, err
        assert not (tmp_path / f"out_{name}").exists()
    # the anisotropic stack is accepted once the voxel size is given
    check_label_video(aniso, "aniso", spacing_known=True)
    # and the thin stack with --keep-border: both cells become sequences, cropped
    assert check_label_video(thin, "thin", True, keep_border=True) == []
    from cellshapes.prepare import prepare_dataset

    summary = prepare_dataset([tmp_path / "thin.tif"], tmp_path / "thin.h5", size=16,
                              per_label=True, keep_border=True, progress=False)
    assert summary["n_sequences"] == 2


def test_touching_pairs_counts_shared_faces():
    frame = np.zeros((4, 4, 4), int)
    frame[1, 1, 1], frame[1, 1, 2], frame[2, 2, 2] = 1, 2, 3  # 3 only touches 2 by an edge
    assert touching_pairs(frame) == {(1, 2): 1}


def test_merge_lineage_joins_daughters_to_their_root(tmp_path):
    (tmp_path / "man_track.txt").write_text("1 0 1 0\n2 2 3 1\n3 2 3 1\n4 0 3 0\n5 3 3 2\n")
    parents = read_man_track(tmp_path / "man_track.txt")
    labels = np.array([[[[1, 0, 4, 0, 0]]], [[[1, 0, 4, 0, 0]]], [[[2, 3, 4, 0, 0]]],
                       [[[2, 3, 4, 5, 0]]]], np.uint16)
    merged = merge_lineage(labels, parents)
    assert merged.dtype == labels.dtype
    assert set(np.unique(merged)) == {0, 1, 4}
    assert (merged[3] == [1, 1, 4, 1, 0]).all()
    (tmp_path / "bad.txt").write_text("1 0 x 0\n")
    with pytest.raises(InputError, match="line 1"):
        read_man_track(tmp_path / "bad.txt")


def test_verdict_names_every_failed_threshold():
    good = pd.DataFrame({"sequence": ["a", "a", "b"], "dsc": [0.95, 0.93, 0.92],
                         "island_fraction": [0.0, 0.0, 0.002]})
    v = verdict(good)
    assert v["good"] and v["line"].startswith("good enough")
    bad = good.assign(dsc=[0.95, 0.93, 0.60], island_fraction=[0.0, 0.2, 0.0])
    v = verdict(bad)
    assert not v["good"]
    assert f"< {THRESHOLDS['dsc_mean']}" in v["line"] and "cell b" in v["line"]
    assert "island fraction" in v["line"]


def test_warm_start_copies_the_decoder_and_records_it(tmp_path):
    from cellshapes import pretrained
    from cellshapes.config import model_config
    from cellshapes.model import AutoDecoder
    from cellshapes.training.checkpoint import load_checkpoint
    from cellshapes.training.warmstart import load_decoder, source_model_config

    source = "pretrained:growing_study"
    mcfg = source_model_config(source)
    model = AutoDecoder(mcfg, 5)
    load_decoder(model, source)
    shipped = load_checkpoint(pretrained.load("growing_study"))["model"]
    for k, v in model.decoder.state_dict().items():
        assert torch.equal(v, shipped[f"decoder.{k}"])
    assert model.codes.shape == (5, mcfg.latent_dim)  # new codes, one per new sequence
    with pytest.raises(InputError, match="hidden"):
        load_decoder(AutoDecoder(model_config("smoke"), 2), source)


def test_model_from_pretrained_starts_from_that_decoder(tmp_path):
    write_tiff(tmp_path / "v.tif", _video(3, 32), (1.0, 1.0, 1.0))
    result = build_model([tmp_path / "v.tif"], tmp_path / "m", profile="smoke",
                         from_pretrained="growing_study", progress=False)
    config = json.loads((tmp_path / "m" / "run" / "config.json").read_text())
    assert config["train"]["init_decoder"] == "pretrained:growing_study"
    shipped = json.loads((pretrained_run() / "config.json").read_text())["model"]
    assert config["model"]["hidden"] == shipped["hidden"]
    assert "pretrained decoder growing_study" in (tmp_path / "m" / "report.html").read_text()
    assert result["verdict"]["dsc_mean"] > 0


def pretrained_run():
    from cellshapes import pretrained

    return pretrained.load("growing_study")


def test_model_scene_writes_multi_cell_scenes_and_a_valid_ctc_set(built, tmp_path, capsys):
    """--synthesize 1 --scene 2: the trained run is reused (request.json edited to the new
    options), one scene in the input's field of view, its CTC sequence valid."""
    import shutil

    video, out, _ = built
    copy = tmp_path / "m"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("synthetic*", "ctc"))
    req = json.loads((copy / "request.json").read_text())
    req.update(synthesize=1, ctc=True, scene=2)
    (copy / "request.json").write_text(json.dumps(req))
    assert main(["model", str(video), "--out", str(copy), "--profile", "smoke",
                 "--synthesize", "1", "--ctc", "--scene", "2", "-q"]) == 0
    labels = tifffile.imread(copy / "scenes" / "scene_00" / "labels.tif")
    assert labels.shape == (4, 40, 40, 40)
    assert len(np.unique(labels[0])) - 1 >= 2
    rows = json.loads((copy / "scenes.json").read_text())
    assert rows[0]["labels in frame 0"] >= 2
    seg = tifffile.imread(copy / "ctc" / "01_GT" / "SEG" / "man_seg000.tif")
    np.testing.assert_array_equal(seg, labels[0])
    assert "scene_00" in (copy / "report.html").read_text()
    with pytest.raises(InputError, match="--synthesize"):
        build_model([video], tmp_path / "x", scene=2, progress=False)
