"""Each notebook's sizes per profile, next to the profiles: one place to read and change.

A preset holds what a notebook runs beyond its profile's defaults (data sizes, epochs,
the arms it compares); ``None`` means "the profile's value"
(:data:`~cellshapes.config.PROFILES`). The notebook gets its preset from
:func:`cellshapes.repro.workflow.setup` (``nb.settings``) and prints it. Why a study size
was chosen (time budget, convergence) is said in the notebook's Settings cell.
"""
from __future__ import annotations

import copy
from typing import Any

from cellshapes.errors import InputError

__all__ = ["BASE_RUNS", "GPU_NOTEBOOKS", "NOTEBOOK_PRESETS", "base_settings", "base_stop_rule",
           "notebook_preset"]

_SMALL_DECODER = dict(hidden=64, layers=5, latent_layers=(0, 3))
#: Notebook 04's equivariant models start at each sequence's principal axes: with the
#: paper's random init the rotations were not learned at these scales (README deviations,
#: ``benchmarks/rotation_init.py``); the non-equivariant arm has no rotations to start.
_ALIGNED = dict(angle_init="principal")
#: Notebook 04 (issue 33): before the first step the principal start of every sequence is
#: turned by the proper sign flip that makes the sequences' first frames agree best
#: (``rotation_search=[0]``, :func:`cellshapes.training.rotation_search.align_start`).
_FLIP_SEARCH = dict(rotation_search=[0], rotation_candidates="flips")

#: The shared base model of a kind (``workflow.base_run``: notebooks 00, 02, 03, 05, 11 and
#: the shipped pretrained models) per profile, where it differs from the profile's defaults.
#: ``study``: 4 sequences x 5 frames and 400 epochs with the plateau rule, chosen from the
#: measured convergence curve (``benchmarks/convergence_seed0.log``).
#: ``gpu``: the same at 128^3 (the profile's grid, decoder and points).
BASE_RUNS: dict[str, dict[str, Any]] = {
    "study": dict(sequences=4, frames=5,
                  train=dict(epochs=400, plateau_epochs=50, plateau_tol=0.01)),
    "gpu": dict(sequences=4, frames=5,
                train=dict(epochs=400, plateau_epochs=50, plateau_tol=0.01)),
}

#: Notebooks sized for the ``gpu`` profile (a few minutes each on one H100, estimated:
#: ``benchmarks/gpu_profile_estimate.py``); the others refuse it (no preset).
GPU_NOTEBOOKS = ("02_reconstruction", "06_temporal_interpolation", "07_spatial_interpolation",
                 "09_deepsdf_comparison")

