"""Synthesis of new shape sequences from the learned latent space (Sec 5.1, 5.3).

New codes come from a sampler of :mod:`cellshapes.inference.samplers` (one registry; the
default ``local`` draws around the learned codes at a scale chosen from the measured
validity-novelty frontier; the paper's ``gaussian`` and ``near`` stay available by name,
their scale a standard deviation). Every synthesized sequence gets a uniformly random
rotation (scipy's ``Rotation.random``).

:func:`generate_run` (``cellshapes generate``) runs three named steps around a
:class:`GenerateConfig`, each testable alone:

1. :func:`plan_generation`: the run's model, the new codes and rotations, the grid
   (a :class:`GenerationPlan`; nothing evaluated);
2. :func:`build_generation`: the SDF volumes and masks, judged per sequence: validity
   (whole cells in every frame, :func:`cellshapes.measure.population.sequence_validity`),
   novelty and realism (:mod:`cellshapes.inference.novelty`) (a :class:`Generation`);
3. :func:`write_generation`: the run-like folder, masks and ``sdf.h5``.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cellshapes.config import bounded, check_bounds, check_choices, config_from, to_dict
from cellshapes.config.fields import one_of
from cellshapes.errors import InputError
from cellshapes.inference.samplers import (DEFAULT_SAMPLER, PAPER_STD, SAMPLERS,  # noqa: F401
                                           draw, paper_scale, paper_std)
from cellshapes.progress import track

__all__ = ["GenerateConfig", "GenerationPlan", "Generation", "plan_generation",
           "build_generation", "write_generation", "generate_run", "sample_codes",
           "random_rotations", "interpolate_codes", "paper_std", "PAPER_STD",
           "DEFAULT_SAMPLER", "cells_per_frame"]


@dataclass
class GenerateConfig:
    """What ``cellshapes generate`` makes (:func:`generate_run`).

    Attributes
    ----------
    n : int
        Number of new sequences.
    method : str
        Latent sampler, a key of :data:`cellshapes.inference.samplers.SAMPLERS` (gaussian
        and near are the paper's).
    scale : float or None
        The sampler's scale: for the relative samplers a fraction of the learned codes'
        geometry (local: of the nearest-code distance), for the paper's gaussian and near
        the standard deviation (the paper's std; --std). None: the sampler's own default
        (samplers.DEFAULT_SCALE; for gaussian and near the paper's rule applied to the
        codes at hand).
    seed : int
        Seed of the codes and rotations.
    size : int or None
        Grid edge of the new sequences (None: the training size).
    frames : int or None
        Time points, spread evenly over [-1, 1] (None: the training frames).
    drop_islands_voxels : int
        Remove components smaller than this from the written masks (0: off; the SDFs and
        the reported island fractions are those generated).
    max_cells : int or None
        Cells a valid frame may hold (None: 2 for dividing training data, else 1).
    """

    n: int = bounded(1, 1)
    method: str = one_of(DEFAULT_SAMPLER, SAMPLERS)
    scale: float | None = bounded(None, 0.0)
    seed: int = 0
    size: int | None = bounded(None, 2)
    frames: int | None = bounded(None, 1)
    drop_islands_voxels: int = bounded(0, 0)
    max_cells: int | None = bounded(None, 1)

    def __post_init__(self) -> None:
        for name in ("n", "size", "frames", "drop_islands_voxels", "max_cells"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or int(v) != v):
                raise InputError(f"--{name.replace('_', '-')} must be an integer, got {v!r}")
        check_choices(self)
        check_bounds(self)
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise InputError(f"--scale must be > 0, got {self.scale}")


def sample_codes(codes: np.ndarray, n: int, method: str = DEFAULT_SAMPLER, seed: int = 0,
                 variance: float | None = None, std: float | None = None,
                 scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` new latent codes (:func:`cellshapes.inference.samplers.draw`).

    Parameters
    ----------
    codes : (N, D) array
        Learned codes of the training sequences.
    n : int
        Number of codes to draw.
    method : str
        A sampler of :data:`cellshapes.inference.samplers.SAMPLERS` (default ``span``).
    seed : int
    variance, std : float, optional
        Variance or standard deviation of the paper's ``gaussian`` / ``near`` sampling
        (default :func:`paper_std`).
    scale : float, optional
        The sampler's own scale (relative to the codes' geometry, module notes of
        :mod:`cellshapes.inference.samplers`).

    Returns
    -------
    new : (n, D) float32 array
    source : (n,) int array
        The learned code each sample started from (-1 where none).
    """
    given = paper_scale(method, std, variance)
    if given is not None and scale is not None:
        raise InputError("give one of std, variance or scale")
    new, source, _ = draw(codes, n, method, seed, scale if given is None else given)
    return new, source


def random_rotations(n: int, seed: int = 0) -> np.ndarray:
    """``n`` uniformly random rotations as Euler angles (n, 3) in our convention."""
    import torch
    from scipy.spatial.transform import Rotation

    from cellshapes.model import matrix_to_euler

    mats = torch.tensor(Rotation.random(n, random_state=seed).as_matrix(), dtype=torch.float32)
    return matrix_to_euler(mats).numpy()


def interpolate_codes(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """Linear path from z0 to z1 (both (D,)) in ``steps`` points -> (steps, D)."""
    w = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1.0 - w) * np.asarray(z0)[None] + w * np.asarray(z1)[None]).astype(np.float32)


def cells_per_frame(attrs: dict[str, Any]) -> int:
    """Cells a valid frame of this kind may hold: 2 for dividing cells, else 1."""
    return 2 if "divid" in str(attrs.get("cell_type", "")).lower() else 1




@dataclass
class GenerationPlan:
    """Step 1 of :func:`generate_run`: what will be made (nothing evaluated yet).

    Attributes
    ----------
    config : GenerateConfig
    run : str
        The trained run the codes come from.
    model : AutoDecoder
        Its model (:func:`~cellshapes.inference.reconstruct.load_run`).
    run_config : dict
        Its ``config.json``.
    codes : (n, D) float32 array
        The new codes.
    source : (n,) int array
        Training code each new code started from (-1: none).
    scale : float
        The sampler's scale used (the default when ``config.scale`` is None).
    angles : (n, 3) float32 array or None
        Euler angles of the random rotations (None for a non-equivariant model).
    size, frames : int
        Grid edge and time points of every new sequence.
    max_cells : int
        Cells a valid frame may hold.
    attrs : dict
        Attributes of every new sequence (the training data's, on the new grid).
    """

    config: GenerateConfig
    run: str
    model: Any
    run_config: dict[str, Any]
    codes: np.ndarray
    source: np.ndarray
    scale: float
    angles: np.ndarray | None
    size: int
    frames: int
    max_cells: int
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """``gen_0000``, ``gen_0001``, ...: the names of the new sequences."""
        return [f"gen_{i:04d}" for i in range(self.config.n)]

    def settings(self) -> dict[str, Any]:
        """The settings stored under ``generate`` in the output's ``config.json``."""
        return {**asdict(self.config), "requested_scale": self.config.scale,
                "scale": self.scale, "scale_means": SAMPLERS[self.config.method].scale_means,
                "codes_std": float(np.std(self.model.codes.detach().cpu().numpy())),
                "source_codes": self.source.tolist(), "max_cells": self.max_cells}


@dataclass
class Generation:
    """Step 2 of :func:`generate_run`: the new sequences and how they were judged.

    Attributes
    ----------
    plan : GenerationPlan
    sequences : list of SDFSequence
        (T, S, S, S) SDF volumes, as generated.
    masks : list of (T, S, S, S) bool arrays
        The masks to write (components below ``drop_islands_voxels`` removed).
    per_sequence : dict
        Name -> ``valid``, per-frame ``frames`` (components, cells, island_fraction,
        valid), ``nearest_training_dsc``, ``nearest_training_cell``, ``last_frame``
        descriptors.
    population : dict
        :func:`cellshapes.inference.novelty.population_report`.
    realism : dict
        Summary of :func:`cellshapes.inference.novelty.realism_report`.
    """

    plan: GenerationPlan
    sequences: list
    masks: list[np.ndarray]
    per_sequence: dict[str, dict[str, Any]]
    population: dict[str, Any]
    realism: dict[str, Any]

    def report(self, out: str | os.PathLike) -> dict[str, Any]:
        """The JSON report of :func:`generate_run` (its Returns section)."""
        plan, per_seq, pop = self.plan, self.per_sequence, self.population
        fractions = [f["island_fraction"] for v in per_seq.values() for f in v["frames"]]
        return {"out": str(out), "names": plan.names, "method": plan.config.method,
                "seed": plan.config.seed, "scale": plan.scale,
                "scale_means": SAMPLERS[plan.config.method].scale_means,
                "max_cells": plan.max_cells,
                "valid_share": float(np.mean([v["valid"] for v in per_seq.values()])),
                "novelty": {"nearest_training_dsc_median": float(np.median(
                    pop["nearest_training_dsc"])),
                    "between_training_dsc": pop["between_training_dsc"],
                    "diversity_dsc": pop["diversity_dsc"],
                    "reads": "a new cell about as far from its nearest training cell as "
                             "two training cells are from each other is new; near 1 is a "
                             "copy"},
                "realism": self.realism,
                "empty_sequences": [q.name for q in self.sequences if not (q.sdf <= 0).any()],
                "sequences": per_seq,
                "island_fraction_mean": float(np.mean(fractions)) if fractions else 0.0,
                "drop_islands_voxels": int(plan.config.drop_islands_voxels)}


def plan_generation(run: str | os.PathLike, config: GenerateConfig,
                    device: str = "auto") -> GenerationPlan:
    """Step 1: load the run, draw the new codes and rotations, size the grid.

    Raises
    ------
    InputError, ResourceError
        Bad grid arguments; grids that cannot fit in memory.
    """
    from cellshapes.inference.grid import check_grid_args, check_grid_memory, grid_attrs
    from cellshapes.inference.reconstruct import load_run

    cfg = config
    check_grid_args(cfg.size, cfg.frames)
    model, run_config = load_run(run, device)
    learned = model.codes.detach().cpu().numpy()
    codes, source, used = draw(learned, cfg.n, cfg.method, cfg.seed, cfg.scale)
    angles = random_rotations(cfg.n, cfg.seed) if model.config.equivariant else None
    data = run_config["data"]
    s = cfg.size or int(data["size"])
    t = cfg.frames or int(max(data["frames"]))
    attrs0 = dict(data["attrs"][0]) if data.get("attrs") else {}
    check_grid_memory(cfg.n * t, s, "generate")
    attrs = {**attrs0, **grid_attrs(attrs0, s), "source": f"generated from {run}"}
    return GenerationPlan(cfg, str(run), model, run_config, codes, source, used, angles, s, t,
                          int(cfg.max_cells or cells_per_frame(attrs0)), attrs)


def build_generation(plan: GenerationPlan, progress: bool = False) -> Generation:
    """Step 2: evaluate the new sequences on the grid and judge them (nothing written).

    Validity per sequence (:func:`cellshapes.measure.population.sequence_validity`),
    novelty and diversity (:func:`cellshapes.inference.novelty.population_report`) and
    realism against the training data where its file is at hand
    (:func:`cellshapes.inference.novelty.realism_report`).
    """
    import torch

    from cellshapes.inference import grid
    from cellshapes.inference.fit import derived_model
    from cellshapes.inference.novelty import population_report, realism_report
    from cellshapes.io import SDFSequence
    from cellshapes.measure.population import sequence_validity
    from cellshapes.measure.topology import drop_islands
    from cellshapes.training.sampling import frame_times

    cfg, dev = plan.config, next(plan.model.parameters()).device
    derived = derived_model(plan.model, torch.tensor(plan.codes, device=dev),
                            None if plan.angles is None else torch.tensor(plan.angles,
                                                                          device=dev),
                            [plan.attrs] * cfg.n)
    seqs, masks, per_seq = [], [], {}
    for i, name in enumerate(track(plan.names, progress, desc="generate", unit="seq")):
        sdf, _ = grid.sequence_sdf(derived, frame_times(plan.frames), plan.size, seq=i)
        m = sdf <= 0
        valid, frames_df = sequence_validity(m, max_cells=plan.max_cells)
        per_seq[name] = {"valid": valid, "frames": frames_df[
            ["components", "cells", "island_fraction", "valid"]].to_dict("records")}
        if cfg.drop_islands_voxels > 0:
            m = np.stack([drop_islands(f, cfg.drop_islands_voxels) for f in m])
        masks.append(m)
        seqs.append(SDFSequence(name, sdf, dict(plan.attrs)))
    population = population_report(plan.model, plan.codes, plan.size,
                                   frame_times(plan.frames)[-1])
    realism, descriptors = realism_report(seqs, plan.run_config)
    for i, name in enumerate(plan.names):
        per_seq[name]["nearest_training_dsc"] = population["nearest_training_dsc"][i]
        per_seq[name]["nearest_training_cell"] = population["nearest_training_cell"][i]
        per_seq[name]["last_frame"] = descriptors[name]
    return Generation(plan, seqs, masks, per_seq, population, realism)


def write_generation(gen: Generation, out: str | os.PathLike, overwrite: bool = False
                     ) -> Path:
    """Step 3: write ``out`` atomically: a run-like folder (``config.json`` with the
    settings under ``generate``, a checkpoint with the new codes and rotations, so
    ``reconstruct`` works on it), ``masks/gen_NNNN.tif`` and ``sdf.h5``."""
    import torch

    from cellshapes.atomic import atomic_dir
    from cellshapes.inference.fit import write_derived_run
    from cellshapes.io import write_dataset, write_tiff

    plan = gen.plan
    dev = next(plan.model.parameters()).device
    n = plan.config.n
    summary = {"path": None, "names": plan.names, "frames": [plan.frames] * n,
               "size": plan.size, "attrs": [{k: v for k, v in plan.attrs.items()
                                             if k != "source"}] * n}
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_derived_run(plan.run_config, plan.model, torch.tensor(plan.codes, device=dev),
                          None if plan.angles is None else torch.tensor(plan.angles,
                                                                        device=dev),
                          tmp, summary, {"generated_from": str(Path(plan.run).resolve()),
                                         "generate": plan.settings()})
        for q, m in zip(gen.sequences, gen.masks):
            write_tiff(tmp / "masks" / f"{q.name}.tif", m.astype(np.uint8),
                       spacing=(q.attrs["voxel_um"],) * 3)
        write_dataset(tmp / "sdf.h5", gen.sequences)
    return Path(out)


def generate_run(run: str | os.PathLike, out: str | os.PathLike,
                 config: GenerateConfig | None = None, *, device: str = "auto",
                 overwrite: bool = False, progress: bool = True, **overrides: Any
                 ) -> dict[str, Any]:
    """``cellshapes generate``: synthesize new sequences (plan, build, write).

    Parameters
    ----------
    run : path-like
        Trained run directory (or a shipped model's folder).
    out : path-like
        Output folder (:func:`write_generation`).
    config : GenerateConfig, optional
        What to make (default ``GenerateConfig()``); every field is an option of
        ``cellshapes generate``.
    device, overwrite, progress
        Where to evaluate, replace an existing ``out``, show progress.
    **overrides
        Fields of :class:`GenerateConfig` replacing those of ``config``
        (``generate_run(run, out, n=4, method="near")``).

    Returns
    -------
    dict
        Per sequence (``sequences``): ``valid`` (whole cells in every frame: no empty
        frame, ``max_cells`` cells at most, never fewer after a division, < 1 % of the
        foreground outside them), per frame the ``components`` and ``island_fraction``,
        the DSC to the nearest training cell and the last-frame descriptors; for the
        population ``valid_share``, ``novelty``, ``realism`` (per time point against the
        training cells where their file is at hand), ``empty_sequences``,
        ``island_fraction_mean``; and the ``method``, ``scale`` (used), ``seed``,
        ``max_cells``, ``drop_islands_voxels`` (off by default; it changes the written
        masks only, never a reported number).
    """
    from cellshapes.atomic import check_output

    cfg = config_from(GenerateConfig, to_dict(config or GenerateConfig()), overrides)
    check_output(out, overwrite)
    gen = build_generation(plan_generation(run, cfg, device), progress)
    write_generation(gen, out, overwrite)
    return gen.report(out)
