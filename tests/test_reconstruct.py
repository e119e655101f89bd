"""Reconstruction: any grid size and frame count, sequence selection, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile

from cellshapes.cli import main
from cellshapes.io import read_dataset


def test_reconstruct_any_size_and_frames(trained_run, tmp_path):
    out = tmp_path / "rec"
    assert main(["reconstruct", str(trained_run), "--out", str(out), "--size", "40",
                 "--frames", "9", "--sequences", "0,2", "-q"]) == 0
    masks = tifffile.imread(out / "masks" / "seq_0000.tif")
    assert masks.shape == (9, 40, 40, 40) and masks.dtype == np.uint8
    assert 0 < masks.mean() < 0.8
    seqs = read_dataset(out / "sdf.h5")
    assert [s.name for s in seqs] == ["seq_0000", "seq_0002"]
    assert seqs[0].sdf.shape == (9, 40, 40, 40)
    assert seqs[0].attrs["voxel_um"] == pytest.approx(2 * 10.0 / 39)


def test_reconstruct_bad_input(trained_run, tmp_path, capsys):
    assert main(["reconstruct", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert main(["reconstruct", str(trained_run), "--out", str(tmp_path / "o"),
                 "--sequences", "0,99", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("cellshapes: error:") for e in err)
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def two_epoch_run(ellipsoid_dataset, tmp_path_factory):
    """A deliberately under-trained run: 2 smoke epochs, its SDF far from a distance."""
    from cellshapes.config import model_config, train_config
    from cellshapes.training.loop import train

    out = tmp_path_factory.mktemp("two_epochs") / "run"
    train(ellipsoid_dataset, out, model_config("smoke"), train_config("smoke", epochs=2, seed=0),
          device="cpu", progress=False, profile="smoke")
    return out


def test_dense_and_default_masks_are_equal_on_an_under_trained_model(two_epoch_run,
                                                                      tmp_path):
    args = ["reconstruct", str(two_epoch_run), "--size", "64", "--frames", "2",
            "--sequences", "1", "-q"]
    assert main(args + ["--out", str(tmp_path / "band")]) == 0
    assert main(args + ["--out", str(tmp_path / "dense"), "--dense"]) == 0
    band = tifffile.imread(tmp_path / "band" / "masks" / "seq_0001.tif")
    dense = tifffile.imread(tmp_path / "dense" / "masks" / "seq_0001.tif")
    assert 0 < dense.mean() < 0.5 and np.array_equal(band, dense)
    a_band = read_dataset(tmp_path / "band" / "sdf.h5")[0].attrs
    a_dense = read_dataset(tmp_path / "dense" / "sdf.h5")[0].attrs
    assert a_dense["evaluated_fraction"] == 1.0 and a_band["evaluated_fraction"] < 1.0
    # 2 epochs leave the network steeper than a distance (1 in these units); the band's
    # slope is the larger of 2 x that bound and 1.5 x the measured gradient
    assert a_band["lipschitz_measured"] > 1.0 and a_band["dense_frames"] == 0
    assert a_band["narrow_band_slope"] == pytest.approx(
        max(2.0, 1.5 * a_band["lipschitz_measured"]))
