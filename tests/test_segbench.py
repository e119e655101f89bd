"""Notebook 13's pieces: reference scenes, targets, baseline, U-Net, CTC scores."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.repro import segbench

SP = (2.0, 1.0, 1.0)


def _two_spheres(shape=(16, 32, 32), touching=False):
    z, y, x = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, SP)], indexing="ij")
    lab = np.zeros(shape, np.int32)
    cx = 19.0 if touching else 23.0
    for i, c in enumerate([(16, 16, 10), (16, 16, cx)]):
        lab[((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 < 25) & (lab == 0)] = i + 1
    return lab


def test_phantom_scene_instances_do_not_overlap_and_are_connected():
    from scipy import ndimage

    lab = segbench.phantom_scene("dividing", 3, 2, (16, 48, 48), SP, seed=3)
    assert lab.shape == (2, 16, 48, 48) and len(np.unique(lab[0])) - 1 >= 3
    for f in lab:
        for k in np.unique(f)[1:]:
            assert ndimage.label(f == k, np.ones((3, 3, 3)))[1] == 1
    with pytest.raises(InputError):
        segbench.phantom_scene("dividing", 40, 1, (8, 16, 16), SP, seed=0, tries=5)


def test_phantom_scene_touch_puts_cells_in_contact_without_overlap():
    apart = segbench.phantom_scene("dividing", 4, 1, (16, 48, 48), SP, seed=1000)
    touching = segbench.phantom_scene("dividing", 4, 1, (16, 48, 48), SP, seed=1000,
                                      touch=True)
    assert segbench.touching_pairs(touching) > segbench.touching_pairs(apart)
    # the same cells, moved: none lost to an overlap (one label each)
    assert len(np.unique(touching)) == len(np.unique(apart)) == 5


def test_targets_mark_boundaries_between_touching_cells():
    lab = _two_spheres(touching=True)
    t = segbench.targets(lab)
    assert set(np.unique(t)) == {0, 1, 2}
    assert (t[lab == 0] == 0).all()
    touch = (lab[..., :-1] == 1) & (lab[..., 1:] == 2)
    assert touch.any() and (t[..., :-1][touch] == 2).all() and (t[..., 1:][touch] == 2).all()


def test_ctc_scores_are_one_for_the_truth_and_lower_for_a_merge():
    pytest.importorskip("ctc_metrics")
    lab = _two_spheres(touching=True)
    assert segbench.ctc_scores([lab], [lab]) == {"SEG": pytest.approx(1.0),
                                                 "DET": pytest.approx(1.0)}
    merged = segbench.ctc_scores([lab, lab], [(lab > 0).astype(np.int32)] * 2)
    assert merged["SEG"] == pytest.approx(0.5, abs=0.02) and merged["DET"] < 1.0


def test_classical_baseline_finds_two_separate_cells():
    from cellshapes.synthesis.microscopy import MicroscopyConfig, simulate

    lab = _two_spheres()
    img, _ = simulate(lab, SP, MicroscopyConfig(psf_sigma_um=(1.0, 0.4, 0.4)), seed=0)
    pred = segbench.classical_instances(img[0], SP)
    assert len(np.unique(pred)) - 1 == 2


def test_unet_trains_and_predicts_instances():
    pytest.importorskip("monai")
    lab = _two_spheres()
    img = (lab > 0) * 50.0 + np.random.default_rng(0).normal(5, 1, lab.shape)
    net = segbench.train_unet([img], [lab], steps=2, seed=0, channels=(4, 8))
    pred = segbench.unet_instances(net, img)
    assert pred.shape == lab.shape and pred.dtype == np.int32
    with pytest.raises(InputError):
        segbench.train_unet([img], [], steps=1, seed=0)
