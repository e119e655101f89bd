"""Each notebook's sizes per profile: one typed, frozen preset class per notebook.

A preset holds what a notebook runs beyond its profile's defaults (data sizes, epochs,
the arms it compares); ``None`` means "the profile's value"
(:data:`cellshapes.config.PROFILES`). The notebook gets its preset from
:func:`cellshapes.repro.workflow.setup` (``nb.settings``) and prints it. Why a study size
was chosen (time budget, convergence) is said in the notebook's Settings cell. ``epochs``
is an int (a count of epochs) wherever it appears; counts per training grid are
``grid_epochs``. ``model`` and ``train`` fields are ModelConfig and TrainConfig overrides.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

from cellshapes.errors import InputError

__all__ = ["BaseRun", "BASE_RUNS", "GPU_NOTEBOOKS", "NOTEBOOK_PRESETS", "base_settings",
           "base_stop_rule", "notebook_preset", "Synthesis", "LatentCompactness",
           "LatentExploration", "TemporalInterpolation", "SpatialInterpolation", "OmegaSweep",
           "DeepSDFComparison", "Classification", "ImageSynthesis", "Explorer", "Segmentation"]

Overrides = Mapping[str, Any]


@dataclass(frozen=True)
class BaseRun:
    """The shared base model of a kind (``workflow.base_run``; notebooks 00, 02, 03, 05, 11
    and the shipped pretrained models), and notebook 02's sizes."""

    sequences: int | None = None  #: phantom sequences (None: the profile's)
    frames: int | None = None  #: frames per sequence (None: the profile's)
    train: Overrides = field(default_factory=dict)  #: TrainConfig overrides

    def stop_rule(self) -> dict[str, Any]:
        """The ``plateau_*`` overrides (empty where the base models train a fixed count)."""
        return {k: v for k, v in self.train.items() if k.startswith("plateau")}


@dataclass(frozen=True)
class Synthesis:
    """03: new shapes from the base models, compared with real sequences."""

    n_new: int  #: synthesized sequences per kind, sampler and seed
    size: int  #: grid edge (voxels) of the synthesized and reference shapes
    reference: int  #: real (phantom) sequences per kind to compare with
    kinds: tuple[str, ...] | None = None  #: cell kinds (None: the notebook's default kind)
    shipped: bool = False  #: use the shipped pretrained models


@dataclass(frozen=True)
class LatentCompactness:
    """04: equivariant vs non-equivariant models of rotated copies, per latent size."""

    sequences: int  #: distinct cells
    copies: int  #: random rotations of each
    frames: int
    size: int
    latent_sizes: tuple[int, ...]  #: latent dimensions compared (Tab 2)
    main: int  #: the latent size of the PCA, t-SNE and controls
    fit_steps: int  #: steps of fitting codes to held-out shapes
    fit_restarts: int
    fit_points: int
    model: Overrides = field(default_factory=dict)
    train: Overrides = field(default_factory=dict)


@dataclass(frozen=True)
class LatentExploration:
    """05: walks through latent space."""

    steps: int  #: interpolation steps between two codes
    paths: int  #: code pairs walked
    grid: int  #: grid points per axis of the latent-space map


@dataclass(frozen=True)
class TemporalInterpolation:
    """06: train on every 4th frame, score the frames between."""

    sequences: int
    frames: int
    size: int
    epochs: int
    fine_frames: int  #: frames of the higher-frame-rate reconstruction


@dataclass(frozen=True)
class SpatialInterpolation:
    """07: train at several grids, reconstruct at others."""

    sequences: int
    frames: int
    train_grids: tuple[int, ...]
    recon_grids: tuple[int, ...]
    grid_epochs: Mapping[int, int]  #: training grid -> epochs

    def epochs_at(self, grid: int) -> int:
        """Epochs of the model trained at ``grid``."""
        return int(self.grid_epochs[grid])


@dataclass(frozen=True)
class OmegaSweep:
    """08: one model per w0."""

    sequences: int
    frames: int
    size: int
    epochs: int  #: epochs, or the cap of the plateau rule when ``converge``
    converge: bool  #: stop on the base models' plateau rule
    omegas: tuple[float, ...]
    train: Overrides = field(default_factory=dict)


@dataclass(frozen=True)
class DeepSDFComparison:
    """09: sine decoder vs DeepSDF at equal epochs."""

    sequences: int
    frames: int
    size: int
    epochs: int  #: both arms, no early stop
    eval_every: int  #: a kept checkpoint and a DSC every so many epochs
    deepsdf: Overrides = field(default_factory=dict)  #: ModelConfig overrides of the DeepSDF arm