#: Notebook name -> profile -> settings. Notebooks without an entry use only the profile.
NOTEBOOK_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "11_image_synthesis": {
        "smoke": dict(size=32, frames=4, train=2, held=1, generated=1),
        "quick": dict(size=48, frames=8, train=6, held=2, generated=2),
        "study": dict(size=48, frames=8, train=6, held=3, generated=2),
        "paper": dict(size=64, frames=30, train=24, held=9, generated=33),
    },
    # 13: one field of view (Z, Y, X) at spacing (2, 1, 1) um; reference scenes of
    # procedural dividing cells for training (ref_train) and scoring (held), synthetic
    # scenes of the shipped dividing model; U-Net steps. study: 9 U-Nets x 120 steps at
    # ~1-2 s per step on a loaded 2-core CPU (<= 45 min with the scenes).
    "13_segmentation_benefit": {
        "smoke": dict(shape=(16, 48, 48), frames=2, cells=4, ref_train=1, held=1,
                      synthetic=2, steps=10),
        "quick": dict(shape=(16, 48, 48), frames=3, cells=4, ref_train=2, held=2,
                      synthetic=6, steps=100),
        "study": dict(shape=(16, 48, 48), frames=3, cells=4, ref_train=2, held=3,
                      synthetic=8, steps=120),
        "paper": dict(shape=(32, 96, 96), frames=5, cells=8, ref_train=4, held=4,
                      synthetic=24, steps=1000),
    },
    "12_explorer": {
        "smoke": dict(size=24, components=2, times=[-1.0, 1.0], values=[-2.0, 2.0],
                      timed_updates=2),
        "quick": dict(size=32, components=3, times=[-1.0, 0.0, 1.0], values=[-2.0, 0.0, 2.0],
                      timed_updates=5),
        "study": dict(size=32, components=3, times=[-1.0, 0.0, 1.0], values=[-2.0, 0.0, 2.0],
                      timed_updates=10),
        "paper": dict(size=48, components=4, times=[-1.0, -0.5, 0.0, 0.5, 1.0],
                      values=[-2.0, 0.0, 2.0], timed_updates=10),
    },
    "02_reconstruction": {
        "smoke": dict(sequences=None, frames=None),
        "quick": dict(sequences=None, frames=None),
        "study": BASE_RUNS["study"],
        "gpu": BASE_RUNS["gpu"],
        "paper": dict(sequences=None, frames=None),
    },
    "03_synthesis": {
        "smoke": dict(kinds=None, n_new=3, size=24, reference=3),
        "quick": dict(kinds=None, n_new=8, size=48, reference=8),
        # the shipped study models, 3 sampling seeds (notebook 03's Settings cell)
        "study": dict(kinds=["growing", "dividing", "filopodial"], n_new=10, size=48,
                      reference=12, shipped=True),
        "paper": dict(kinds=["growing", "dividing", "filopodial"], n_new=33, size=256,
                      reference=33),
    },
    "04_latent_compactness": {
        "smoke": dict(sequences=2, copies=2, frames=3, size=16, latent_sizes=[4, 16], main=16,
                      model=_ALIGNED, fit_steps=20, fit_restarts=2, fit_points=256,
                      train=dict(epochs=5, frames_per_batch=4, points_per_frame=1024,
                                 **_FLIP_SEARCH)),
        "quick": dict(sequences=6, copies=4, frames=5, size=32, latent_sizes=[4, 64], main=64,
                      model={**_SMALL_DECODER, **_ALIGNED},
                      fit_steps=100, fit_restarts=8, fit_points=512,
                      train=dict(epochs=60, frames_per_batch=20, points_per_frame=1024,
                                 **_FLIP_SEARCH)),
        "study": dict(sequences=16, copies=4, frames=2, size=32, latent_sizes=[4, 64], main=64,
                      model={**_SMALL_DECODER, **_ALIGNED},
                      fit_steps=100, fit_restarts=8, fit_points=512,
                      train=dict(epochs=40, frames_per_batch=20, points_per_frame=256,
                                 amp=False, **_FLIP_SEARCH)),
        "paper": dict(sequences=25, copies=4, frames=30, size=256,
                      latent_sizes=[4, 8, 16, 32, 64, 128], main=64, model={},
                      fit_steps=300, fit_restarts=16, fit_points=2048,
                      train=dict(frames_per_batch=20, points_per_frame=250_000)),
    },
    "05_latent_exploration": {
        "smoke": dict(steps=2, paths=1, grid=3),
        "quick": dict(steps=4, paths=3, grid=4),
        "study": dict(steps=6, paths=6, grid=5),
        "paper": dict(steps=8, paths=6, grid=7),
    },
    "06_temporal_interpolation": {
        "smoke": dict(sequences=2, frames=5, size=24, epochs=60, fine_frames=9),
        "quick": dict(sequences=4, frames=13, size=48, epochs=80, fine_frames=25),
        "study": dict(sequences=4, frames=13, size=64, epochs=150, fine_frames=25),
        "gpu": dict(sequences=4, frames=13, size=128, epochs=150, fine_frames=25),
        "paper": dict(sequences=33, frames=29, size=256, epochs=2000, fine_frames=57),
    },
    "07_spatial_interpolation": {
        "smoke": dict(sequences=2, frames=4, train_grids=[16, 24], recon_grids=[12, 16, 24, 32],
                      epochs={16: 20, 24: 40}),
        "quick": dict(sequences=4, frames=4, train_grids=[24, 32, 48],
                      recon_grids=[24, 32, 48, 64, 96], epochs=80),
        "study": dict(sequences=4, frames=4, train_grids=[32, 48, 64],
                      recon_grids=[16, 24, 32, 48, 64, 96], epochs={32: 50, 48: 100, 64: 200}),
        "gpu": dict(sequences=4, frames=4, train_grids=[64, 96, 128],
                    recon_grids=[32, 48, 64, 96, 128], epochs={64: 50, 96: 100, 128: 200}),
        "paper": dict(sequences=33, frames=30, train_grids=[192, 256, 384],
                      recon_grids=[64, 128, 192, 256, 384],
                      epochs={192: 1000, 256: 2000, 384: 4000}),
    },
    "08_omega_sweep": {
        "smoke": dict(sequences=2, frames=4, size=24, epochs=20, converge=False,
                      omegas=[1, 10, 20, 30, 40, 60]),
        "quick": dict(sequences=4, frames=4, size=48, epochs=80, converge=False,
                      omegas=[1, 10, 30, 60]),
        "study": dict(sequences=2, frames=2, size=48, epochs=300, converge=True,
                      omegas=[1, 10, 20, 30, 40, 60], train=dict(points_per_frame=2048)),
        "paper": dict(sequences=33, frames=30, size=256, epochs=2000, converge=True,
                      omegas=[1, 5, 10, 20, 30, 40, 50, 60, 70]),
    },
    "09_deepsdf_comparison": {
        "smoke": dict(sequences=2, frames=4, size=24, epochs=20, eval_every=5,
                      deepsdf=dict(hidden=64, layers=4, latent_dim=16, latent_layers=[0, 2])),
        "quick": dict(sequences=4, frames=4, size=48, epochs=80, eval_every=10,
                      deepsdf=dict(hidden=128, latent_dim=64)),
        "study": dict(sequences=2, frames=2, size=48, epochs=240, eval_every=24,
                      deepsdf=dict(hidden=128, latent_dim=64)),
        # the paper's DeepSDF (8 x 512, latent 256), which the study could not afford
        "gpu": dict(sequences=4, frames=6, size=128, epochs=400, eval_every=40,
                    deepsdf=dict()),
        "paper": dict(sequences=33, frames=30, size=256, epochs=2000, eval_every=100,
                      deepsdf=dict()),
    },
    "10_classification": {
        "smoke": dict(sequences=None, frames=None, keep_frames=None, size=None, rotate=True,
                      full_every=2, model=_ALIGNED, train=dict(epochs=6)),
        "quick": dict(sequences=None, frames=None, keep_frames=None, size=None, rotate=True,
                      full_every=None, model={**_SMALL_DECODER, **_ALIGNED},
                      train=dict(epochs=100, frames_per_batch=20, points_per_frame=1024,
                                 frames_every=2)),
        "study": dict(sequences=12, frames=16, keep_frames=2, size=48, rotate=True,
                      full_every=15, model={**_SMALL_DECODER, **_ALIGNED, "latent_dim": 32},
                      train=dict(epochs=300, plateau_epochs=30, plateau_tol=0.01,
                                 frames_per_batch=24, points_per_frame=1024)),
        "paper": dict(sequences=None, frames=None, keep_frames=None, size=None, rotate=True,
                      full_every=None, model=_ALIGNED, train={}),
    },
}


