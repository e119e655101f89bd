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
All other blocks are evaluated densely. ``margin`` is a slope times half the block
diagonal: ``safety`` times the Lipschitz bound L of a true SDF in the data's units.

Nothing makes a trained network obey the L of a true SDF, so the bound is checked on the
network, frame by frame (both checks on by default, see :class:`GridOptions`):

1. before refining, max |grad f| is measured with autograd at random points, in blocks
   the surface crosses and in the blocks closest to being skipped; the slope is raised
   to ``gradient_margin`` times that maximum when this exceeds ``safety`` L
   (``stats["raised"]`` counts such frames);
2. after refining, points inside every skipped block (its centre and one random voxel)
   are evaluated; if any has another sign than its interpolated value, the frame is
   evaluated densely (``stats["dense_fallback"]``).

``GridOptions(narrow_band=False)`` (``reconstruct --dense``) evaluates every voxel.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cellshapes.config import GridOptions
from cellshapes.errors import InputError, ResourceError
from cellshapes.model import AutoDecoder
from cellshapes.progress import track
from cellshapes.resources import check_memory

__all__ = [
    "chunk_points",
    "GridOptions",
    "sdf_grid",
    "sequence_sdf",
    "lipschitz_bound",
    "model_lipschitz",
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
    are split in eight and their new corners evaluated, down to single voxels. The bound
    is checked on ``fn`` (see the module docstring).

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
        measured), ``slope`` (of the margin: max(safety bound, gradient_margin measured)),
        ``raised`` and ``dense_fallback`` (1.0 if the measured gradient set the slope /
        the block check forced dense evaluation, else 0.0).
    """
    opt = options or GridOptions()
    stats = {"lipschitz_bound": float(lipschitz), "lipschitz_measured": 0.0,
             "slope": opt.safety * float(lipschitz), "raised": 0.0, "dense_fallback": 0.0}
    s0 = 1 << max(0, int(opt.stride).bit_length() - 1)  # power of two
    if not opt.narrow_band or s0 < 2 or size < 4 * s0:
        stats.update(evaluated=size ** 3, fraction=1.0)
        return _dense(fn, size, chunk, device), stats
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
    gen = torch.Generator().manual_seed(0)  # the checks' points: the same on every run
    if opt.check_gradient:
        c = (blocks[:, None, :] + cube[None]) * s0
        measured, n = _max_gradient(fn, _gradient_points(
            blocks, vals[c[..., 0], c[..., 1], c[..., 2]], s0, size, opt.gradient_samples,
            gen, device), chunk)
        evaluated += n
        stats["lipschitz_measured"] = measured
        if opt.gradient_margin * measured > stats["slope"]:
            stats.update(slope=opt.gradient_margin * measured, raised=1.0)
    skipped: list[tuple[Tensor, int]] = []
    step = s0
    while step > 1 and blocks.shape[0]:
        c = (blocks[:, None, :] + cube[None]) * step  # (n, 8, 3) corner positions
        cv = vals[c[..., 0], c[..., 1], c[..., 2]]
        unsafe = ~_proven_free(cv, stats["slope"] * math.sqrt(3.0) * step / (size - 1))
        skipped.append((blocks[~unsafe], step))
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
    full = _prolongate(vals, known, s0)
    if opt.check_blocks:
        pts = _check_points(skipped, size, gen, device)
        evaluated += pts.shape[0]
        if pts.shape[0]:
            got = _eval_points(fn, -1.0 + 2.0 * pts.float() / (size - 1), chunk)
            if bool(((got <= 0) != (full[pts[:, 0], pts[:, 1], pts[:, 2]] <= 0)).any()):
                stats["dense_fallback"] = 1.0
                stats.update(evaluated=evaluated + size ** 3,
                             fraction=(evaluated + size ** 3) / size ** 3)
                return _dense(fn, size, chunk, device), stats
    stats.update(evaluated=evaluated, fraction=evaluated / size ** 3)
    return full[:size, :size, :size].contiguous(), stats


def _proven_free(cv: Tensor, margin: float) -> Tensor:
    """(n, 8) corner values -> (n,) True where all corners share a sign beyond ``margin``."""
    same = (cv > 0).all(1) | (cv <= 0).all(1)
    return same & (cv.abs().amin(1) > margin)


def _gradient_points(blocks: Tensor, cv: Tensor, s0: int, size: int, n: int,
                     gen: torch.Generator, device: torch.device) -> Tensor:
    """(n, 3) points in [-1, 1]^3 where max |grad f| matters: half uniform, a quarter in
    coarse blocks the surface crosses (corner signs differ), a quarter in the same-sign
    blocks nearest to zero (the first ones a too small bound would wrongly skip)."""
    n_rand = n // 2
    pts = [torch.rand(n_rand, 3, generator=gen) * 2 - 1]
    crossed = ~((cv > 0).all(1) | (cv <= 0).all(1))
    closest = torch.where(crossed, torch.inf, cv.abs().amin(1))
    k = min(int((~crossed).sum()), max(1, (n - n_rand) // 8))
    chosen = [blocks[crossed], blocks[torch.topk(closest, k, largest=False).indices]]
    for b, m in zip(chosen, ((n - n_rand) // 2, n - n_rand - (n - n_rand) // 2)):
        if b.shape[0] and m:
            pick = torch.randint(b.shape[0], (m,), generator=gen)
            offset = torch.rand(m, 3, generator=gen) * s0
            pts.append(-1.0 + 2.0 * (b.cpu()[pick].float() * s0 + offset) / (size - 1))
    return torch.cat(pts).clamp(-1.0, 1.0).to(device)


def _max_gradient(fn: SdfFn, points: Tensor, chunk: int) -> tuple[float, int]:
    """max |grad fn| over ``points`` (autograd; central differences if fn is not
    differentiable) and the number of points evaluated."""
    best, n = 0.0, 0
    step = max(_MIN_ROWS, chunk // 4)  # a backward pass holds more than a forward one
    for s in range(0, points.shape[0], step):
        p = points[s : s + step]
        with torch.enable_grad():
            x = p.detach().clone().requires_grad_(True)
            y = _eval_chunk(fn, x)
            if y.requires_grad:
                (grad,) = torch.autograd.grad(y.sum(), x)
                n += p.shape[0]
            else:
                h = 1e-3
                eye = torch.eye(3, device=p.device) * h
                grad = torch.stack([(_eval_chunk(fn, p + e) - _eval_chunk(fn, p - e)) / (2 * h)
                                    for e in eye], -1)
                n += 7 * p.shape[0]
        best = max(best, float(grad.detach().norm(dim=-1).max()))
    return best, n


def _check_points(skipped: list[tuple[Tensor, int]], size: int, gen: torch.Generator,
                  device: torch.device) -> Tensor:
    """(n, 3) fine-grid indices inside the skipped blocks: each block's centre and one
    random inner voxel, kept where inside the S^3 grid."""
    pts = []
    for blocks, step in skipped:
        if not blocks.shape[0]:
            continue
        base = blocks * step
        pts.append(base + step // 2)
        inner = torch.randint(1, step, (blocks.shape[0], 3), generator=gen).to(device)
        pts.append(base + inner)
    if not pts:
        return torch.zeros(0, 3, dtype=torch.long, device=device)
    allp = torch.cat(pts)
    return allp[(allp < size).all(1)]


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
        number of frames whose slope was ``raised`` or that fell back to dense evaluation
        (``dense_fallback``); see :func:`sdf_grid`.
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
             "slope": 0.0, "raised": 0.0, "dense_fallback": 0.0}
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
