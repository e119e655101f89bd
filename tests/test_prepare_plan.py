"""The three steps of dataset preparation (cellshapes.prepare.plan / .dataset): the plan
of a small label video has the known cells, frames and crops, each input is read once,
and a cropped cell gives the SDF of the uncropped one."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.config import PrepareConfig
from cellshapes.cube import prepare_sequence
from cellshapes.prepare import build_dataset, plan_dataset, prepare_dataset


def _video() -> np.ndarray:
    """(4, 16, 20, 20) labels: 3 a box in every frame, 5 a box in frames 1-3 only,
    8 touching the border in every frame, 9 in frame 0 only."""
    lab = np.zeros((4, 16, 20, 20), np.uint16)
    lab[:, 4:9, 3:8, 5:11] = 3
    lab[1:, 6:10, 12:17, 12:16] = 5
    lab[:, 0:3, 9:11, 9:11] = 8
    lab[0, 12:14, 2:4, 16:18] = 9
    return lab


def test_plan_of_a_label_video_has_the_known_cells_frames_and_crops(tmp_path):
    np.save(tmp_path / "v.npy", _video())
    plan = plan_dataset([tmp_path / "v.npy"], tmp_path / "d.h5",
                        PrepareConfig(size=12, per_label=True, spacing=(1, 1, 1)))
    cells = plan.cells[tmp_path / "v.npy"]
    assert [(c.label, c.frames) for c in cells] == [(3, (0, 3)), (5, (1, 3))]
    assert [c.masks.shape for c in cells] == [(4, 5, 5, 6), (3, 4, 5, 4)]
    assert [c.origin for c in cells] == [(4, 3, 5), (6, 12, 12)]
    assert all(c.masks.all() for c in cells)  # boxes fill their crops
    assert plan.n_frames == 7
    assert sorted((s["source"].split("#")[1], "border" in s["reason"]) for s in plan.skipped) \
        == [("label=8", True), ("label=9", False)]
    # the scale: the largest box's half-diagonal between voxel centres plus half a voxel
    # diagonal (each voxel a box), times the margin
    half = np.linalg.norm([4, 4, 5]) / 2 + np.linalg.norm([1, 1, 1]) / 2
    assert plan.scale_um == pytest.approx(half * 1.25, rel=1e-9)
    assert not (tmp_path / "d.h5").exists()
    keep = plan_dataset([tmp_path / "v.npy"], tmp_path / "d.h5",
                        PrepareConfig(size=12, per_label=True, keep_border=True))
    assert [c.label for c in keep.cells[tmp_path / "v.npy"]] == [3, 5, 8]
    one = plan_dataset([tmp_path / "v.npy"], tmp_path / "d.h5", PrepareConfig(size=12))
    assert [(c.label, c.frames) for c in one.cells[tmp_path / "v.npy"]] == [(3, (0, 3))]


def test_each_input_is_read_once_and_no_caller_list_is_filled(tmp_path, monkeypatch):
    from cellshapes.prepare import plan as plan_module

    for i in range(2):
        np.save(tmp_path / f"v{i}.npy", _video())
    reads = []
    real = plan_module.read_masks
    monkeypatch.setattr(plan_module, "read_masks",
                        lambda p, **kw: reads.append(p) or real(p, **kw))
    summary = prepare_dataset([tmp_path / "v0.npy", tmp_path / "v1.npy"], tmp_path / "d.h5",
                              size=12, per_label=True, spacing=(1, 1, 1), progress=False)
    assert sorted(p.name for p in reads) == ["v0.npy", "v1.npy"]
    assert summary["n_sequences"] == 4 and len(summary["skipped"]) == 4


def test_a_cropped_cell_gives_the_sdf_of_the_whole_volume(tmp_path):
    lab = _video()
    np.save(tmp_path / "v.npy", lab)
    plan = plan_dataset([tmp_path / "v.npy"], tmp_path / "d.h5",
                        PrepareConfig(size=12, label=3, spacing=(1, 2, 1)))
    built = build_dataset(plan)
    (seq,) = built.sequences
    whole, attrs = prepare_sequence(lab == 3, (1, 2, 1), 12, plan.scale_um, keep="all")
    np.testing.assert_allclose(seq.sdf, whole, atol=1e-5)
    np.testing.assert_allclose(seq.attrs["centroid_um"], attrs["centroid_um"], atol=1e-9)
    assert seq.name == "seq_0000" and seq.attrs["label"] == 3
