"""Grid evaluation of a trained SDF: chunked, dense or by a checked narrow band.

``sequence_sdf`` turns a model (a learned or given code and rotation) into SDF volumes at
any grid size and time; ``sdf_grid`` evaluates any SDF function on one grid, densely
(:func:`cellshapes.inference.points.dense_grid`) or coarse-to-fine
(:mod:`cellshapes.inference.band`, the default: masks equal dense, SDF far from the
surface approximate). ``GridOptions(narrow_band=False)`` (``reconstruct --dense``)
evaluates every voxel.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from cellshapes.config import GridOptions
from cellshapes.errors import InputError, ResourceError
from cellshapes.inference.band import narrow_band
from cellshapes.inference.points import SdfFn, chunk_points, dense_grid
from cellshapes.model import AutoDecoder
from cellshapes.progress import track
from cellshapes.resources import check_memory

__all__ = ["chunk_points", "GridOptions", "sdf_grid", "sequence_sdf", "lipschitz_bound",
           "model_lipschitz", "grid_attrs", "check_grid_args", "check_grid_memory"]


def sdf_grid(fn: SdfFn, size: int, device: torch.device, chunk: int,
             options: GridOptions | None = None, lipschitz: float = 1.0
             ) -> tuple[Tensor, dict[str, float]]:
    """Evaluate an SDF function on the corner-aligned grid of ``size``^3 over [-1, 1]^3.

    With ``options.narrow_band`` the grid is refined coarse-to-fine like an octree:
    blocks of ``stride`` voxels whose corners prove (by the Lipschitz margin) that the
    surface does not pass through them are filled by trilinear interpolation; the others
    are split in eight and their new corners evaluated, down to single voxels. The bound
    is checked on ``fn`` per block (:mod:`cellshapes.inference.band`).

    Parameters
    ----------
    fn : callable
        Maps (P, 3) points (z, y, x) to (P,) SDF values; differentiable for the gradient
        check (else finite differences are used).
    size : int
        Grid edge S.
    device : torch.device
    chunk : int
        Points per call of ``fn``.
    options : GridOptions, optional
    lipschitz : float
        Bound on |grad SDF| in the model's units per unit coordinate
        (``scale_um / sdf_unit_um``, see ``lipschitz_bound``); raised if ``fn`` is steeper.

    Returns
    -------
    sdf : (S, S, S) tensor on ``device``
    stats : dict
        ``evaluated`` (points evaluated, checks included) and ``fraction`` (of S^3);
        ``lipschitz_bound`` (given), ``lipschitz_measured`` (max |grad f| found; 0 if not
        measured), ``slope`` (largest block slope of the margin), ``raised`` and
        ``dense_fallback`` (1.0 if a measured gradient raised some block's slope / the
        block check made some block dense, else 0.0), ``raised_blocks`` and
        ``dense_blocks`` (their share of the coarse blocks).
    """
    opt = options or GridOptions()
    s0 = 1 << max(0, int(opt.stride).bit_length() - 1)
    if opt.narrow_band and s0 >= 2 and size >= 4 * s0:
        return narrow_band(fn, size, device, chunk, opt, lipschitz)
    stats = {"lipschitz_bound": float(lipschitz), "lipschitz_measured": 0.0,
             "slope": opt.safety * float(lipschitz), "raised": 0.0, "raised_blocks": 0.0,
             "dense_fallback": 0.0, "dense_blocks": 0.0, "evaluated": float(size ** 3),
             "fraction": 1.0}
    return dense_grid(fn, size, chunk, device), stats


def sequence_sdf(model: AutoDecoder, times: Sequence[float], size: int, *,
                 seq: int | None = None, code: Tensor | None = None,
                 rotation: Tensor | None = None, lipschitz: float | None = None,
                 options: GridOptions | None = None, progress: bool = False
                 ) -> tuple[np.ndarray, dict[str, float]]:
    """SDF volumes of one sequence at the given time points.

    Parameters
    ----------
    model : AutoDecoder
    times : sequence of float
        Time coordinates in [-1, 1] (any number: temporal interpolation).
    size : int
        Grid edge S (any size: spatial interpolation).
    seq : int, optional
        Use the learned code and rotation of training sequence ``seq`` ...
    code, rotation : tensor, optional
        ... or an explicit code (D,) and rotation matrix (3, 3) (None: identity).
    lipschitz : float, optional
        Narrow-band bound on |grad SDF| per unit coordinate. Default: from the units of
        the model's training data (:func:`model_lipschitz`); checked on the network and
        raised where it is steeper either way.
    options : GridOptions, optional
        ``GridOptions(narrow_band=False)`` evaluates every voxel.
    progress : bool
        A progress bar over frames.

    Returns
    -------
    sdf : (T, S, S, S) float32 array
    stats : dict
        Over all frames: ``evaluated`` points and their ``fraction`` of T S^3;
        ``lipschitz_bound``, the largest ``lipschitz_measured`` and ``slope`` used, and the
        number of frames in which some block's slope was ``raised`` or some block fell
        back to dense evaluation (``dense_fallback``), and the mean share of such blocks
        (``raised_blocks``, ``dense_blocks``); see :func:`sdf_grid`.
    """
    opt = options or GridOptions()
    dev = next(model.parameters()).device
    if seq is not None:
        idx = torch.tensor([seq], device=dev)
        code = model.codes[idx][0]
        rot = model.rotations(idx)
        rotation = rot[0] if rot is not None else None
    if code is None:
        raise InputError("sequence_sdf needs seq or code")
    est = len(times) * size ** 3 * 4
    if est > 64 * 2**30:
        raise ResourceError(f"{len(times)} x {size}^3 float32 needs {est / 2**30:.1f} GiB; "
                            "reduce --size or --frames")
    z = code.reshape(1, -1).to(dev)
    rot = None if rotation is None else rotation.reshape(1, 3, 3).to(dev)
    chunk = chunk_points(model.config.hidden, opt.memory_mb)
    out = np.empty((len(times), size, size, size), np.float32)
    bound = model_lipschitz(model, seq) if lipschitz is None else float(lipschitz)
    total = {"evaluated": 0.0, "lipschitz_bound": bound, "lipschitz_measured": 0.0,
             "slope": 0.0, "raised": 0.0, "dense_fallback": 0.0, "raised_blocks": 0.0,
             "dense_blocks": 0.0}
    it = track(list(enumerate(times)), progress, desc="frames", leave=False)
    with torch.no_grad():
        for k, t in it:
            tt = torch.tensor([float(t)], device=dev)

            def fn(p: Tensor) -> Tensor:
                return model.decode(p[None], tt, z, rot)[0]

            grid, stats = sdf_grid(fn, size, dev, chunk, opt, bound)
            out[k] = grid.cpu().numpy()
            for key in ("evaluated", "raised", "dense_fallback"):
                total[key] += stats[key]
            for key in ("raised_blocks", "dense_blocks"):  # mean share over frames
                total[key] += stats[key] / len(times)
            for key in ("lipschitz_measured", "slope"):
                total[key] = max(total[key], stats[key])
    total["fraction"] = total["evaluated"] / (len(times) * size ** 3)
    return out, total


def model_lipschitz(model: AutoDecoder, seq: int | None = None) -> float:
    """The narrow-band bound from the units of a model's training data.

    Parameters
    ----------
    model : AutoDecoder
        As returned by :func:`cellshapes.inference.reconstruct.load_run`, which sets
        ``model.data_attrs`` (the run's per-sequence attributes).
    seq : int, optional
        Training sequence; None (an explicit code): the largest bound of all sequences.

    Returns
    -------
    float
        :func:`lipschitz_bound` of those attributes; 1.0 (SDF in cube units) for a model
        without ``data_attrs``.
    """
    attrs = getattr(model, "data_attrs", None) or []
    if seq is not None and 0 <= seq < len(attrs):
        return lipschitz_bound(attrs[seq])
    return max((lipschitz_bound(a) for a in attrs), default=1.0)


def lipschitz_bound(attrs: dict[str, Any]) -> float:
    """Lipschitz constant of a true SDF in model units per unit grid coordinate.

    Parameters
    ----------
    attrs : dict
        Sequence attributes; ``scale_um`` (um per unit coordinate) and ``sdf_unit_um``
        (um per SDF unit) default to 1.0.

    Returns
    -------
    float
        ``scale_um / sdf_unit_um``: the bound on |grad SDF| that ``sdf_grid`` uses for its
        narrow-band margin.
    """
    return float(attrs.get("scale_um", 1.0)) / float(attrs.get("sdf_unit_um", 1.0))


def grid_attrs(attrs: dict[str, Any], size: int) -> dict[str, Any]:
    """Attributes of a sequence evaluated on a corner-aligned grid of ``size``^3 voxels.

    Parameters
    ----------
    attrs : dict
        Attributes of the source sequence (``scale_um``, ``sdf_unit_um`` in um and
        ``cell_type`` are kept; missing ones default to 1.0 um and "").
    size : int
        Grid edge S >= 2 spanning [-1, 1].

    Returns
    -------
    dict
        ``scale_um``, ``voxel_um`` and ``spacing_um`` (3 x ``2 scale_um / (S - 1)``, um),
        ``sdf_unit_um``, ``label`` (-1: not from a label image), ``cell_type`` and an empty
        ``params`` JSON object, as the dataset format stores them.
    """
    scale = float(attrs.get("scale_um", 1.0))
    return {"scale_um": scale, "voxel_um": 2.0 * scale / (size - 1),
            "sdf_unit_um": float(attrs.get("sdf_unit_um", 1.0)), "label": -1,
            "cell_type": attrs.get("cell_type", ""), "spacing_um": [2.0 * scale / (size - 1)] * 3,
            "params": "{}"}


def check_grid_args(size: int | None, frames: int | None) -> None:
    """InputError unless ``size`` (grid edge) >= 2 and ``frames`` >= 1 where given."""
    for name, value, low in (("--size", size, 2), ("--frames", frames, 1)):
        if value is not None and (isinstance(value, bool) or int(value) != value
                                  or value < low):
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}")


def check_grid_memory(frames: int, size: int, what: str) -> None:
    """ResourceError if ``frames`` grids of ``size``^3 (float32 SDF + uint8 mask, all held
    until the final write) cannot fit in memory; checked before anything is allocated."""
    check_memory(frames * size ** 3 * 5 + size ** 3 * 8,
                 f"{what}: {frames} frame(s) x {size}^3 float32 grids",
                 "reduce --size or --frames")
