"""Multi-cell scenes: touching cells at gap 0, an exact minimum gap, per-cell lifecycle
phases with their lineage, and images from a trained texture model."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch
from scipy import ndimage

from cellshapes.cli import main
from cellshapes.errors import DatasetFormatError
from cellshapes.synthesis.scene import (Scene, SceneConfig, make_scene, project_scene,
                                        scene_images, write_scene)
from cellshapes.training.sampling import frame_times

SCALE = 20.0  # um per unit cube coordinate of the stub
RADIUS = 5.0  # um
ATTRS = {"scale_um": SCALE, "sdf_unit_um": 1.0}


class Spheres(torch.nn.Module):
    """Stub model with an exact SDF (um): a sphere of RADIUS um that, with ``rate`` > 0,
    splits into two for model time t > ``onset``, centres ``rate * (t - onset)`` cube
    units (``20 rate (t - onset)`` um) from the origin along the cell's first axis."""

    def __init__(self, rate: float = 0.0, onset: float = 0.0) -> None:
        super().__init__()
        self.codes = torch.nn.Parameter(torch.randn(4, 8, generator=torch.Generator()
                                                    .manual_seed(0)) * 0.01)
        self.rate, self.onset = rate, onset

    def decode(self, x, t, z, rot):  # (1, P, 3) -> (1, P)
        x = x @ rot
        a = torch.zeros(3)
        a[0] = self.rate * float((t - self.onset).clamp(min=0.0)[0])
        return torch.minimum((x - a).norm(dim=-1), (x + a).norm(dim=-1)) * SCALE - RADIUS


def _pair_distances(frame, spacing):
    """{(a, b): minimum distance in um between voxel centres of labels a < b}."""
    out = {}
    for a in np.unique(frame)[1:]:
        dist = ndimage.distance_transform_edt(frame != a, sampling=spacing)
        for b in np.unique(frame)[1:]:
            if b > a:
                out[(int(a), int(b))] = float(dist[frame == b].min())
    return out


def _face_pairs(frame):
    """Pairs of different labels that share a voxel face."""
    pairs = set()
    for ax in range(3):
        x, y = np.moveaxis(frame, ax, 0)[:-1], np.moveaxis(frame, ax, 0)[1:]
        touch = (x > 0) & (y > 0) & (x != y)
        pairs |= {tuple(sorted(p)) for p in zip(x[touch].tolist(), y[touch].tolist())}
    return pairs


def _one_component_each(labels):
    for t in range(labels.shape[0]):
        for lab in np.unique(labels[t])[1:]:
            _, n = ndimage.label(labels[t] == lab, np.ones((3,) * labels[t].ndim, bool))
            assert n == 1, (t, lab, n)


def _tracks_match(labels, tracks):
    by = {t["label"]: t for t in tracks}
    for t in range(labels.shape[0]):
        present = set(np.unique(labels[t]).tolist()) - {0}
        assert present == {k for k, r in by.items() if r["begin"] <= t <= r["end"]}


CROWD = {"cells": 14, "frames": 1, "shape": (12, 40, 40), "spacing": (2.0, 1.0, 1.0),
         "seed": 0, "footprint_size": 16, "entering": 0}


@pytest.fixture(scope="module")
def crowd():
    return {gap: make_scene(Spheres(), ATTRS, SceneConfig(**CROWD, gap_um=gap))
            for gap in (0.0, 1.5)}


def test_gap_zero_lets_crowded_cells_share_faces(crowd):
    scene = crowd[0.0]
    frame = scene.labels[0]
    assert len(np.unique(frame)) - 1 == 14  # every cell keeps its own label
    _one_component_each(scene.labels)
    touching = _face_pairs(frame)
    assert len(touching) >= 2, touching
    assert scene.record["contact_voxel_faces"] > 0
    assert scene.record["gap_voxels_removed"] == [0]


