"""cellshapes.measure.daughters: a dividing sequence described per daughter."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.measure.daughters import describe_daughters


def _ball(shape, centre, radius):
    z, y, x = np.indices(shape)
    return ((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) <= radius ** 2


def _division(shape=(40, 40, 64)):
    """Frame 0: one ball r=10; frame 1: balls r=9 and r=6 apart; frame 2: the same plus a
    fragment r=2 (three cells: the two largest are the daughters)."""
    mother = _ball(shape, (20, 20, 32), 10)
    big, small = _ball(shape, (20, 20, 16), 9), _ball(shape, (20, 20, 48), 6)
    fragment = _ball(shape, (5, 5, 32), 2)
    return np.stack([mother, big | small, big | small | fragment]).astype(np.uint8)


def test_daughters_take_the_two_largest_cells_and_the_mother_before():
    spacing = (0.5, 0.5, 0.5)
    df = describe_daughters(_division(), spacing, name="seq")
    assert list(df["sequence"]) == ["seq/d1", "seq/d2"] * 3
    assert list(df["frame"]) == [0, 0, 1, 1, 2, 2] and list(df["cells"]) == [1, 1, 2, 2, 3, 3]
    v = df["volume_um3"].to_numpy()
    ball = [4 / 3 * math.pi * (r * 0.5) ** 3 for r in (10, 9, 6)]
    assert v[0] == v[1] == pytest.approx(ball[0], rel=0.05)  # both daughters: the mother
    assert v[2] == pytest.approx(ball[1], rel=0.05) and v[3] == pytest.approx(ball[2], rel=0.06)
    assert v[4] == pytest.approx(v[2]) and v[5] == pytest.approx(v[3])  # fragment dropped
    assert (df["sphericity"] > 0.85).all() and (df["sphericity"] <= 1.05).all()


def test_an_empty_frame_is_refused():
    seq = _division()
    seq[1] = 0
    with pytest.raises(InputError, match="frame 1 is empty"):
        describe_daughters(seq)


def test_describe_dataset_per_daughter(tmp_path):
    """The notebooks' dataset table (repro.workflow.describe_dataset) splits each dividing
    sequence into its daughters and leaves out a sequence with an empty frame, by name."""
    from cellshapes.io import SDFSequence, write_dataset
    from cellshapes.repro.workflow import describe_dataset
    from cellshapes.sdf import mask_to_sdf

    masks = _division((64, 64, 64))  # a prepared dataset holds cubes
    sdf = np.stack([mask_to_sdf(m) for m in masks]).astype(np.float32)
    empty = sdf.copy()
    empty[1] = np.abs(empty[1]) + 1  # nothing inside: a code that decoded to nothing
    path = write_dataset(tmp_path / "d.h5", [SDFSequence("a", sdf, {"voxel_um": 0.5}),
                                             SDFSequence("b", empty, {"voxel_um": 0.5})])
    table, skipped = describe_dataset(path, per_daughter=True)
    assert skipped == ["b"] and sorted(set(table["sequence"])) == ["a/d1", "a/d2"]
    direct = describe_daughters(sdf, (0.5,) * 3, "a", is_sdf=True)
    assert np.allclose(table["volume_um3"], direct["volume_um3"])
    whole, _ = describe_dataset(path)
    assert list(whole["sequence"].unique()) == ["a"] and len(whole) == 3