@dataclass(frozen=True)
class Classification:
    """10: codes of three cell kinds, equivariant vs not."""

    rotate: bool = True  #: randomly rotated copies
    sequences: int | None = None
    frames: int | None = None
    keep_frames: int | None = None  #: train on the first frames only (None: all)
    size: int | None = None
    full_every: int | None = None  #: also a model of the full sequences, every n-th frame
    model: Overrides = field(default_factory=dict)
    train: Overrides = field(default_factory=dict)


@dataclass(frozen=True)
class ImageSynthesis:
    """11: texture model trained on simulated images of phantoms."""

    size: int
    frames: int
    train_sequences: int  #: phantom sequences the texture model learns
    held: int  #: held-out sequences
    generated: int  #: synthesized sequences


@dataclass(frozen=True)
class Explorer:
    """12: the interactive explorer, timed."""

    size: int
    components: int  #: principal components with sliders
    times: tuple[float, ...]
    values: tuple[float, ...]
    timed_updates: int


@dataclass(frozen=True)
class Segmentation:
    """13: one field of view (Z, Y, X) at spacing (2, 1, 1) um; reference scenes of
    procedural dividing cells for training (ref_train) and scoring (held), synthetic
    scenes of the shipped dividing model; U-Net steps."""

    shape: tuple[int, int, int]
    frames: int
    cells: int
    ref_train: int
    held: int
    synthetic: int
    steps: int


_SMALL_DECODER = dict(hidden=64, layers=5, latent_layers=(0, 3))
#: Notebook 04's equivariant models start at each sequence's principal axes: with the
#: paper's random init the rotations were not learned at these scales (docs/deviations.md,
#: ``benchmarks/rotation_init.py``); the non-equivariant arm has no rotations to start.
_ALIGNED = dict(angle_init="principal")
#: Notebook 04 (issue 33): before the first step the principal start of every sequence is
#: turned by the proper sign flip that makes the sequences' first frames agree best.
_FLIP_SEARCH = dict(rotation_search=[0], rotation_candidates="flips")
#: ``study``: 4 sequences x 5 frames and 400 epochs with the plateau rule, chosen from the
#: measured convergence curve (``benchmarks/convergence_seed0.log``); ``gpu``: the same at
#: 128^3 (the profile's grid, decoder and points).
_PLATEAU = dict(epochs=400, plateau_epochs=50, plateau_tol=0.01)

#: The shared base model per profile, where it differs from the profile's defaults.
BASE_RUNS: dict[str, BaseRun] = {
    "study": BaseRun(sequences=4, frames=5, train=_PLATEAU),
    "gpu": BaseRun(sequences=4, frames=5, train=_PLATEAU),
}

#: Notebooks sized for the ``gpu`` profile (a few minutes each on one H100, estimated:
#: ``benchmarks/gpu_profile_estimate.py``); the others refuse it (no preset).
GPU_NOTEBOOKS = ("02_reconstruction", "06_temporal_interpolation", "07_spatial_interpolation",
                 "09_deepsdf_comparison")

_LAT = dict(fit_steps=100, fit_restarts=8, fit_points=512)
_EXPLORE = dict(size=32, components=3, times=(-1.0, 0.0, 1.0), values=(-2.0, 0.0, 2.0))

