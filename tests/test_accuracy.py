"""prepare + describe end to end against analytic shapes, and thin parts kept."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi
from skimage.draw import ellipsoid_stats

from cellshapes.cli import main
from cellshapes.io import read_dataset
from cellshapes.measure.metrics import describe_path


def _ellipsoid_tiff(path, spacing, axes, imagej=True):
    n = [int(2 * a / s) + 12 for a, s in zip(axes, spacing)]
    c = [(k - 1) / 2 * s + 0.13 for k, s in zip(n, spacing)]
    z, y, x = np.meshgrid(*(np.arange(k) * s - o for k, s, o in zip(n, spacing, c)),
                          indexing="ij")
    mask = ((z / axes[0]) ** 2 + (y / axes[1]) ** 2 + (x / axes[2]) ** 2 <= 1).astype(np.uint8)
    tifffile.imwrite(path, mask, imagej=imagej, resolution=(1 / spacing[2], 1 / spacing[1]),
                     metadata={"spacing": spacing[0], "unit": "um", "axes": "ZYX"})
    return mask


@pytest.mark.parametrize("spacing,axes", [((0.5, 0.5, 0.5), (6.0, 6.0, 6.0)),
                                          ((2.0, 0.5, 0.5), (9.0, 6.0, 5.0)),
                                          ((0.3, 0.3, 1.5), (5.0, 6.0, 9.0))])
def test_prepare_then_describe_is_analytic_grade(tmp_path, spacing, axes):
    _ellipsoid_tiff(tmp_path / "cell.tif", spacing, axes)
    assert main(["prepare", str(tmp_path / "cell.tif"), "--out", str(tmp_path / "d.h5"),
                 "--size", "64", "-q"]) == 0
    volume, area = ellipsoid_stats(*axes)
    table = describe_path(tmp_path / "d.h5")
    assert table["volume_um3"].iloc[0] == pytest.approx(volume, rel=0.015)
    assert table["surface_um2"].iloc[0] == pytest.approx(area, rel=0.02)
    sph = 36 * np.pi * volume ** 2 / area ** 3
    assert table["sphericity"].iloc[0] == pytest.approx(sph, abs=0.03)
    raw = describe_path(tmp_path / "cell.tif")  # spacing read from the ImageJ TIFF
    assert raw["volume_um3"].iloc[0] == pytest.approx(volume, rel=0.015)
    assert raw["surface_um2"].iloc[0] == pytest.approx(area, rel=0.03)


def test_filopodia_stay_attached_after_prepare(tmp_path):
    assert main(["phantoms", "filopodial", "--out", str(tmp_path / "f"), "--sequences", "2",
                 "--frames", "4", "--size", "64", "--seed", "0", "-q"]) == 0
    assert main(["prepare", *map(str, sorted((tmp_path / "f").glob("*.tif"))), "--out",
                 str(tmp_path / "f.h5"), "--size", "64", "-q"]) == 0
    spacing = json.loads((tmp_path / "f" / "phantoms.json").read_text())["spacing_um"]
    for seq in read_dataset(tmp_path / "f.h5"):
        assert seq.attrs["spacing_um"] == pytest.approx(spacing)
        for frame in seq.sdf:
            assert ndi.label(frame <= 0, structure=np.ones((3, 3, 3)))[1] == 1
