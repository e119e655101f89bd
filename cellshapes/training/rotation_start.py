"""The sign-flip search of an equivariant model's start, scored by the data (issue 33).

``TrainConfig.rotation_search`` containing 0: before the first step each sequence's start
(its principal axes, ``angle_init="principal"``) is turned by the candidate rotation
(:func:`cellshapes.training.rotation_sync.candidate_rotations`) that makes the first
frames of all sequences agree best, each seen in its frame (:func:`data_losses`: 1 - DSC
of the masks), made consistent by :func:`cellshapes.training.rotation_sync.synchronise`;
then each sequence is turned by small steps towards its nearest sequences
(:func:`refine_rotations`). The decoder is not used: at the start it knows nothing.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from cellshapes.errors import InputError
from cellshapes.model import AutoDecoder, euler_to_matrix, matrix_to_euler
from cellshapes.training.rotation_sync import (apply_corrections, candidate_rotations,
                                               first_frame_index, synchronise)
from cellshapes.training.sampling import SDFSampler

__all__ = ["data_losses", "refine_rotations", "align_start"]


def data_losses(sampler: SDFSampler, angles: Tensor, cands: np.ndarray) -> np.ndarray:
    """1 - DSC of every sequence's first frame, turned by each candidate, against every
    other sequence's, each seen in its frame R_i (the data side of :func:`pair_losses`).

    Parameters
    ----------
    sampler : SDFSampler
        The training frames.
    angles : (N, 3) tensor
        Euler angles of the sequences' rotations R_i.
    cands : (K, 3, 3) array

    Returns
    -------
    (N, K, N) float64 array
        ``L[i, k, j] = 1 - DSC`` of the masks of sequence i seen through R_i G_k and of
        sequence j seen through R_j (resampled about the cube centre, trilinear).
    """
    from cellshapes.cube import rotate_sdf_sequence

    vols = sampler.volumes[first_frame_index(sampler)].float().cpu().numpy()  # (N, S, S, S)
    rots = euler_to_matrix(angles.detach().cpu().float()).double().numpy()
    masks = []
    for v, r in zip(vols, rots):
        clamp = max(float(v.max()), 1e-6)
        own = rotate_sdf_sequence(v[None], r.T, clamp)  # own frame: sdf(R y)
        masks.append([(rotate_sdf_sequence(own, g.T, clamp)[0] <= 0).ravel() for g in cands])
    m = np.asarray(masks, dtype=np.float32)  # (N, K, V): frame R_i G_k
    n, k = m.shape[:2]
    base = m[:, 0]
    inter = m.reshape(n * k, -1) @ base.T  # (N K, N)
    sizes = m.sum(-1).reshape(n * k, 1) + base.sum(-1)[None]
    return (1.0 - 2.0 * inter / np.maximum(sizes, 1.0)).reshape(n, k, n).astype(np.float64)


def _own_frame_sdfs(sampler: SDFSampler, angles: Tensor) -> list[np.ndarray]:
    """Each sequence's first frame seen in its frame R_i: sdf(R_i y), (S, S, S) each."""
    from cellshapes.cube import rotate_sdf_sequence

    vols = sampler.volumes[first_frame_index(sampler)].float().cpu().numpy()
    rots = euler_to_matrix(angles.detach().cpu().float()).double().numpy()
    return [rotate_sdf_sequence(v[None], r.T, max(float(v.max()), 1e-6))[0]
            for v, r in zip(vols, rots)]