#: Notebook name -> profile -> preset. Notebooks without an entry use only the profile.
NOTEBOOK_PRESETS: dict[str, dict[str, Any]] = {
    "02_reconstruction": {"smoke": BaseRun(), "quick": BaseRun(), "study": BASE_RUNS["study"],
                          "gpu": BASE_RUNS["gpu"], "paper": BaseRun()},
    "03_synthesis": {
        "smoke": Synthesis(n_new=3, size=24, reference=3),
        "quick": Synthesis(n_new=8, size=48, reference=8),
        # the shipped study models, 3 sampling seeds (notebook 03's Settings cell)
        "study": Synthesis(n_new=10, size=48, reference=12, shipped=True,
                           kinds=("growing", "dividing", "filopodial")),
        "paper": Synthesis(n_new=33, size=256, reference=33,
                           kinds=("growing", "dividing", "filopodial")),
    },
    "04_latent_compactness": {
        "smoke": LatentCompactness(
            sequences=2, copies=2, frames=3, size=16, latent_sizes=(4, 16), main=16,
            model=_ALIGNED, fit_steps=20, fit_restarts=2, fit_points=256,
            train=dict(epochs=5, frames_per_batch=4, points_per_frame=1024, **_FLIP_SEARCH)),
        "quick": LatentCompactness(
            sequences=6, copies=4, frames=5, size=32, latent_sizes=(4, 64), main=64,
            model={**_SMALL_DECODER, **_ALIGNED}, **_LAT,
            train=dict(epochs=60, frames_per_batch=20, points_per_frame=1024, **_FLIP_SEARCH)),
        "study": LatentCompactness(
            sequences=16, copies=4, frames=2, size=32, latent_sizes=(4, 64), main=64,
            model={**_SMALL_DECODER, **_ALIGNED}, **_LAT,
            train=dict(epochs=40, frames_per_batch=20, points_per_frame=256, amp=False,
                       **_FLIP_SEARCH)),
        "paper": LatentCompactness(
            sequences=25, copies=4, frames=30, size=256, latent_sizes=(4, 8, 16, 32, 64, 128),
            main=64, fit_steps=300, fit_restarts=16, fit_points=2048,
            train=dict(frames_per_batch=20, points_per_frame=250_000)),
    },
    "05_latent_exploration": {
        "smoke": LatentExploration(steps=2, paths=1, grid=3),
        "quick": LatentExploration(steps=4, paths=3, grid=4),
        "study": LatentExploration(steps=6, paths=6, grid=5),
        "paper": LatentExploration(steps=8, paths=6, grid=7),
    },
    "06_temporal_interpolation": {
        "smoke": TemporalInterpolation(sequences=2, frames=5, size=24, epochs=60, fine_frames=9),
        "quick": TemporalInterpolation(sequences=4, frames=13, size=48, epochs=80,
                                       fine_frames=25),
        "study": TemporalInterpolation(sequences=4, frames=13, size=64, epochs=150,
                                       fine_frames=25),
        "gpu": TemporalInterpolation(sequences=4, frames=13, size=128, epochs=150,
                                     fine_frames=25),
        "paper": TemporalInterpolation(sequences=33, frames=29, size=256, epochs=2000,
                                       fine_frames=57),
    },
    "07_spatial_interpolation": {
        "smoke": SpatialInterpolation(sequences=2, frames=4, train_grids=(16, 24),
                                      recon_grids=(12, 16, 24, 32), grid_epochs={16: 20, 24: 40}),
        "quick": SpatialInterpolation(sequences=4, frames=4, train_grids=(24, 32, 48),
                                      recon_grids=(24, 32, 48, 64, 96),
                                      grid_epochs={24: 80, 32: 80, 48: 80}),
        "study": SpatialInterpolation(sequences=4, frames=4, train_grids=(32, 48, 64),
                                      recon_grids=(16, 24, 32, 48, 64, 96),
                                      grid_epochs={32: 50, 48: 100, 64: 200}),
        "gpu": SpatialInterpolation(sequences=4, frames=4, train_grids=(64, 96, 128),
                                    recon_grids=(32, 48, 64, 96, 128),
                                    grid_epochs={64: 50, 96: 100, 128: 200}),
        "paper": SpatialInterpolation(sequences=33, frames=30, train_grids=(192, 256, 384),
                                      recon_grids=(64, 128, 192, 256, 384),
                                      grid_epochs={192: 1000, 256: 2000, 384: 4000}),
    },
    "08_omega_sweep": {
        "smoke": OmegaSweep(sequences=2, frames=4, size=24, epochs=20, converge=False,
                            omegas=(1, 10, 20, 30, 40, 60)),
        "quick": OmegaSweep(sequences=4, frames=4, size=48, epochs=80, converge=False,
                            omegas=(1, 10, 30, 60)),
        "study": OmegaSweep(sequences=2, frames=2, size=48, epochs=300, converge=True,
                            omegas=(1, 10, 20, 30, 40, 60), train=dict(points_per_frame=2048)),
        "paper": OmegaSweep(sequences=33, frames=30, size=256, epochs=2000, converge=True,
                            omegas=(1, 5, 10, 20, 30, 40, 50, 60, 70)),
    },
    "09_deepsdf_comparison": {
        "smoke": DeepSDFComparison(sequences=2, frames=4, size=24, epochs=20, eval_every=5,
                                   deepsdf=dict(hidden=64, layers=4, latent_dim=16,
                                                latent_layers=[0, 2])),
        "quick": DeepSDFComparison(sequences=4, frames=4, size=48, epochs=80, eval_every=10,
                                   deepsdf=dict(hidden=128, latent_dim=64)),
        "study": DeepSDFComparison(sequences=2, frames=2, size=48, epochs=240, eval_every=24,
                                   deepsdf=dict(hidden=128, latent_dim=64)),
        # the paper's DeepSDF (8 x 512, latent 256), which the study could not afford
        "gpu": DeepSDFComparison(sequences=4, frames=6, size=128, epochs=400, eval_every=40),
        "paper": DeepSDFComparison(sequences=33, frames=30, size=256, epochs=2000,
                                   eval_every=100),
    },
    "10_classification": {
        "smoke": Classification(full_every=2, model=_ALIGNED, train=dict(epochs=6)),
        "quick": Classification(model={**_SMALL_DECODER, **_ALIGNED},
                                train=dict(epochs=100, frames_per_batch=20,
                                           points_per_frame=1024, frames_every=2)),
        "study": Classification(sequences=12, frames=16, keep_frames=2, size=48, full_every=15,
                                model={**_SMALL_DECODER, **_ALIGNED, "latent_dim": 32},
                                train=dict(epochs=300, plateau_epochs=30, plateau_tol=0.01,
                                           frames_per_batch=24, points_per_frame=1024)),
        "paper": Classification(model=_ALIGNED),
    },
    "11_image_synthesis": {
        "smoke": ImageSynthesis(size=32, frames=4, train_sequences=2, held=1, generated=1),
        "quick": ImageSynthesis(size=48, frames=8, train_sequences=6, held=2, generated=2),
        "study": ImageSynthesis(size=48, frames=8, train_sequences=6, held=3, generated=2),
        "paper": ImageSynthesis(size=64, frames=30, train_sequences=24, held=9, generated=33),
    },
    "12_explorer": {
        "smoke": Explorer(size=24, components=2, times=(-1.0, 1.0), values=(-2.0, 2.0),
                          timed_updates=2),
        "quick": Explorer(**_EXPLORE, timed_updates=5),
        "study": Explorer(**_EXPLORE, timed_updates=10),
        "paper": Explorer(size=48, components=4, times=(-1.0, -0.5, 0.0, 0.5, 1.0),
                          values=(-2.0, 0.0, 2.0), timed_updates=10),
    },
    # study: 9 U-Nets x 120 steps on a 2-core CPU within the study budget, scenes included
    "13_segmentation_benefit": {
        "smoke": Segmentation(shape=(16, 48, 48), frames=2, cells=4, ref_train=1, held=1,
                              synthetic=2, steps=10),
        "quick": Segmentation(shape=(16, 48, 48), frames=3, cells=4, ref_train=2, held=2,
                              synthetic=6, steps=100),
        "study": Segmentation(shape=(16, 48, 48), frames=3, cells=4, ref_train=2, held=3,
                              synthetic=8, steps=120),
        "paper": Segmentation(shape=(32, 96, 96), frames=5, cells=8, ref_train=4, held=4,
                              synthetic=24, steps=1000),
    },
}


def notebook_preset(notebook: str, profile: str) -> Any:
    """A copy of the preset of ``notebook`` (``"02_reconstruction"``) at ``profile``.

    Returns
    -------
    preset dataclass or None
        None for a notebook without presets (it runs at its profile's defaults).

    Raises
    ------
    InputError
        The notebook has presets, but none for ``profile``.
    """
    presets = NOTEBOOK_PRESETS.get(notebook)
    if presets is None:
        return None
    if profile not in presets:
        raise InputError(f"notebook {notebook} has no {profile!r} preset; choose one of "
                         f"{sorted(presets)} (cellshapes.repro.presets)")
    return copy.deepcopy(presets[profile])


def base_settings(profile: str) -> BaseRun:
    """The base-model settings at ``profile`` (:data:`BASE_RUNS`; the profile's sizes and
    training where there is no entry)."""
    return copy.deepcopy(BASE_RUNS.get(profile, BaseRun()))


def base_stop_rule(profile: str) -> dict[str, Any]:
    """The loss-plateau settings of the base models at ``profile`` (``plateau_*``
    TrainConfig overrides of :data:`BASE_RUNS`; empty where they train a fixed count)."""
    return base_settings(profile).stop_rule()
