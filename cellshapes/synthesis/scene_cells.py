"""New cells of a scene and where they go (:mod:`cellshapes.synthesis.scene`).

:func:`draw_cells` is the one place that draws codes (the sampler's default method) and
rotations; :func:`cell_sdf` evaluates one cell in um; :func:`footprints` covers a cell by
points per frame; :func:`place_cells` places all cells without overlap by rejection.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from cellshapes.errors import InputError
from cellshapes.synthesis.scene_config import SceneConfig

__all__ = ["SdfUm", "sampler_record", "draw_cells", "cell_phases", "cell_sdf", "footprints",
           "footprint_pairs", "place_cells"]


# ----------------------------------------------------------------------------- cells
def sampler_record() -> dict[str, Any]:
    """The latent sampler scenes use: ``sample_codes`` with its default method."""
    from cellshapes.inference.generate import sample_codes

    method = inspect.signature(sample_codes).parameters["method"].default
    return {"function": "cellshapes.inference.generate.sample_codes", "method": method,
            "note": "the function's default method, read at run time"}


def draw_cells(learned: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """New codes from the default sampler and uniformly random rotations.

    Parameters
    ----------
    learned : (N, D) array
        The model's learned codes.
    n : int
        Cells to draw.
    seed : int

    Returns
    -------
    codes : (n, D) float32 array
    rotations : (n, 3, 3) float32 array
        Rotation matrices R; the decoder sees ``x @ R`` (as for training sequences).
    """
    from cellshapes.inference.generate import random_rotations, sample_codes
    from cellshapes.model import euler_to_matrix

    codes, _ = sample_codes(learned, n, seed=seed)  # default method: see sampler_record
    mats = euler_to_matrix(torch.tensor(random_rotations(n, seed)))
    return codes, mats.numpy().astype(np.float32)


def cell_phases(n: int, frames: int, span: float, rng: np.random.Generator) -> np.ndarray:
    """Model times of each cell's frames: its own window into the time course [-1, 1].

    Parameters
    ----------
    n : int
        Cells.
    frames : int
        Frames T.
    span : float
        Half-width of each window, in (0, 1] (``SceneConfig.time_span``).
    rng : numpy.random.Generator
        Draws the window centres, uniform in [-(1 - span), 1 - span].

    Returns
    -------
    (n, T) float ndarray
        ``centre_i + span * frame_times(T)``; all rows equal ``frame_times(T)`` for
        ``span`` 1.
    """
    from cellshapes.training.sampling import frame_times

    centres = rng.uniform(-(1.0 - span), 1.0 - span, size=n) if span < 1 else np.zeros(n)
    return centres[:, None] + span * frame_times(frames).astype(float)[None, :]


SdfUm = Callable[[np.ndarray, float], np.ndarray]


def cell_sdf(model: Any, code: np.ndarray, rotation: np.ndarray, scale_um: float,
             sdf_unit_um: float, chunk: int = 1 << 16) -> SdfUm:
    """The SDF of one cell in um, at points in um relative to its centre.

    Returns
    -------
    callable
        ``f(points, t)``: points (P, 3) float (z, y, x) um, t the model time in [-1, 1]
        -> (P,) float32 SDF in um; +inf outside the model's cube.
    """
    dev = next(model.parameters()).device
    z = torch.as_tensor(code, dtype=torch.float32, device=dev).reshape(1, -1)
    rot = torch.as_tensor(rotation, dtype=torch.float32, device=dev).reshape(1, 3, 3)

    def fn(points: np.ndarray, t: float) -> np.ndarray:
        p = np.asarray(points, np.float32) / np.float32(scale_um)
        out = np.full(len(p), np.inf, np.float32)
        inside = np.flatnonzero(np.abs(p).max(axis=1) <= 1.0)
        tt = torch.tensor([float(t)], device=dev)
        with torch.no_grad():
            for s in range(0, len(inside), chunk):
                idx = inside[s:s + chunk]
                x = torch.as_tensor(p[idx], device=dev)[None]
                out[idx] = model.decode(x, tt, z, rot)[0].float().cpu().numpy() * sdf_unit_um
        return out

    return fn


def footprints(fn: SdfUm, times: Sequence[float], scale_um: float, size: int
               ) -> list[np.ndarray]:
    """Points (um, relative to the centre) that cover the cell in each frame.

    Parameters
    ----------
    fn : callable
        :func:`cell_sdf` of the cell.
    times : sequence of float
        Model times of the frames.
    scale_um : float
        um per unit cube coordinate.
    size : int
        Edge of the corner-aligned grid over the cube (dense evaluation).

    Returns
    -------
    list of (P_t, 3) float arrays
        Grid points whose SDF is <= half the grid diagonal (so every voxel the cell
        touches lies within half a diagonal of a point); one array per frame.
    """
    return footprint_pairs(fn, times, scale_um, size)[0]


def footprint_pairs(fn: SdfUm, times: Sequence[float], scale_um: float, size: int
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The covering footprints of :func:`footprints` and the cores, from one evaluation.

    Returns
    -------
    bands : list of (P_t, 3) float arrays
        Grid points (um) with SDF <= half the grid diagonal, per frame (visibility).
    cores : list of (Q_t, 3) float arrays
        Grid points (um) inside the cell (SDF <= 0), per frame (spacing between cells);
        the band where a frame has no inside point (a cell thinner than the grid).
    """
    g = np.linspace(-scale_um, scale_um, size)
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    half_diag = 0.5 * np.sqrt(3.0) * (g[1] - g[0])
    bands, cores = [], []
    for t in times:
        sdf = fn(pts, t)
        bands.append(pts[sdf <= half_diag])
        core = pts[sdf <= 0]
        cores.append(core if len(core) else bands[-1])
    return bands, cores


