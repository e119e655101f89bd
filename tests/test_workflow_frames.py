"""workflow.first_frames: the first k frames of every sequence, per-frame attrs cut alike."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.io import SDFSequence, read_dataset, write_dataset
from cellshapes.repro.workflow import first_frames


def test_first_frames_cuts_sdf_and_per_frame_attrs(tmp_path):
    sdf = np.arange(5 * 8 ** 3, dtype=np.float32).reshape(5, 8, 8, 8)
    attrs = {"voxel_um": 1.0, "spacing_um": np.array([1.0, 1.0, 1.0]),
             "centroid_um": np.arange(15.0).reshape(5, 3), "components": np.ones(5, int),
             "cell_type": "dividing"}
    src = write_dataset(tmp_path / "d.h5", [SDFSequence("seq_0000", sdf, attrs)])
    out = first_frames(src, 3)
    assert out.name == "d_first3.h5"
    (q,) = read_dataset(out)
    np.testing.assert_array_equal(q.sdf, sdf[:3])
    np.testing.assert_array_equal(q.attrs["centroid_um"], attrs["centroid_um"][:3])
    assert len(q.attrs["components"]) == 3 and len(q.attrs["spacing_um"]) == 3
    assert q.attrs["cell_type"] == "dividing"
    assert first_frames(src, 3) == out  # cached
    with pytest.raises(InputError, match="fewer than 6"):
        first_frames(src, 6)
    with pytest.raises(InputError, match=">= 1"):
        first_frames(src, 0)
