"""Ids not kept over time: detection of jumps and linking by overlap (prepare/linking.py)."""
from __future__ import annotations

import json

import numpy as np

from cellshapes.cli import main
from cellshapes.io import write_tiff
from cellshapes.prepare.linking import (JUMP_IOU, LINK_IOU, id_jumps, link_by_overlap,
                                        overlaps, write_man_track)

CELLS = [((12, 12, 8), 5.0), ((26, 14, 24), 6.0), ((14, 28, 18), 5.5)]


def moving_cells(t: int = 6, s: int = 40, permute: bool = True, seed: int = 0,
                 touch: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(T, Z, Y, X) uint16 labels of three balls moving 1.5 voxels per frame along x, their
    ids permuted in every frame (``permute``), and the true cell of every voxel (1..3).
    With ``touch`` the second ball is moved against the first (they share faces)."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[:s, :s, :s]
    lab, truth = np.zeros((2, t, s, s, s), np.uint16)
    cells = list(CELLS)
    if touch:
        cells[1] = ((12, 12, 19), 6.0)
    for k in range(t):
        ids = rng.permutation([1, 2, 3]) if permute else np.array([1, 2, 3])
        for i, (c, r) in enumerate(cells):
            inside = ((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2] - 1.5 * k) ** 2) <= r * r
            inside &= lab[k] == 0
            lab[k][inside], truth[k][inside] = ids[i], i + 1
    return lab, truth


def test_overlaps_is_the_iou_of_every_pair():
    a = np.zeros((1, 4, 4), int)
    b = np.zeros((1, 4, 4), int)
    a[0, :2, :2], a[0, 2:, 2:] = 1, 2          # 4 voxels each
    b[0, :2, :1], b[0, 3:, 2:] = 5, 6          # 2 voxels each
    ids_a, ids_b, iou = overlaps(a, b)
    assert ids_a.tolist() == [1, 2] and ids_b.tolist() == [5, 6]
    assert np.allclose(iou, [[2 / 4, 0], [0, 2 / 4]])


def test_consistent_ids_have_no_jumps_and_come_back_unchanged():
    lab, _ = moving_cells(permute=False)
    assert id_jumps(lab) == []
    linked = link_by_overlap(lab)
    assert np.array_equal(linked.labels, lab) and linked.links == []
    assert linked.tracks == [(1, 0, 5, 0), (2, 0, 5, 0), (3, 0, 5, 0)]


def test_permuted_ids_are_detected_and_linked_to_one_cell_each():
    lab, truth = moving_cells()
    jumps = id_jumps(lab)
    assert jumps and all(j["iou"] < JUMP_IOU or j["moved_um"] > j["radius_um"] for j in jumps)
    linked = link_by_overlap(lab)
    assert len(linked.tracks) == 3 and all(b == 0 and e == 5 for _, b, e, _ in linked.tracks)
    for track, *_ in linked.tracks:  # every track is one true cell in every frame
        assert len(np.unique(truth[linked.labels == track])) == 1
    assert id_jumps(linked.labels) == []
    assert all(link["iou"] >= LINK_IOU for link in linked.links)


def test_touching_cells_link_too():
    lab, truth = moving_cells(touch=True)
    linked = link_by_overlap(lab)
    for track, *_ in linked.tracks:
        assert len(np.unique(truth[linked.labels == track])) == 1


def test_a_division_starts_two_tracks_with_the_mother_as_parent(tmp_path):
    s = 30
    zz, yy, xx = np.mgrid[:s, :s, :s]
    lab = np.zeros((3, s, s, s), np.uint16)
    lab[0][(zz - 15) ** 2 + (yy - 15) ** 2 + (xx - 15) ** 2 <= 49] = 4
    for k in (1, 2):  # two daughters, numbered 1 and 2 by the segmentation
        lab[k][(zz - 15) ** 2 + (yy - 15) ** 2 + (xx - 11) ** 2 <= 25] = 1
        lab[k][(zz - 15) ** 2 + (yy - 15) ** 2 + (xx - 19) ** 2 <= 25] = 2
    linked = link_by_overlap(lab)
    rows = {t[0]: t for t in linked.tracks}
    assert rows[4][1:3] == (0, 2)          # one daughter continues the mother's track
    new = [t for t in linked.tracks if t[0] != 4]
    assert len(new) == 1 and new[0][1:] == (1, 2, 4)  # the other starts one, parent 4
    write_man_track(tmp_path / "man_track.txt", linked.tracks)
    lines = (tmp_path / "man_track.txt").read_text().splitlines()
    assert sorted(lines) == sorted(" ".join(map(str, t)) for t in linked.tracks)
    assert "4 0 2 0" in lines


def test_prepare_per_label_warns_on_jumps_and_links_with_link(tmp_path, capsys):
    lab, _ = moving_cells(t=4)
    write_tiff(tmp_path / "v.tif", lab, (1.0, 1.0, 1.0))
    args = ["prepare", str(tmp_path / "v.tif"), "--per-label", "--size", "16", "-q"]
    assert main([*args, "--out", str(tmp_path / "a.h5")]) == 0
    out, err = capsys.readouterr()
    assert "ids do not follow one cell over time" in err and "--link" in err
    assert any("jump" in n for n in json.loads(out)["notes"])
    assert main([*args, "--link", "--out", str(tmp_path / "b.h5")]) == 0
    out, err = capsys.readouterr()
    assert "ids do not follow" not in err
    assert any("linked over time" in n for n in json.loads(out)["notes"])