def notebook_preset(notebook: str, profile: str) -> dict[str, Any]:
    """A copy of the preset of ``notebook`` (``"02_reconstruction"``) at ``profile``.

    Returns
    -------
    dict
        Empty for a notebook without presets (it runs at its profile's defaults).

    Raises
    ------
    InputError
        The notebook has presets, but none for ``profile``.
    """
    presets = NOTEBOOK_PRESETS.get(notebook)
    if presets is None:
        return {}
    if profile not in presets:
        raise InputError(f"notebook {notebook} has no {profile!r} preset; choose one of "
                         f"{sorted(presets)} (cellshapes.config.presets)")
    return copy.deepcopy(presets[profile])


def base_settings(profile: str) -> dict[str, Any]:
    """A copy of the base-model settings at ``profile`` (:data:`BASE_RUNS`).

    Returns
    -------
    dict
        ``sequences`` and ``frames`` (None: the profile's) and ``train`` (TrainConfig
        overrides, possibly empty).
    """
    out = dict(sequences=None, frames=None, train={})
    out.update(copy.deepcopy(BASE_RUNS.get(profile, {})))
    return out


def base_stop_rule(profile: str) -> dict[str, Any]:
    """The loss-plateau settings of the base models at ``profile`` (``plateau_*``
    TrainConfig overrides of :data:`BASE_RUNS`; empty where they train a fixed count)."""
    return {k: v for k, v in base_settings(profile)["train"].items() if k.startswith("plateau")}
