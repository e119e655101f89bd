"""Grid evaluation of a trained SDF: chunked, with a coarse-to-fine narrow band.

``sequence_sdf`` turns a model (a learned or given code and rotation) into SDF volumes at
any grid size and time; ``sdf_grid`` evaluates any SDF function on one grid.

Narrow-band evaluation
----------------------
A frame is first evaluated on a coarse grid (every ``stride``-th voxel). A block of
stride^3 fine voxels whose 8 coarse corners share one sign and all lie farther than
``margin`` from zero cannot contain the surface if the network's SDF changes by less than
``margin`` over half a block diagonal; its voxels are filled by trilinear interpolation of
the corners (the sign, hence the mask, is exact; the SDF value there is approximate).
All other blocks are evaluated densely. ``margin`` is ``safety`` times the Lipschitz
constant of a true SDF in the dataset's units (``lipschitz_bound``) times half the block
diagonal. The masks are compared with dense evaluation in the tests and in
``cellshapes bench``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import InputError, ResourceError
from .model import AutoDecoder
from .progress import track
from .resources import check_memory

__all__ = [
    "chunk_points",
    "GridOptions",
    "sdf_grid",
    "sequence_sdf",
    "lipschitz_bound",
    "grid_attrs",
    "check_grid_args",
    "check_grid_memory",
]

SdfFn = Callable[[Tensor], Tensor]  # (P, 3) points -> (P,) SDF


def chunk_points(hidden: int, memory_mb: float = 256.0) -> int:
    """Points per forward pass so that activations stay within ``memory_mb``.

    A forward pass keeps about four (P, hidden) float32 tensors alive (input, matmul
    output, activation, next input) plus the coordinates.
    """
    per_point = 4 * (4 * hidden + 8)
    return max(4096, int(memory_mb * 2**20 // per_point))


@dataclass
class GridOptions:
    """How to evaluate a grid.

    Attributes
    ----------
    narrow_band : bool
        Coarse-to-fine evaluation (masks equal dense; SDF far from the surface approximate).
    stride : int
        Coarsest block edge in voxels (a power of two; refined by halving).
    safety : float
        Multiplier of the Lipschitz bound used for the narrow-band margin.
    memory_mb : float
        Activation memory budget per forward pass.
    """

    narrow_band: bool = True
    stride: int = 8
    safety: float = 2.0
    memory_mb: float = 256.0


def _axis(size: int, device: torch.device) -> Tensor:
    # the formula of the narrow band's refinement (not linspace, which differs by 1 ulp at
    # half the points), so dense and narrow band evaluate bit-identical coordinates
    return -1.0 + 2.0 * torch.arange(size, device=device) / (size - 1)


#: Below this many points a forward pass may take another GEMM path whose rounding
#: differs (seen with MKL for < 100 rows); tiny chunks are padded so that a point's SDF
#: does not depend on the chunk it falls in (narrow-band masks then equal dense ones).
_MIN_ROWS = 128


def _eval_chunk(fn: SdfFn, points: Tensor) -> Tensor:
    n = points.shape[0]
    if n >= _MIN_ROWS:
        return fn(points).float()
    padded = torch.cat([points, points[-1:].expand(_MIN_ROWS - n, -1)])
    return fn(padded)[:n].float()


def _eval_points(fn: SdfFn, points: Tensor, chunk: int) -> Tensor:
    out = torch.empty(points.shape[0], device=points.device)
    for s in range(0, points.shape[0], chunk):
        out[s : s + chunk] = _eval_chunk(fn, points[s : s + chunk])
    return out


def _dense(fn: SdfFn, size: int, chunk: int, device: torch.device,
           positions: Tensor | None = None) -> Tensor:
    """Evaluate on the full grid (or at ``positions``, fine indices per axis) -> (n, n, n)."""
    n = size if positions is None else positions.numel()
    coords = _axis(size, device) if positions is None else -1.0 + 2.0 * positions / (size - 1)
    out = torch.empty(n ** 3, device=device)
    idx = torch.arange(n ** 3, device=device)
    for s in range(0, n ** 3, chunk):
        i = idx[s : s + chunk]
        pts = torch.stack([coords[i // (n * n)], coords[(i // n) % n], coords[i % n]], -1)
        out[s : s + chunk] = _eval_chunk(fn, pts)
    return out.reshape(n, n, n)


def sdf_grid(fn: SdfFn, size: int, device: torch.device, chunk: int,
             options: GridOptions | None = None, lipschitz: float = 1.0
             ) -> tuple[Tensor, dict[str, float]]:
    """Evaluate an SDF function on the corner-aligned grid of ``size``^3 over [-1, 1]^3.

    With ``options.narrow_band`` the grid is refined coarse-to-fine like an octree:
    blocks of ``stride`` voxels whose corners prove (by the Lipschitz margin) that the
    surface does not pass through them are filled by trilinear interpolation; the others
    are split in eight and their new corners evaluated, down to single voxels.

    Parameters
    ----------
    fn : callable
        Maps (P, 3) points (z, y, x) to (P,) SDF values.
    size : int
        Grid edge S.
    lipschitz : float
        |grad SDF| of a true SDF in the model's units per unit coordinate
        (``scale_um / sdf_unit_um``, see ``lipschitz_bound``).

    Returns
    -------
    sdf : (S, S, S) tensor on ``device``
    stats : dict
        ``evaluated`` (points evaluated) and ``fraction`` (of S^3).
    """
    opt = options or GridOptions()
    s0 = 1 << max(0, int(opt.stride).bit_length() - 1)  # power of two
    if not opt.narrow_band or s0 < 2 or size < 4 * s0:
        return _dense(fn, size, chunk, device), {"evaluated": size ** 3, "fraction": 1.0}
    nb = math.ceil((size - 1) / s0)
    g = nb * s0 + 1  # working grid, may reach past the last voxel (still a valid point)
    vals = torch.zeros(g, g, g, device=device)
    known = torch.zeros(g, g, g, dtype=torch.bool, device=device)
    positions = torch.arange(nb + 1, device=device) * s0
    vals[::s0, ::s0, ::s0] = _dense(fn, size, chunk, device, positions.float())
    known[::s0, ::s0, ::s0] = True
    evaluated = (nb + 1) ** 3
    cube = torch.stack(torch.meshgrid(*(torch.arange(2, device=device),) * 3, indexing="ij"),
                       -1).reshape(-1, 3)
    blocks = torch.stack(torch.meshgrid(*(torch.arange(nb, device=device),) * 3,
                                        indexing="ij"), -1).reshape(-1, 3)
    step = s0
    while step > 1 and blocks.shape[0]:
        c = (blocks[:, None, :] + cube[None]) * step  # (n, 8, 3) corner positions
        cv = vals[c[..., 0], c[..., 1], c[..., 2]]
        margin = opt.safety * lipschitz * math.sqrt(3.0) * step / (size - 1)
        same = (cv > 0).all(1) | (cv <= 0).all(1)
        unsafe = ~(same & (cv.abs().amin(1) > margin))
        half = step // 2
        blocks = (blocks[unsafe][:, None, :] * 2 + cube[None]).reshape(-1, 3)
        need = torch.zeros_like(known)
        corners = ((blocks[:, None, :] + cube[None]) * half).reshape(-1, 3)
        need[corners[:, 0], corners[:, 1], corners[:, 2]] = True
        pts = (need & ~known).nonzero()
        if pts.shape[0]:
            vals[pts[:, 0], pts[:, 1], pts[:, 2]] = _eval_points(
                fn, -1.0 + 2.0 * pts.float() / (size - 1), chunk)
            known[pts[:, 0], pts[:, 1], pts[:, 2]] = True
            evaluated += pts.shape[0]
        step = half
    return _prolongate(vals, known, s0)[:size, :size, :size].contiguous(), {
        "evaluated": evaluated, "fraction": evaluated / size ** 3}


def _prolongate(vals: Tensor, known: Tensor, s0: int) -> Tensor:
    """Fill unknown voxels coarse-to-fine: each level is the trilinear 2x refinement of
    the level above, with the evaluated values put back. Inside a block proven free of
    the surface every value is a convex combination of same-sign values, so the sign
    (the mask) is exact."""
    level = vals[::s0, ::s0, ::s0]
    step = s0
    while step > 1:
        step //= 2
        n = 2 * level.shape[0] - 1
        up = F.interpolate(level[None, None], size=(n, n, n), mode="trilinear",
                           align_corners=True)[0, 0]
        level = torch.where(known[::step, ::step, ::step], vals[::step, ::step, ::step], up)
    return level


def sequence_sdf(model: AutoDecoder, times: Sequence[float], size: int, *,
                 seq: int | None = None, code: Tensor | None = None,
                 rotation: Tensor | None = None, lipschitz: float = 1.0,
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

    Returns
    -------
    sdf : (T, S, S, S) float32 array
    stats : dict
        Fraction of grid points evaluated (narrow band) over all frames.
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
    evaluated = 0
    it = track(list(enumerate(times)), progress, desc="frames", leave=False)
    with torch.no_grad():
        for k, t in it:
            tt = torch.tensor([float(t)], device=dev)

            def fn(p: Tensor) -> Tensor:
                return model.decode(p[None], tt, z, rot)[0]

            grid, stats = sdf_grid(fn, size, dev, chunk, opt, lipschitz)
            out[k] = grid.cpu().numpy()
            evaluated += stats["evaluated"]
    return out, {"evaluated": evaluated, "fraction": evaluated / (len(times) * size ** 3)}


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
