"""Multi-cell scenes (cellshapes scene): geometry at anisotropic spacing, placement,
lineage, one component per label, images, CTC validity, the command line."""
from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import tifffile
import torch
from scipy import ndimage

from cellshapes.cli import main
from cellshapes.errors import InputError
from cellshapes.inference.generate import sample_codes
from cellshapes.io import read_masks
from cellshapes.synthesis.estimate import estimate_microscope
from cellshapes.synthesis.microscopy import MicroscopyConfig, simulate
from cellshapes.synthesis.scene import (SceneConfig, cell_sdf, eval_box, make_scene,
                                        scene_images, scene_tracks, write_scene)

SCALE = 20.0  # um per unit cube coordinate of the stub models
RADIUS = 5.0  # um


class Spheres(torch.nn.Module):
    """Stub model with an exact SDF (um): one sphere of RADIUS um that, for ``split``,
    divides into two for t > 0 (centres 0.3 * t cube units from the origin along the
    cell's first axis)."""

    def __init__(self, split: bool = False) -> None:
        super().__init__()
        self.codes = torch.nn.Parameter(torch.randn(4, 8, generator=torch.Generator()
                                                    .manual_seed(0)) * 0.01)
        self.split = split

    def decode(self, x, t, z, rot):  # (1, P, 3) -> (1, P), SDF in um (sdf_unit_um 1)
        if rot is not None:
            x = x @ rot
        a = torch.zeros(3)
        if self.split:
            a[0] = 0.3 * float(t.clamp(min=0.0)[0])
        d = torch.minimum((x - a).norm(dim=-1), (x + a).norm(dim=-1))
        return d * SCALE - RADIUS


ATTRS = {"scale_um": SCALE, "sdf_unit_um": 1.0}


def _tracks_match(labels, tracks):
    """Every label is present exactly in frames begin..end; parents end before children."""
    by = {t["label"]: t for t in tracks}
    for t in range(labels.shape[0]):
        present = set(np.unique(labels[t]).tolist()) - {0}
        assert present == {k for k, r in by.items() if r["begin"] <= t <= r["end"]}
    for r in tracks:
        if r["parent"]:
            assert by[r["parent"]]["end"] < r["begin"]


def _one_component_each(labels):
    for t in range(labels.shape[0]):
        for lab in np.unique(labels[t])[1:]:
            _, n = ndimage.label(labels[t] == lab, np.ones((3, 3, 3), bool))
            assert n == 1, (t, lab, n)


def test_a_sphere_is_evaluated_at_the_anisotropic_spacing():
    """A 5 um sphere sampled at (1, 0.5, 0.5) um: 10 voxels across in z, 20 in y and x,
    volume 4/3 pi 125 um^3 (2%); the coarse-to-fine band gives the dense mask."""
    fn = cell_sdf(Spheres(), np.zeros(8), np.eye(3), SCALE, 1.0)
    sp = np.array([1.0, 0.5, 0.5])
    lo, n = np.array([0, 0, 0]), np.array([16, 32, 32])
    centre = np.array([8.0, 8.0, 8.0])
    dense = eval_box(fn, 0.0, lo, n, sp, centre, band=False) <= 0
    band = eval_box(fn, 0.0, lo, n, sp, centre, band=True) <= 0
    np.testing.assert_array_equal(band, dense)
    idx = np.argwhere(dense)
    assert (idx.max(0) - idx.min(0) + 1).tolist() == [10, 20, 20]
    assert dense.sum() * sp.prod() == pytest.approx(4 / 3 * np.pi * RADIUS ** 3, rel=0.02)


@pytest.fixture(scope="module")
def dividing_stub():
    # time_span 1: all cells in one phase, so that the division frame is known
    cfg = SceneConfig(cells=3, frames=3, shape=(12, 48, 48), spacing=(2.0, 1.0, 1.0),
                      gap_um=2.0, seed=1, drift_um=1.0, entering=1, footprint_size=16,
                      time_span=1.0)
    return cfg, make_scene(Spheres(split=True), {**ATTRS, "cell_type": "dividing"}, cfg)


def test_dividing_cells_get_daughters_with_their_parent(dividing_stub):
    cfg, scene = dividing_stub
    assert scene.labels.shape == (3, 12, 48, 48) and scene.labels.dtype == np.int32
    _tracks_match(scene.labels, scene.tracks)
    _one_component_each(scene.labels)
    assert scene.record["labels_per_frame"][0] == 3  # the entering cell is not yet there
    assert scene.record["overlap_voxels"] == 0
    # the stub divides between t = 0 (frame 1) and t = 1 (frame 2): each mother that is in
    # view until frame 1 has two daughters from frame 2 on
    mothers = [t for t in scene.tracks if t["end"] == 1 and t["parent"] == 0]
    daughters = [t for t in scene.tracks if t["parent"]]
    assert mothers and all(d["begin"] == 2 for d in daughters)
    for m in mothers:
        assert sum(d["parent"] == m["label"] for d in daughters) <= 2
    assert any(sum(d["parent"] == m["label"] for d in daughters) == 2 for m in mothers)


