"""Discrete search over each sequence's rotation during training (``TrainConfig.rotation_search``).

The principal-axes start (``ModelConfig.angle_init="principal"``) puts every sequence in
its own principal frame, whose axes are defined only up to sign (and, for near-equal
second moments, order). Rotated copies of one shape can therefore start 180 degrees apart,
and gradient steps on the Euler angles do not cross such a gap: the decoder learns the
flipped copy as a shape of its own (issue 33). This module repairs that by a discrete
search at chosen epochs.

Mechanism
---------
Candidates G are a finite rotation group (:data:`CANDIDATES`: the 4 proper sign flips of
the principal frame, or the 24 rotations of the cube). For every sequence i, candidate G
and code z_j of every training sequence j, the decoder's L1 loss on a fixed sample of
sequence i's first frame, seen through the rotation R_i G with the code z_j, is

    L[i, G, j] = mean |f((R_i G)^T x, t, z_j) - sdf_i(x, t)|.

Taking the code from another sequence is the discrete form of re-fitting the code (as
``fit`` does for unseen shapes): it asks whether sequence i, turned by G, is a shape the
decoder already knows. L[i, G, j] + L[j, G^-1, i] small says that sequences i and j are
the same shape once i is turned by G relative to j. These pairwise relations are made
consistent by a maximum-spanning-tree synchronisation (:func:`synchronise`, Kruskal order
by loss): each sequence gets one correction C_i in the group, its rotation becomes R_i C_i,
and a sequence whose rotation changed takes the code that explains it best in its new
frame (its Adam moments reset). A merge that would turn a component is accepted only when
the best relation beats the one that needs no turn by ``margin`` (relative loss), so that
unrelated shapes, for which every candidate fits about equally badly, do not move each
other. Nothing here reads which sequences are copies of which: the search sees the data
and the model only.

The candidate groups and the synchronisation live in
:mod:`cellshapes.training.rotation_sync`, the search of the start by the data
(``rotation_search`` containing 0) in :mod:`cellshapes.training.rotation_start`. Every
search, and the start, are recorded in ``rotation_search.json`` in the run directory
(:func:`record_start`, :func:`run_search`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cellshapes.errors import InputError
from cellshapes.model import AutoDecoder
from cellshapes.training.rotation_start import align_start
from cellshapes.training.rotation_sync import (apply_corrections, candidate_rotations,
                                               first_frame_index, synchronise)
from cellshapes.training.sampling import SDFSampler

__all__ = ["pair_losses", "search_rotations", "record_start", "run_search", "read_record",
           "RECORD_FILE"]

#: File in the run directory that records the start and every search.
RECORD_FILE = "rotation_search.json"


@torch.no_grad()
def pair_losses(model: AutoDecoder, batch: Any, n_sequences: int, cands: np.ndarray,
                chunk_points: int = 1 << 18) -> Tensor:
    """L1 loss of every sequence under every candidate rotation with every code.

    Parameters
    ----------
    model : AutoDecoder
        Equivariant model (its angles give R_i).
    batch : cellshapes.training.sampling.Batch
        A fixed sample: B frames x P points, each frame of one sequence.
    n_sequences : int
        N, the number of sequences (and codes).
    cands : (K, 3, 3) array
        Candidate rotations G (:func:`candidate_rotations`).
    chunk_points : int
        Points per forward pass (memory bound).

    Returns
    -------
    (N, K, N) float32 tensor
        ``L[i, k, j]``: mean |f((R_i G_k)^T x, t, z_j) - sdf| over sequence i's frames.
    """
    dev = model.codes.device
    b, p = batch.points.shape[:2]
    g = torch.as_tensor(cands, dtype=torch.float32, device=dev)
    rot = model.rotations(batch.sequences)  # (B, 3, 3)
    counts = torch.zeros(n_sequences, device=dev).index_add_(
        0, batch.sequences, torch.ones(b, device=dev)).clamp(min=1)
    out = torch.zeros(n_sequences, len(cands), n_sequences, device=dev)
    per = max(1, chunk_points // (b * p))  # codes per forward pass
    for k in range(len(cands)):
        r = rot @ g[k]
        for j0 in range(0, n_sequences, per):
            js = torch.arange(j0, min(n_sequences, j0 + per), device=dev)
            n = len(js)
            pred = model.decode(batch.points.repeat(n, 1, 1), batch.times.repeat(n),
                                model.codes[js].repeat_interleave(b, 0), r.repeat(n, 1, 1))
            err = (pred - batch.sdf.repeat(n, 1)).abs().mean(1).reshape(n, b)  # (n, B)
            per_seq = torch.zeros(n, n_sequences, device=dev).index_add_(
                1, batch.sequences, err)
            out[:, k, js] = (per_seq / counts).T
    return out


@torch.no_grad()
def search_rotations(model: AutoDecoder, sampler: SDFSampler, kind: str = "flips",
                     points: int = 512, seed: int = 0, margin: float = 1.5,
                     optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Search the candidate rotations of every sequence and keep the best, in place.

    Parameters
    ----------
    model : AutoDecoder
        Equivariant model; its ``angles`` and ``codes`` are changed in place.
    sampler : SDFSampler
        The training frames; each sequence is scored on its first stored frame.
    kind : {"flips", "cube"}
        Candidate set (:func:`candidate_rotations`).
    points : int
        Points of the fixed scoring sample, per sequence.
    seed : int
        Seed of that sample (the training generator is not touched).
    margin : float
        See :func:`synchronise`.
    optimizer : torch.optim.Optimizer, optional
        Its Adam moments of the changed sequences' codes and angles are zeroed.

    Returns
    -------
    dict
        ``candidates`` (kind), ``angles_before`` and ``angles_after`` (N, 3),
        ``correction`` (per sequence, candidate index),
        ``code_from`` (per sequence, whose code it took; itself if unchanged),
        ``changed`` (indices), ``loss_before`` and ``loss_after`` (per sequence, the
        scoring loss with its own code before and with its new code and rotation after).
    """
    if model.angles is None:
        raise InputError("rotation search needs an equivariant model")
    cands = candidate_rotations(kind)
    n = model.n_sequences
    gen = torch.Generator(sampler.device).manual_seed(int(seed))
    batch = sampler.sample(0, points, gen, frames=first_frame_index(sampler))
    before = model.angles.detach().cpu().tolist()
    lo = pair_losses(model, batch, n, cands)
    corr = synchronise(lo, cands, margin)
    ids = torch.arange(n, device=lo.device)
    code_from = torch.where(torch.as_tensor(corr != 0, device=lo.device),
                            lo[ids, torch.as_tensor(corr, device=lo.device)].argmin(-1), ids)
    apply_corrections(model, cands, corr, code_from, optimizer)
    return {"candidates": kind, "angles_before": before,
            "angles_after": model.angles.detach().cpu().tolist(), "correction": corr.tolist(),
            "code_from": code_from.tolist(), "changed": np.flatnonzero(corr).tolist(),
            "loss_before": lo[ids, 0, ids].tolist(),
            "loss_after": lo[ids, torch.as_tensor(corr, device=lo.device), code_from].tolist()}