def test_a_positive_gap_is_a_minimum_distance_at_the_spacing(crowd):
    scene = crowd[1.5]
    frame, sp = scene.labels[0], np.asarray(CROWD["spacing"])
    dists = _pair_distances(frame, sp)
    assert len(dists) == 14 * 13 // 2
    assert min(dists.values()) >= 1.5
    assert not _face_pairs(frame)
    _one_component_each(scene.labels)
    # without the gap the same field has pairs closer than 1.5 um (so the test can fail)
    assert min(_pair_distances(crowd[0.0].labels[0], sp).values()) < 1.5


# ------------------------------------------------------------------ lifecycle phases
SPLIT, ONSET = 0.5, -0.5  # centres 10 (t - onset) um from the middle: one component for
ONE, TWO = ONSET + 0.45, ONSET + 0.65  # t <= ONE (the spheres overlap), two 26-components
# for t >= TWO (3 um or more between them)


@pytest.fixture(scope="module")
def phased(tmp_path_factory):
    cfg = SceneConfig(cells=3, frames=6, shape=(40, 64, 64), spacing=(1.0, 1.0, 1.0), seed=2,
                      drift_um=0.0, entering=0, min_visible=1.0, footprint_size=16,
                      time_span=0.6, gap_um=1.0)
    scene = make_scene(Spheres(SPLIT, ONSET), {**ATTRS, "cell_type": "dividing"}, cfg)
    out = write_scene(scene, tmp_path_factory.mktemp("phased") / "s")
    return cfg, scene, out


def test_each_cell_has_its_own_phase(phased):
    cfg, scene, _ = phased
    cells = scene.record["cells"]
    offsets = [c["time_offset"] for c in cells]
    assert len(set(offsets)) == 3 and all(abs(o) <= 1 - cfg.time_span for o in offsets)
    for c in cells:  # a window of half-width time_span at the cell's offset
        np.testing.assert_allclose(c["model_times"], c["time_offset"]
                                   + cfg.time_span * frame_times(cfg.frames), atol=1e-6)
    divided = [c["division_frames"] for c in cells if c["division_frames"]]
    assert len({tuple(d) for d in divided}) >= 2  # cells divide at different frames


def test_the_track_file_follows_each_cells_phase(phased):
    """From each cell's model times: one label while t <= ONE, its two daughters (parent:
    that label) from the first frame with two components on, not after t >= TWO."""
    cfg, scene, out = phased
    rows = [tuple(map(int, ln.split())) for ln in (out / "man_track.txt").read_text()
            .splitlines()]
    by = {r[0]: dict(zip(("label", "begin", "end", "parent"), r)) for r in rows}
    _tracks_match(scene.labels, list(by.values()))
    _one_component_each(scene.labels)
    assert len({lab for c in scene.record["cells"] for lab in c["labels"]}) == len(rows)
    for c in scene.record["cells"]:
        times = np.asarray(c["model_times"])
        roots = [by[lab] for lab in c["labels"] if by[lab]["parent"] == 0]
        kids = [by[lab] for lab in c["labels"] if by[lab]["parent"]]
        assert len(roots) == 1 and roots[0]["begin"] == 0
        mother = roots[0]
        if not kids:  # never two components: never clearly split
            assert times.max() < TWO and mother["end"] == cfg.frames - 1
            assert c["division_frames"] == []
            continue
        split = mother["end"] + 1
        assert all(times[:split] < TWO) and all(times[split:] > ONE) and split < 6
        assert len(kids) == 2 and all(k["parent"] == mother["label"] for k in kids)
        assert all(k["begin"] == split and k["end"] == cfg.frames - 1 for k in kids)
        assert c["division_frames"] == [split]


def test_time_span_one_puts_every_cell_in_one_phase():
    cfg = SceneConfig(cells=2, frames=3, shape=(12, 40, 40), spacing=(2.0, 1.0, 1.0), seed=1,
                      entering=0, footprint_size=16, time_span=1.0)
    cells = make_scene(Spheres(), ATTRS, cfg).record["cells"]
    for c in cells:
        np.testing.assert_allclose(c["model_times"], frame_times(3), atol=1e-6)