# ----------------------------------------------------------------------------- placement
@dataclass
class _Placed:
    centres: np.ndarray  # (T, 3) um
    trees: list[Any]
    radius: np.ndarray  # (T,) um


def _visible(points: np.ndarray, centre: np.ndarray, extent: np.ndarray) -> float:
    if len(points) == 0:
        return 0.0
    q = points + centre
    return float(np.mean(np.all((q >= 0) & (q <= extent), axis=1)))


def _clear(cand: _Placed, pts: list[np.ndarray], placed: list[_Placed], gap: float) -> bool:
    """True if the candidate keeps ``gap`` um from every placed cell in every frame."""
    for other in placed:
        for t, p in enumerate(pts):
            d = cand.centres[t] - other.centres[t]
            if np.linalg.norm(d) > cand.radius[t] + other.radius[t] + gap or not len(p):
                continue
            dist, _ = other.trees[t].query(p + d, k=1, distance_upper_bound=gap)
            if np.isfinite(dist).any():
                return False
    return True


def _candidate(rng: np.random.Generator, cfg: SceneConfig, radius: float, entering: bool
               ) -> np.ndarray:
    """(T, 3) centres in um of one drifting candidate."""
    ext = cfg.extent_um
    steps = np.arange(cfg.frames, dtype=float)[:, None]
    if not entering:
        c0 = rng.uniform(-radius / 3, ext + radius / 3)
        v = rng.normal(size=3)
        return c0 + steps * cfg.drift_um * v / np.linalg.norm(v)
    end = rng.uniform(0.0, ext)
    ang = rng.uniform(0, 2 * np.pi)
    d = np.array([rng.normal(0, 0.2), np.sin(ang), np.cos(ang)])
    dist = rng.uniform(1.0, 2.5) * radius + rng.uniform(0.5, 1.0) * radius
    c0 = end - d / np.linalg.norm(d) * dist
    return c0 + steps / (cfg.frames - 1) * (end - c0)


