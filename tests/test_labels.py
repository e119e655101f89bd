"""Label images are read as labels: one definition of a cell everywhere, spacing from the
file (ImageJ and OME-TIFF), per-label comparison and preparation."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from cellshapes.cli import main
from cellshapes.io import write_tiff
from cellshapes.measure.cells import cells
from cellshapes.measure.metrics import describe_path, describe_sequence


def _balls(shape=(32, 32, 48)):
    """uint16 labels 3 and 7 touching (two balls sharing a face), 9 apart."""
    z, y, x = np.mgrid[:shape[0], :shape[1], :shape[2]]
    lab = np.zeros(shape, np.uint16)
    lab[(z - 16) ** 2 + (y - 16) ** 2 + (x - 12) ** 2 <= 64] = 3
    lab[(z - 16) ** 2 + (y - 16) ** 2 + (x - 27) ** 2 <= 49] = 7
    lab[(z - 8) ** 2 + (y - 8) ** 2 + (x - 42) ** 2 <= 9] = 9
    return lab


def test_touching_labels_stay_apart():
    lab = _balls()
    assert np.count_nonzero(np.diff((lab > 0).astype(int), axis=2)) > 0
    _, ids, source = cells(lab, False)
    assert source == "label" and ids.tolist() == [3, 7, 9]
    _, ids, source = cells((lab > 0).astype(np.uint8) * 255, False)  # a binary mask
    assert source == "component" and ids.tolist() == [1, 2]       # 3 and 7 touch


def test_describe_per_cell_of_a_label_image_and_of_a_binary_mask(tmp_path, capsys):
    lab = _balls()
    write_tiff(tmp_path / "labels.tif", lab)
    assert main(["describe", str(tmp_path / "labels.tif"), "--per-cell",
                 "--csv", str(tmp_path / "l.csv")]) == 0
    table = describe_path(tmp_path / "labels.tif", per_cell=True)
    assert table["cell"].tolist() == [3, 7, 9] and set(table["cell_from"]) == {"label"}
    for k, row in zip((3, 7, 9), table.itertuples()):
        assert row.volume_um3 == np.count_nonzero(lab == k)  # each label measured alone
    assert ((table["sphericity"] > 0.95) & (table["sphericity"] <= 1.0)).all()  # three round balls
    binary = (lab > 0).astype(np.uint8)
    rows = describe_sequence(binary[None], per_cell=True)
    assert rows["cell"].tolist() == [1, 2] and set(rows["cell_from"]) == {"component"}
    merged = rows.iloc[0]  # labels 3 and 7 as one component: what a label image must not give
    assert merged["volume_um3"] == np.count_nonzero((lab == 3) | (lab == 7))
    assert merged["sphericity"] < table["sphericity"].min() - 0.1


def test_label_video_gives_one_row_per_label_and_frame():
    lab = _balls()
    video = np.stack([lab, np.where(lab == 9, 0, lab)])
    rows = describe_sequence(video, per_cell=True)
    assert rows[["frame", "cell"]].values.tolist() == [[0, 3], [0, 7], [0, 9], [1, 3], [1, 7]]


def _ball_mask():
    z, y, x = np.mgrid[:20, :40, :40]
    return ((((z - 10) * 2.0) ** 2 + ((y - 20) * 0.5) ** 2 + ((x - 20) * 0.5) ** 2)
            <= 8 ** 2).astype(np.uint8)


def test_describe_reads_imagej_spacing(tmp_path):
    ball = _ball_mask()
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, ball, imagej=True, resolution=(2.0, 2.0),  # 0.5 um pixels
                     metadata={"spacing": 2.0, "unit": "um", "axes": "ZYX"})
    table = describe_path(path)
    assert table["volume_um3"][0] == pytest.approx(ball.sum() * 2.0 * 0.5 * 0.5)
    assert table["volume_um3"][0] == pytest.approx(4 / 3 * np.pi * 8 ** 3, rel=0.05)


def test_describe_reads_ome_physical_sizes(tmp_path):
    ball = _ball_mask()
    path = tmp_path / "ome.ome.tif"
    tifffile.imwrite(path, ball, ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeZ": 2.0, "PhysicalSizeY": 500.0, "PhysicalSizeYUnit": "nm",
        "PhysicalSizeX": 0.5})
    table = describe_path(path)
    assert table["volume_um3"][0] == pytest.approx(ball.sum() * 2.0 * 0.5 * 0.5)


def test_explicit_spacing_wins_and_the_conflict_is_reported(tmp_path):
    path = tmp_path / "ij.tif"
    write_tiff(path, _ball_mask(), spacing=(2.0, 0.5, 0.5))
    with pytest.warns(UserWarning, match=r"differs from the file's \[2.0, 0.5, 0.5\] um"):
        table = describe_path(path, spacing=(1, 1, 1))
    assert table["volume_um3"][0] == _ball_mask().sum()
    proc = subprocess.run([sys.executable, "-m", "cellshapes.cli", "describe", str(path),
                           "--spacing", "1", "1", "1"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stderr.startswith("cellshapes: warning:") and "using the given one" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_compare_label_images_per_label(tmp_path, capsys):
    truth = _balls()
    z, y, x = np.mgrid[:32, :32, :48]
    other = np.where(truth == 7, 0, truth).astype(np.uint16)
    other[((z - 16) ** 2 + (y - 16) ** 2 + (x - 28) ** 2 <= 49) & (other == 0)] = 7
    other[truth == 9] = 0  # label 9 missing in the other image
    write_tiff(tmp_path / "t.tif", truth)
    write_tiff(tmp_path / "o.tif", other)
    assert main(["compare", str(tmp_path / "t.tif"), str(tmp_path / "o.tif"),
                 "--json", str(tmp_path / "c.json")]) == 0
    rows = {r["cell"]: r for r in json.loads((tmp_path / "c.json").read_text())["frames"]}
    assert sorted(rows) == [3, 7, 9]
    assert rows[3]["dsc"] == 1.0 and rows[3]["hd95_um"] == 0.0
    inter = np.count_nonzero((truth == 7) & (other == 7))
    assert rows[7]["dsc"] == pytest.approx(2 * inter / (np.count_nonzero(truth == 7)
                                                        + np.count_nonzero(other == 7)))
    assert rows[9]["dsc"] == 0.0 and rows[9]["hd95_um"] is None


def test_prepare_per_label_summary_line_and_keep_border(tmp_path, capsys):
    lab = _balls()
    lab[0:3, 0:3, 0:3] = 12  # touches the border
    video = np.stack([lab] * 3)
    write_tiff(tmp_path / "video.tif", video)
    args = ["prepare", str(tmp_path / "video.tif"), "--per-label", "--size", "16", "-q"]
    assert main([*args, "--out", str(tmp_path / "a.h5")]) == 0
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if "skipped" in ln]
    assert lines == ["cellshapes: skipped 1 label(s): 1 touch the volume border "
                     "(--keep-border keeps them, cropped) (the summary's 'skipped' lists each)"]
    assert json.loads(out)["n_sequences"] == 3
    assert main([*args, "--keep-border", "--out", str(tmp_path / "b.h5")]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["n_sequences"] == 4 and "kept cropped" in err


def test_prepare_a_3d_label_image_as_a_one_frame_video(tmp_path, capsys):
    write_tiff(tmp_path / "labels.tif", _balls())
    assert main(["prepare", str(tmp_path / "labels.tif"), "--per-label", "--size", "16",
                 "-q", "--out", str(tmp_path / "d.h5")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_sequences"] == 3


def test_evaluate_of_a_label_video_reports_each_label(tmp_path, capsys):
    from cellshapes.config import model_config, train_config
    from cellshapes.inference.evaluate import evaluate_run
    from cellshapes.training.loop import train

    write_tiff(tmp_path / "video.tif", np.stack([_balls()] * 2), spacing=(1.0, 1.0, 1.0))
    assert main(["prepare", str(tmp_path / "video.tif"), "--per-label", "--size", "16",
                 "-q", "--out", str(tmp_path / "d.h5")]) == 0
    train(tmp_path / "d.h5", tmp_path / "run", model_config("smoke"),
          train_config("smoke", epochs=40), device="cpu",
          progress=False)
    report = evaluate_run(tmp_path / "run", tmp_path / "d.h5", device="cpu", progress=False)
    assert sorted(report["sources"].values()) == [
        f"{tmp_path / 'video.tif'}#label={k}" for k in (3, 7, 9)]
    assert set(report["per_sequence"]) == set(report["sources"])