def _dsc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DSC of mask a (V,) against each row of b (M, V)."""
    return 2.0 * (b @ a) / np.maximum(a.sum() + b.sum(1), 1.0)


def refine_rotations(sampler: SDFSampler, angles: Tensor, steps_deg: tuple[float, ...] =
                     (16.0, 8.0, 4.0, 2.0), partner_ratio: float = 1.5
                     ) -> tuple[Tensor, list[list[int]]]:
    """Small turns of each sequence's rotation that make its data agree with its nearest
    sequences' (a local search after the sign flips).

    Parameters
    ----------
    sampler : SDFSampler
    angles : (N, 3) tensor
        The rotations to refine.
    steps_deg : tuple of float
        Turn sizes tried in turn: +-step about each axis of the sequence's frame; a turn is
        kept while it raises the mean DSC with the partners.
    partner_ratio : float
        Partners of sequence i: the sequences j whose 1 - DSC with i (each in its frame) is
        at most this times i's smallest.

    Returns
    -------
    angles : (N, 3) tensor
        Refined Euler angles.
    partners : list of list of int
        Each sequence's partners.
    """
    from scipy.spatial.transform import Rotation

    from cellshapes.cube import rotate_sdf_sequence

    own = _own_frame_sdfs(sampler, angles)
    masks = np.stack([(o <= 0).ravel() for o in own]).astype(np.float32)
    loss = 1.0 - 2.0 * (masks @ masks.T) / np.maximum(
        masks.sum(1)[:, None] + masks.sum(1)[None], 1.0)
    np.fill_diagonal(loss, np.inf)
    partners = [np.flatnonzero(row <= partner_ratio * row.min()).tolist() for row in loss]
    rots = euler_to_matrix(angles.detach().cpu().float()).double().numpy()
    for i, mates in enumerate(partners):
        clamp = max(float(own[i].max()), 1e-6)
        best = float(_dsc(masks[i], masks[mates]).mean())
        for step in steps_deg:
            for vec in np.vstack([np.eye(3), -np.eye(3)]) * np.radians(step):
                turn = Rotation.from_rotvec(vec).as_matrix()  # R_i <- R_i turn
                cand = (rotate_sdf_sequence(own[i][None], turn.T, clamp)[0] <= 0).ravel()
                score = float(_dsc(cand.astype(np.float32), masks[mates]).mean())
                if score > best:
                    best, rots[i] = score, rots[i] @ turn
                    own[i] = rotate_sdf_sequence(own[i][None], turn.T, clamp)[0]
                    masks[i] = cand
    return matrix_to_euler(torch.as_tensor(rots, dtype=torch.float32)), partners


@torch.no_grad()
def align_start(model: AutoDecoder, sampler: SDFSampler, kind: str = "flips",
                margin: float = 1.5) -> dict[str, Any]:
    """Before training: turn each sequence's start by the candidate that makes the data of
    all sequences agree best (:func:`data_losses`, :func:`synchronise`), then by small
    turns towards its nearest sequences (:func:`refine_rotations`), in place.

    Returns
    -------
    dict
        ``angles_before``, ``angles_flipped`` (after the candidates), ``angles_after``
        (after the refinement), ``partners``, ``correction``, ``changed`` (no codes
        change: they are not trained yet).
    """
    if model.angles is None:
        raise InputError("rotation search needs an equivariant model")
    key = _start_key(sampler, model.angles, kind, margin)
    if key in _START_CACHE:  # the same data and start (another seed or latent size)
        rec = _START_CACHE[key]
        model.angles.copy_(torch.tensor(rec["angles_after"], device=model.angles.device))
        return dict(rec)
    cands = candidate_rotations(kind)
    before = model.angles.detach().cpu().tolist()
    lo = data_losses(sampler, model.angles, cands)
    corr = synchronise(lo, cands, margin)
    n = model.n_sequences
    ids = torch.arange(n, device=model.codes.device)
    apply_corrections(model, cands, corr, ids, None)
    flipped = model.angles.detach().cpu().tolist()
    refined, partners = refine_rotations(sampler, model.angles)
    model.angles.copy_(refined.to(model.angles.device))
    _START_CACHE[key] = {
        "candidates": kind, "scored_by": "data (1 - DSC of first frames)",
        "angles_before": before, "angles_flipped": flipped,
        "angles_after": model.angles.detach().cpu().tolist(), "partners": partners,
        "correction": corr.tolist(), "changed": np.flatnonzero(corr).tolist()}
    return dict(_START_CACHE[key])


#: align_start's results in this process by (data, start, candidates, margin): it depends
#: on nothing else, so the runs of a notebook on one dataset compute it once.
_START_CACHE: dict[str, dict[str, Any]] = {}


def _start_key(sampler: SDFSampler, angles: Tensor, kind: str, margin: float) -> str:
    import hashlib

    h = hashlib.sha1(f"{kind} {margin}".encode())
    h.update(angles.detach().cpu().float().numpy().tobytes())
    h.update(sampler.volumes[first_frame_index(sampler)].float().cpu().numpy().tobytes())
    return h.hexdigest()