def test_cells_keep_the_gap_and_the_record_says_how_they_were_made(dividing_stub):
    cfg, scene = dividing_stub
    sp = np.asarray(cfg.spacing)
    for t in range(cfg.frames):
        f = scene.labels[t]
        for lab in np.unique(f)[1:]:
            dist = ndimage.distance_transform_edt(f != lab, sampling=sp)
            other = (f > 0) & (f != lab)
            if other.any():  # voxel centres of two cells are >= gap apart (sisters too,
                assert dist[other].min() >= cfg.gap_um  # as the stub's are far apart)
    rec = scene.record
    default = inspect.signature(sample_codes).parameters["method"].default
    assert rec["sampler"]["method"] == default
    assert len(rec["cells"]) == 4 and rec["cells"][3]["entering"]
    codes, _ = sample_codes(Spheres().codes.detach().numpy(), 4, seed=cfg.seed)
    np.testing.assert_allclose([c["code"] for c in rec["cells"]], codes, rtol=1e-6)
    for c in rec["cells"]:
        r = np.asarray(c["rotation_matrix"])
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-5)
        assert len(c["centre_um"]) == cfg.frames
    assert list(rec["config"]["spacing"]) == [2.0, 1.0, 1.0]


def test_non_dividing_models_keep_one_label_per_cell():
    cfg = SceneConfig(cells=2, frames=2, shape=(12, 40, 40), spacing=(2.0, 1.0, 1.0),
                      seed=3, entering=0, footprint_size=16)
    scene = make_scene(Spheres(split=True), {**ATTRS, "cell_type": "growing"}, cfg)
    assert all(t["parent"] == 0 for t in scene.tracks)
    assert scene.record["labels_with_parent"] == 0
    _tracks_match(scene.labels, scene.tracks)
    _one_component_each(scene.labels)


def test_scene_tracks_split_a_label_with_a_gap():
    labels = np.zeros((4, 1, 1, 3), np.int32)
    labels[[0, 2], 0, 0, 0] = 5   # absent in frame 1
    labels[3, 0, 0, 2] = 7        # daughter of 5
    labels[1:, 0, 0, 1] = 9       # no parent, appears later
    new, tracks = scene_tracks(labels, {7: 5, 9: 0})
    assert tracks == [{"label": 1, "begin": 0, "end": 0, "parent": 0},
                      {"label": 2, "begin": 1, "end": 3, "parent": 0},
                      {"label": 3, "begin": 2, "end": 2, "parent": 1},
                      {"label": 4, "begin": 3, "end": 3, "parent": 3}]
    assert new[2, 0, 0, 0] == 3 and new[3, 0, 0, 2] == 4 and new[1, 0, 0, 1] == 2


def test_too_many_cells_is_a_clear_error():
    cfg = SceneConfig(cells=30, frames=1, shape=(8, 16, 16), spacing=(1.0, 1.0, 1.0),
                      footprint_size=12, tries=50)
    with pytest.raises(InputError, match="could place only"):
        make_scene(Spheres(), ATTRS, cfg)


@pytest.mark.parametrize("bad", [dict(gap_um=-1.0), dict(spacing=(0.0, 1.0, 1.0)),
                                 dict(shape=(4, 4)), dict(cells=0), dict(frames=1.5)])
def test_bad_settings(bad):
    kw = dict(cells=2, frames=2, shape=(8, 8, 8), spacing=(1.0, 1.0, 1.0))
    with pytest.raises(InputError):
        SceneConfig(**{**kw, **bad})


def test_noise_is_estimated_from_an_image_and_its_labels():
    """Known camera (gain 2, read noise 3, background 10): recovered from one simulated
    image of three spheres."""
    z, y, x = np.meshgrid(np.arange(24.0), np.arange(80) * 0.5, np.arange(80) * 0.5,
                          indexing="ij")
    lab = np.zeros(z.shape, np.int32)
    for i, c in enumerate([(12, 10, 10), (12, 28, 25), (10, 12, 30)]):
        lab[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 < 49] = i + 1
    true = MicroscopyConfig(gain=2.0, read_noise=3.0, background=10.0, signal=50.0)
    vols, _ = simulate(np.stack([lab, lab]), (1.0, 0.5, 0.5), true, seed=1)
    cfg, rep = estimate_microscope(vols, np.stack([lab, lab]), (1.0, 0.5, 0.5))
    assert cfg.gain == pytest.approx(2.0, rel=0.1)
    assert cfg.read_noise == pytest.approx(3.0, rel=0.2)
    assert cfg.background == pytest.approx(10.0, rel=0.1)
    assert cfg.signal == pytest.approx((rep["interior_mean"] - rep["background_mean"]) / 2.0,
                                       rel=0.1)
    assert cfg.psf_sigma_um == true.psf_sigma_um
    with pytest.raises(InputError):
        estimate_microscope(vols[0], lab[:5], (1.0, 0.5, 0.5))