# ------------------------------------------------------------------ texture model
@pytest.fixture(scope="module")
def texture_run(tmp_path_factory):
    """A tiny trained texture run (as tests/test_texture.py makes one)."""
    from cellshapes.phantoms import make_sequence
    from cellshapes.synthesis.microscopy import simulate
    from cellshapes.synthesis.texture import texture_config
    from cellshapes.synthesis.texture_train import train_texture

    m, meta = make_sequence("dividing", 4, 16, 0)
    _, mip = simulate(m, meta["spacing_um"], seed=0)
    return train_texture([{"name": "s0", "image": mip, "masks": m}],
                         tmp_path_factory.mktemp("tex") / "run",
                         texture_config("smoke", epochs=2, batch_size=4), device="cpu",
                         progress=False)


def test_scene_images_from_a_texture_run(texture_run, tmp_path):
    """The GAN textures the scene's projection: the same images as texturing its labels
    directly; a CTC export of the 2D+t images with their projected labels is valid."""
    from cellshapes.synthesis.texture import synthesize

    cfg = SceneConfig(cells=3, frames=2, shape=(12, 36, 36), spacing=(2.0, 1.0, 1.0), seed=4,
                      entering=0, footprint_size=16, texture=str(texture_run))
    scene = make_scene(Spheres(), ATTRS, cfg)
    img = scene_images(scene, seed=3)  # the texture run of the scene's config
    assert img.shape == (2, 36, 36) and img.dtype == np.float32
    np.testing.assert_array_equal(img, synthesize(texture_run, scene.labels, seed=3,
                                                  device="cpu"))
    np.testing.assert_array_equal(img, scene_images(scene, seed=3, texture=texture_run))
    plain = Scene(scene.labels, scene.tracks, scene.spacing)  # no texture run: the simulator
    assert scene_images(plain, seed=3).shape == (2, 12, 36, 36)
    lab2d, tracks = project_scene(scene)
    assert lab2d.shape == (2, 36, 36)
    np.testing.assert_array_equal(lab2d > 0, scene.labels.max(axis=1) > 0)
    _tracks_match(lab2d, tracks)
    _one_component_each(lab2d)
    out = write_scene(scene, tmp_path / "s", images=img, ctc=True)
    assert tifffile.imread(out / "images.tif").shape == (2, 36, 36)
    np.testing.assert_array_equal(tifffile.imread(out / "ctc/01_GT/SEG/man_seg001.tif"),
                                  lab2d[1])
    assert json.loads((out / "scene.json").read_text())["image_dims"] == 2
    ctc_metrics = pytest.importorskip("ctc_metrics")
    from ctc_metrics.scripts.validate import validate_sequence

    res = tmp_path / "01_RES"
    res.mkdir()
    for t in range(2):
        tifffile.imwrite(res / f"mask{t:03d}.tif", lab2d[t].astype(np.uint16))
    (res / "res_track.txt").write_text((out / "ctc/01_GT/TRA/man_track.txt").read_text())
    assert validate_sequence(str(res), threads=1)["Valid"] == 1, ctc_metrics.__file__


def test_cli_texture_must_be_a_texture_run(tmp_path, capsys):
    (tmp_path / "notarun").mkdir()
    rc = main(["scene", "growing_study", "--shape", "8", "8", "8", "--spacing", "1", "1", "1",
               "--out", str(tmp_path / "o"), "--texture", str(tmp_path / "notarun"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and not (tmp_path / "o").exists()
    with pytest.raises(DatasetFormatError):
        scene_images(make_scene(Spheres(), ATTRS, SceneConfig(
            cells=1, frames=1, shape=(8, 24, 24), spacing=(2.0, 1.0, 1.0), footprint_size=12)),
            texture=tmp_path / "notarun")
