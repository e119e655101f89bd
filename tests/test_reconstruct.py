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