def _validate_ctc(ctc, tmp_path):
    ctc_metrics = pytest.importorskip("ctc_metrics")
    from ctc_metrics.scripts.evaluate import evaluate_sequence
    from ctc_metrics.scripts.validate import validate_sequence

    res = tmp_path / "01_RES"
    res.mkdir()
    for f in sorted((ctc / "01_GT" / "TRA").glob("man_track[0-9]*.tif")):
        tifffile.imwrite(res / f.name.replace("man_track", "mask"), tifffile.imread(f))
    (res / "res_track.txt").write_text((ctc / "01_GT" / "TRA" / "man_track.txt").read_text())
    assert validate_sequence(str(res), threads=1)["Valid"] == 1, ctc_metrics.__file__
    scores = evaluate_sequence(str(res), str(ctc / "01_GT"), metrics=["SEG", "DET"],
                               threads=1)
    assert scores["SEG"] == pytest.approx(1.0) and scores["DET"] == pytest.approx(1.0)


def test_ctc_export_of_a_scene_is_valid(dividing_stub, tmp_path):
    """py-ctcmetrics validates the export (validity 1) and scores it 1 against itself."""
    cfg, scene = dividing_stub
    micro = MicroscopyConfig(psf_sigma_um=(2.0, 0.5, 0.5), background=5.0, read_noise=1.5)
    images = scene_images(scene, micro, seed=0)
    assert images.shape == scene.labels.shape
    out = write_scene(scene, tmp_path / "s", images=images, ctc=True)
    assert (out / "ctc" / "01" / "t000.tif").is_file()
    seg = tifffile.imread(out / "ctc" / "01_GT" / "SEG" / "man_seg002.tif")
    np.testing.assert_array_equal(seg, scene.labels[2])
    _validate_ctc(out / "ctc", tmp_path)
    with pytest.raises(InputError):
        write_scene(scene, tmp_path / "t", ctc=True)


@pytest.mark.parametrize("args", [["--gap", "-1"], ["--spacing", "0", "1", "1"],
                                  ["--shape", "0", "8", "8"]])
def test_cli_bad_input_is_one_line_exit_2(args, tmp_path, capsys):
    base = {"--shape": ["8", "8", "8"], "--spacing": ["1", "1", "1"]}
    argv = ["scene", "growing_study", "--out", str(tmp_path / "o"), "-q"]
    for k, v in base.items():
        if k not in args:
            argv += [k, *v]
    try:
        rc = main(argv + args)
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and not (tmp_path / "o").exists()
    assert err.count("\n") == 1 and "error" in err


def test_cli_unknown_model(tmp_path, capsys):
    rc = main(["scene", "no_such_model", "--shape", "8", "8", "8", "--spacing", "1", "1", "1",
               "--out", str(tmp_path / "o"), "-q"])
    assert rc == 2 and "no_such_model" in capsys.readouterr().err


# ------------------------------------------------------------------ must show (shipped)
MUST = ["--cells", "6", "--frames", "5", "--shape", "32", "96", "96", "--spacing", "1.0",
        "0.5", "0.5", "-q"]


@pytest.fixture(scope="module")
def shipped_scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scene")
    rcs = {name: main(["scene", name, "--out", str(root / name), *MUST]
                      + (["--ctc"] if name == "dividing_study" else []))
           for name in ("growing_study", "dividing_study")}
    return root, rcs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["growing_study", "dividing_study"])
def test_must_show_shipped_model_scene(shipped_scenes, name):
    root, rcs = shipped_scenes
    assert rcs[name] == 0
    labels, info = read_masks(root / name / "labels.tif")
    assert labels.shape == (5, 32, 96, 96) and np.issubdtype(labels.dtype, np.integer)
    assert info["spacing_um"] == pytest.approx((1.0, 0.5, 0.5))
    rec = json.loads((root / name / "scene.json").read_text())
    assert rec["spacing_um"] == [1.0, 0.5, 0.5]
    assert len(np.unique(labels[0])) - 1 >= 5
    _one_component_each(labels)
    rows = [tuple(map(int, ln.split())) for ln in
            (root / name / "man_track.txt").read_text().splitlines()]
    _tracks_match(labels, [dict(zip(("label", "begin", "end", "parent"), r)) for r in rows])
    if name == "dividing_study":
        assert any(r[3] > 0 for r in rows)


@pytest.mark.slow
def test_must_show_ctc_export_of_the_dividing_scene_is_valid(shipped_scenes, tmp_path):
    root, rcs = shipped_scenes
    assert rcs["dividing_study"] == 0
    _validate_ctc(root / "dividing_study" / "ctc", tmp_path)
