"""Topology-aware metrics: islands and detached protrusions are seen (analytic cases)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cellshapes.cli import main
from cellshapes.io import write_tiff
from cellshapes.measure.compare import compare_shapes
from cellshapes.measure.topology import drop_islands, matched_foreground, topology_scores


def _grid(shape=(48, 48, 64)):
    return np.mgrid[:shape[0], :shape[1], :shape[2]].astype(np.float64)


def _sphere_plus_ball():
    z, y, x = _grid()
    sphere = (z - 24) ** 2 + (y - 24) ** 2 + (x - 24) ** 2 <= 12 ** 2
    ball = (z - 24) ** 2 + (y - 24) ** 2 + (x - 52) ** 2 <= 3 ** 2
    return sphere, sphere | ball, ball


def _cell_with_protrusion(gap_at: float | None = None):
    """A ball of radius 10 with a square rod 5 voxels thick along +x, 24 voxels long.
    ``gap_at``: the rod is cut (2 voxels removed) this many voxels from the body, so its
    tip floats free."""
    z, y, x = _grid()
    body = (z - 24) ** 2 + (y - 24) ** 2 + (x - 20) ** 2 <= 10 ** 2
    rod = (np.abs(z - 24) <= 2) & (np.abs(y - 24) <= 2) & (x >= 20) & (x < 30 + 24)
    cell = body | rod
    if gap_at is not None:
        cut = (x >= 30 + gap_at) & (x < 30 + gap_at + 2)
        cell = cell & ~(rod & cut)
    return cell


def test_detached_ball_is_a_second_component_and_an_island():
    sphere, with_ball, ball = _sphere_plus_ball()
    m = topology_scores(sphere, with_ball)
    assert m["components"] == 2
    assert m["island_fraction"] == pytest.approx(ball.sum() / with_ball.sum())
    same = topology_scores(sphere, sphere)
    assert same["components"] == 1 and same["island_fraction"] == 0.0
    matched, n = matched_foreground(sphere, with_ball)
    assert n == 2 and np.array_equal(matched, sphere)


def test_cut_protrusion_counts_only_where_attached():
    truth, cut = _cell_with_protrusion(), _cell_with_protrusion(gap_at=4)
    m = compare_shapes(truth, cut)
    assert m["dsc"] > 0.98                       # DSC barely sees the cut
    assert m["protrusion_recall"] > 0.9          # nor does the plain recall
    assert m["components"] == 2 and m["island_fraction"] > 0.05  # the 18-voxel tip
    assert m["connected_protrusion_recall"] <= 0.25
    whole = compare_shapes(truth, truth)
    assert whole["connected_protrusion_recall"] == pytest.approx(1.0)


def test_cli_compare_reports_components_and_islands(tmp_path, capsys):
    sphere, with_ball, _ = _sphere_plus_ball()
    write_tiff(tmp_path / "t.tif", sphere.astype(np.uint8))
    write_tiff(tmp_path / "o.tif", with_ball.astype(np.uint8))
    assert main(["compare", str(tmp_path / "t.tif"), str(tmp_path / "o.tif"),
                 "--json", str(tmp_path / "c.json")]) == 0
    (row,) = json.loads((tmp_path / "c.json").read_text())["frames"]
    assert row["components"] == 2 and row["island_fraction"] > 0
    truth, cut = _cell_with_protrusion(), _cell_with_protrusion(gap_at=4)
    write_tiff(tmp_path / "a.tif", truth.astype(np.uint8))
    write_tiff(tmp_path / "b.tif", cut.astype(np.uint8))
    assert main(["compare", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"),
                 "--json", str(tmp_path / "d.json")]) == 0
    (row,) = json.loads((tmp_path / "d.json").read_text())["frames"]
    assert row["connected_protrusion_recall"] <= 0.25 and row["dsc"] > 0.98


def test_drop_islands_removes_only_small_components():
    sphere, with_ball, ball = _sphere_plus_ball()
    assert np.array_equal(drop_islands(with_ball, ball.sum() + 1), sphere)
    assert np.array_equal(drop_islands(with_ball, 1), with_ball)
