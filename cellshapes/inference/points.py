"""Evaluating an SDF function at points and on whole grids, in bounded chunks.

Every path (dense grid, narrow band, its checks) turns fine-grid indices into coordinates
with the one formula of :func:`index_coords`, so a voxel gets bit-identical coordinates,
hence the same SDF value, whichever path evaluates it.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ["SdfFn", "MIN_ROWS", "chunk_points", "index_coords", "eval_points", "dense_grid"]

#: An SDF function: (P, 3) points (z, y, x) in [-1, 1]^3 -> (P,) SDF values.
SdfFn = Callable[[Tensor], Tensor]

#: Below this many points a forward pass may take another GEMM path whose rounding
#: differs (seen with MKL for < 100 rows); tiny chunks are padded so that a point's SDF
#: does not depend on the chunk it falls in (narrow-band masks then equal dense ones).
MIN_ROWS = 128


def chunk_points(hidden: int, memory_mb: float = 256.0) -> int:
    """Points per forward pass so that activations stay within ``memory_mb`` [MiB].

    A forward pass keeps about four (P, hidden) float32 tensors alive (input, matmul
    output, activation, next input) plus the coordinates.
    """
    per_point = 4 * (4 * hidden + 8)
    return max(4096, int(memory_mb * 2**20 // per_point))


def index_coords(index: Tensor, size: int) -> Tensor:
    """Fine-grid indices (any shape, int or float) of a ``size``^3 grid -> coordinates in
    [-1, 1] (float32, same shape); corner-aligned, index 0 -> -1, ``size - 1`` -> 1."""
    return -1.0 + 2.0 * index.float() / (size - 1)


def eval_chunk(fn: SdfFn, points: Tensor) -> Tensor:
    """``fn(points)`` as float32, padded to :data:`MIN_ROWS` rows when fewer."""
    n = points.shape[0]
    if n >= MIN_ROWS:
        return fn(points).float()
    padded = torch.cat([points, points[-1:].expand(MIN_ROWS - n, -1)])
    return fn(padded)[:n].float()


def eval_points(fn: SdfFn, points: Tensor, chunk: int) -> Tensor:
    """(P,) SDF of (P, 3) ``points``, ``chunk`` points per call of ``fn``."""
    out = torch.empty(points.shape[0], device=points.device)
    for s in range(0, points.shape[0], chunk):
        out[s : s + chunk] = eval_chunk(fn, points[s : s + chunk])
    return out


def dense_grid(fn: SdfFn, size: int, chunk: int, device: torch.device,
               positions: Tensor | None = None) -> Tensor:
    """``fn`` on every voxel of the ``size``^3 grid -> (S, S, S); or on the sub-grid of
    fine indices ``positions`` (n,) along each axis -> (n, n, n)."""
    if positions is None:
        positions = torch.arange(size, device=device)
    coords = index_coords(positions.to(device), size)
    n = coords.numel()
    out = torch.empty(n ** 3, device=device)
    idx = torch.arange(n ** 3, device=device)
    for s in range(0, n ** 3, chunk):
        i = idx[s : s + chunk]
        pts = torch.stack([coords[i // (n * n)], coords[(i // n) % n], coords[i % n]], -1)
        out[s : s + chunk] = eval_chunk(fn, pts)
    return out.reshape(n, n, n)