def place_cells(prints: list[list[np.ndarray]], cfg: SceneConfig, step_um: float,
                rng: np.random.Generator, cores: list[list[np.ndarray]] | None = None
                ) -> list[np.ndarray]:
    """Centres of all cells by rejection sampling (module notes).

    Parameters
    ----------
    prints : list of list of (P, 3) arrays
        Per cell and frame, the footprint points in um (:func:`footprints`); the first
        ``cfg.cells`` are visible at frame 0, the rest enter.
    cfg : SceneConfig
    step_um : float
        Footprint grid step: the cores of two cells keep ``cfg.gap_um`` + one step apart
        (their surfaces then lie within about one step of ``gap_um``; the renderer makes
        the gap exact), half a step for ``gap_um`` 0 (touching cells may interpenetrate
        by up to about a step; the renderer gives those voxels to the smaller SDF).
    rng : numpy.random.Generator
    cores : list of list of (Q, 3) arrays, optional
        Per cell and frame, the points inside the cell (:func:`footprint_pairs`) that
        keep the distance; default ``prints``.

    Returns
    -------
    list of (T, 3) arrays
        Centre of each cell per frame in um (z, y, x).

    Raises
    ------
    InputError
        A cell could not be placed in ``cfg.tries`` candidates.
    """
    from functools import partial

    from scipy.spatial import cKDTree

    ext = cfg.extent_um
    gap = cfg.gap_um + step_um if cfg.gap_um > 0 else 0.5 * step_um
    cores = prints if cores is None else cores
    placed: list[_Placed] = []
    for i, (pts, core) in enumerate(zip(prints, cores)):
        radius = np.array([np.linalg.norm(p, axis=1).max() if len(p) else 0.0 for p in pts])
        entering = i >= cfg.cells
        fits = partial(_fits, pts=pts, core=core, radius=radius, entering=entering,
                       placed=placed, cfg=cfg, gap=gap)
        for _ in range(cfg.tries):
            centres = _candidate(rng, cfg, float(radius.max()), entering)
            if fits(centres):
                if not entering and placed and rng.uniform() < cfg.contact_share:
                    centres = _slide(centres, placed, fits)
                cand = _Placed(centres, [], radius)
                cand.trees = [cKDTree(p if len(p) else np.zeros((1, 3)) + 1e9) for p in core]
                placed.append(cand)
                break
        else:
            raise InputError(
                f"could place only {len(placed)} of {len(prints)} cells without overlap "
                f"(gap {cfg.gap_um} um) in a {' x '.join(f'{e:g}' for e in ext)} um field of "
                "view; use fewer --cells, a larger --shape or a smaller --gap")
    return [p.centres for p in placed]


def _fits(centres: np.ndarray, pts: list[np.ndarray], core: list[np.ndarray],
          radius: np.ndarray, entering: bool, placed: list[_Placed], cfg: SceneConfig,
          gap: float) -> bool:
    """True if a candidate's centres (T, 3) are visible as asked and clear of ``placed``."""
    ext = cfg.extent_um
    first = _visible(pts[0], centres[0], ext)
    last = _visible(pts[-1], centres[-1], ext)
    ok = (first == 0.0 and last >= cfg.min_visible) if entering else \
        first >= cfg.min_visible
    return ok and _clear(_Placed(centres, [], radius), core, placed, gap)


def _slide(centres: np.ndarray, placed: list[_Placed], fits: Callable[[np.ndarray], bool],
           steps: int = 12) -> np.ndarray:
    """Move a placed candidate towards its nearest placed cell until it (nearly) touches.

    Bisection on the share of the way between the centres at frame 0 (all frames moved by
    the same vector) for the last position where ``fits`` holds.
    """
    near = min(placed, key=lambda o: float(np.linalg.norm(o.centres[0] - centres[0])))
    v = near.centres[0] - centres[0]
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fits(centres + mid * v) else (lo, mid)
    return centres + lo * v
