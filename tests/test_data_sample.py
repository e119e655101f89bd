"""The committed sample in data/samples loads, matches its metadata and re-prepares identically."""

import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from cellshapes import prepare_dataset, read_dataset, read_masks

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
TIF = SAMPLES / "dividing" / "seq_000.tif"
H5 = SAMPLES / "dividing.h5"


def test_sample_is_small():
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 1_000_000


def test_sample_masks_match_phantom_metadata():
    masks, meta = read_masks(TIF)
    assert masks.shape == (4, 32, 32, 32)
    assert meta["spacing_um"] == (1.25, 1.25, 1.25)
    info = json.loads((SAMPLES / "dividing" / "phantoms.json").read_text())
    seq = info["sequences"][0]
    voxel_um3 = 1.25**3
    volumes = (masks > 0).reshape(4, -1).sum(axis=1) * voxel_um3
    np.testing.assert_allclose(volumes, seq["volume_um3"], atol=0.01)
    # the cell divides between frames 1 and 2
    components = [ndimage.label(frame > 0)[1] for frame in masks]
    assert components == [1, 1, 2, 2]


def test_sample_dataset_loads_and_reprepares_identically(tmp_path):
    seqs = read_dataset(H5)
    assert [s.name for s in seqs] == ["seq_0000"]
    sdf = seqs[0].sdf
    assert sdf.shape == (4, 32, 32, 32) and sdf.dtype == np.float32
    assert seqs[0].attrs["cell_type"] == "dividing"
    assert list(seqs[0].attrs["components"]) == [1, 1, 2, 2]
    # inside is negative, and each frame has an inside
    assert ((sdf < 0).reshape(4, -1).sum(axis=1) > 0).all()
    out = tmp_path / "again.h5"
    prepare_dataset([TIF], out, size=32, cell_type="dividing", progress=False)
    np.testing.assert_allclose(read_dataset(out)[0].sdf, sdf, atol=1e-6)