# ------------------------------------------------------------------ run-directory hooks
def _write(out: str | os.PathLike, key: str, value: Any) -> None:
    path = Path(out) / RECORD_FILE
    record = json.loads(path.read_text()) if path.exists() else {}
    record[key] = value
    path.write_text(json.dumps(record))


def record_start(model: AutoDecoder, out: str | os.PathLike) -> None:
    """Write the angles and codes before the first step (key ``start``)."""
    if model.angles is None:
        return
    _write(out, "start", {"angles": model.angles.detach().cpu().tolist(),
                          "codes": model.codes.detach().cpu().tolist()})


def run_search(model: AutoDecoder, sampler: SDFSampler, cfg: Any, epoch: int,
               out: str | os.PathLike | None, optimizer: torch.optim.Optimizer | None = None
               ) -> dict[str, Any] | None:
    """The training loop's hook: before ``epoch``, record the start (epoch 1), align the
    start by the data when 0 is in ``cfg.rotation_search`` (:func:`align_start`) and search
    by the decoder when ``epoch`` is (:func:`search_rotations`); ``out`` None: record
    nothing (other ranks).

    Returns
    -------
    dict or None
        The search's record (:func:`search_rotations`), None when there was none.
    """
    if model.angles is None:
        return None
    if epoch == 1:
        if out is not None:
            record_start(model, out)
        if 0 in tuple(cfg.rotation_search):
            rec = align_start(model, sampler, cfg.rotation_candidates)
            if out is not None:
                _write(out, "epoch_0", rec)
    if epoch not in tuple(cfg.rotation_search):
        return None
    rec = search_rotations(model, sampler, cfg.rotation_candidates, cfg.rotation_search_points,
                           cfg.seed + 104729 * epoch, optimizer=optimizer)
    if out is not None:
        _write(out, f"epoch_{epoch}", rec)
    return rec


def read_record(run: str | os.PathLike) -> dict[str, Any]:
    """A run's ``rotation_search.json`` ({} when it has none)."""
    path = Path(run) / RECORD_FILE
    return json.loads(path.read_text()) if path.exists() else {}
