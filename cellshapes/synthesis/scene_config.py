"""Settings and result of a synthetic multi-cell scene (:mod:`cellshapes.synthesis.scene`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cellshapes.errors import InputError

__all__ = ["SceneConfig", "Scene"]


@dataclass(frozen=True)
class SceneConfig:
    """Settings of a synthetic multi-cell scene.

    Attributes
    ----------
    cells : int
        Cells visible in the first frame (>= 1).
    frames : int
        Frames T (>= 1); the cells' time runs over the model's [-1, 1].
    shape : (3,) ints
        Field of view (Z, Y, X) in voxels.
    spacing : (3,) floats
        Voxel size (dz, dy, dx) in um.
    gap_um : float
        Minimum surface-to-surface distance (um) between two cells: every pair of voxel
        centres of two different cells is at least ``gap_um`` apart at the scene's
        spacing (the distance ``scipy.ndimage.distance_transform_edt(..., sampling=
        spacing)`` measures). 0 allows touching: cells may share voxel faces (labels stay
        distinct). Daughters of one cell are not kept apart (they come from one SDF).
    seed : int
        Seed of codes, rotations, placement and drift.
    drift_um : float
        Drift speed of the cells in um per frame (random 3D direction per cell).
    entering : int
        Extra cells that start outside the field of view and drift into it (0 for T = 1).
    min_visible : float
        Share of a cell's footprint inside the field of view that counts as visible.
    island_fraction : float
        Components below this fraction of a cell's largest are islands, not daughters.
    contact_share : float
        Share of the visible cells that, once placed, slide towards their nearest placed
        neighbour until their surfaces are about ``gap_um`` apart (touching for 0), in
        [0, 1]; the others stay where rejection sampling put them.
    time_span : float
        Share of the model's time course [-1, 1] that the scene's frames cover for each
        cell, in (0, 1]. Each cell gets its own phase: its frames run over a window of
        half-width ``time_span`` whose centre is drawn uniformly from
        [-(1 - time_span), 1 - time_span] (1 = every cell runs its whole course in step,
        all in one phase; for a dividing model, smaller spans make cells divide at
        different frames).
    texture : str or None
        Texture run (:mod:`cellshapes.synthesis.texture`) for the images of
        :func:`~cellshapes.synthesis.scene.scene_images`: 2D+t textured projections
        (the GAN makes 2D images) instead of the simulator's 3D+t volumes; None: the
        microscopy simulator.
    divides : bool or None
        Daughters get labels (None: the model's ``cell_type`` is ``"dividing"``).
    footprint_size : int
        Edge of the cube grid for footprints (placement).
    band : bool
        Coarse-to-fine evaluation (module notes); False evaluates every voxel.
    band_safety : float
        Assumed Lipschitz bound of the SDF in um per um for the band.
    tries : int
        Placement candidates per cell before giving up.
    """

    cells: int
    frames: int
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    gap_um: float = 0.0
    seed: int = 0
    drift_um: float = 1.0
    entering: int = 1
    min_visible: float = 0.25
    island_fraction: float = 0.1
    contact_share: float = 0.5
    time_span: float = 0.6
    texture: str | None = None
    divides: bool | None = None
    footprint_size: int = 24
    band: bool = True
    band_safety: float = 2.0
    tries: int = 3000

    def __post_init__(self) -> None:
        for name, low in (("cells", 1), ("frames", 1), ("entering", 0), ("footprint_size", 8),
                          ("tries", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < low:
                raise InputError(f"--{name.replace('_', '-')} must be an integer >= {low}, "
                                 f"got {v!r}")
        if len(self.shape) != 3 or any(int(s) != s or s < 1 for s in self.shape):
            raise InputError(f"--shape must be 3 integers >= 1 (Z Y X), got {self.shape}")
        if len(self.spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in self.spacing):
            raise InputError(f"--spacing must be 3 numbers > 0 (um, Z Y X), got {self.spacing}")
        for name in ("gap_um", "drift_um"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise InputError(f"--{name[:-3]} must be >= 0 um, got {getattr(self, name)}")
        if not 0 <= self.contact_share <= 1:
            raise InputError(f"contact_share must be in [0, 1], got {self.contact_share}")
        for name in ("min_visible", "island_fraction", "time_span"):
            if not 0 < getattr(self, name) <= 1:
                raise InputError(f"{name} must be in (0, 1], got {getattr(self, name)}")

    @property
    def extent_um(self) -> np.ndarray:
        """(3,) size of the field of view in um (z, y, x)."""
        return np.asarray(self.shape, float) * np.asarray(self.spacing, float)


@dataclass
class Scene:
    """A synthesized scene (pure data; :func:`write_scene` writes it).

    Attributes
    ----------
    labels : (T, Z, Y, X) int32 ndarray
        Cell labels (0 = background), each label one 26-connected component per frame.
    tracks : list of dict
        ``{"label", "begin", "end", "parent"}`` per label (CTC ``man_track.txt`` rows).
    spacing : (3,) floats
        Voxel size (dz, dy, dx) in um.
    record : dict
        Provenance: model, sampler, settings, per-cell code, rotation, offsets, labels,
        islands and fragments removed (module notes).
    """

    labels: np.ndarray
    tracks: list[dict[str, int]]
    spacing: tuple[float, float, float]
    record: dict[str, Any] = field(default_factory=dict)
