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

Every search, and the start, are recorded in ``rotation_search.json`` in the run directory
(:func:`record_start`, :func:`run_search`).
"""
from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cellshapes.errors import InputError
from cellshapes.model import AutoDecoder, euler_to_matrix, matrix_to_euler
from cellshapes.training.sampling import SDFSampler

__all__ = ["CANDIDATES", "candidate_rotations", "pair_losses", "data_losses", "synchronise",
           "search_rotations", "align_start", "record_start", "run_search", "read_record",
           "RECORD_FILE"]

#: Candidate sets of :func:`candidate_rotations` (``TrainConfig.rotation_candidates``).
CANDIDATES = ("flips", "cube")
#: File in the run directory that records the start and every search.
RECORD_FILE = "rotation_search.json"


def candidate_rotations(kind: str = "flips") -> np.ndarray:
    """Proper signed permutation matrices: a finite rotation group, identity first.

    Parameters
    ----------
    kind : {"flips", "cube"}
        ``flips``: the 4 proper sign flips diag(+-1, +-1, +-1) (identity and the three
        180-degree turns about the frame's axes); ``cube``: all 24 rotations that map the
        coordinate axes onto themselves (permutations with signs).

    Returns
    -------
    (K, 3, 3) float64 array
        K = 4 or 24; element 0 is the identity; closed under products and inverses.
    """
    if kind not in CANDIDATES:
        raise InputError(f"rotation candidates must be one of {CANDIDATES}, got {kind!r}")
    out = []
    for perm in itertools.permutations(range(3)):
        if kind == "flips" and perm != (0, 1, 2):
            continue
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            if np.linalg.det(m) > 0:
                out.append(m)
    return np.stack(out)


def _group_tables(cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multiplication table ``mul[a, b]`` (index of G_a G_b) and inverses ``inv[a]``."""
    flat = cands.reshape(len(cands), 9)

    def index(m: np.ndarray) -> int:
        return int(np.argmin(np.abs(flat - m.reshape(1, 9)).sum(1)))

    mul = np.array([[index(a @ b) for b in cands] for a in cands])
    inv = np.array([index(a.T) for a in cands])
    return mul, inv


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


@dataclass
class _Components:
    """Union-find over sequences with each one's correction (a candidate index)."""

    parent: list[int]
    members: dict[int, list[int]]
    correction: np.ndarray

    @classmethod
    def singletons(cls, n: int) -> "_Components":
        return cls(list(range(n)), {i: [i] for i in range(n)}, np.zeros(n, dtype=int))

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            i = self.parent[i]
        return i

    def merge(self, keep: int, move: int, turn: int, mul: np.ndarray) -> None:
        """Attach component ``move`` to ``keep``, its corrections C_k -> C_k G_turn."""
        for k in self.members[move]:
            self.correction[k] = mul[self.correction[k], turn]
        self.members[keep] += self.members.pop(move)
        self.parent[move] = keep


def synchronise(losses: Tensor | np.ndarray, cands: np.ndarray, margin: float = 1.5
                ) -> np.ndarray:
    """One correction per sequence from the pairwise losses (Kruskal synchronisation).

    Parameters
    ----------
    losses : (N, K, N) array
        :func:`pair_losses`.
    cands : (K, 3, 3) array
        The candidate group, identity first.
    margin : float
        A merge that turns a component is made only if the relation that needs no turn
        has at least ``margin`` times the loss of the best relation.

    Returns
    -------
    (N,) int array
        Index of each sequence's correction C_i (0: unchanged).

    Notes
    -----
    The symmetric cost of relation G between i and j is L[i, G, j] + L[j, G^-1, i]
    (i turned by G looks like j, and j turned back looks like i). Pairs are merged in
    the order of their best cost; merging requires C_i = G C_j, which turns the smaller
    component by one group element.
    """
    lo = np.asarray(losses.cpu() if isinstance(losses, Tensor) else losses, dtype=np.float64)
    n = lo.shape[0]
    mul, inv = _group_tables(cands)
    sym = lo + np.transpose(lo, (2, 1, 0))[:, inv, :]  # sym[i, k, j] = L[i,k,j] + L[j,inv k,i]
    pairs = [(float(sym[i, :, j].min()), i, j) for i in range(n) for j in range(i + 1, n)]
    comps = _Components.singletons(n)
    for _, i, j in sorted(pairs):
        ri, rj = comps.root(i), comps.root(j)
        if ri == rj:
            continue
        best = int(np.argmin(sym[i, :, j]))
        c = comps.correction
        free = int(mul[c[i], inv[c[j]]])  # the relation C_i C_j^-1 that needs no turn
        if free != best and sym[i, free, j] < margin * sym[i, best, j]:
            continue
        if len(comps.members[ri]) >= len(comps.members[rj]):  # turn j's side
            comps.merge(ri, rj, int(mul[mul[inv[c[j]], inv[best]], c[i]]), mul)
        else:  # turn i's side: C_i H = G C_j
            comps.merge(rj, ri, int(mul[mul[inv[c[i]], best], c[j]]), mul)
    return comps.correction.copy()


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
    batch = sampler.sample(0, points, gen, frames=_first_frames(sampler))
    before = model.angles.detach().cpu().tolist()
    lo = pair_losses(model, batch, n, cands)
    corr = synchronise(lo, cands, margin)
    ids = torch.arange(n, device=lo.device)
    code_from = torch.where(torch.as_tensor(corr != 0, device=lo.device),
                            lo[ids, torch.as_tensor(corr, device=lo.device)].argmin(-1), ids)
    _apply(model, cands, corr, code_from, optimizer)
    return {"candidates": kind, "angles_before": before,
            "angles_after": model.angles.detach().cpu().tolist(), "correction": corr.tolist(),
            "code_from": code_from.tolist(), "changed": np.flatnonzero(corr).tolist(),
            "loss_before": lo[ids, 0, ids].tolist(),
            "loss_after": lo[ids, torch.as_tensor(corr, device=lo.device), code_from].tolist()}


def _first_frames(sampler: SDFSampler) -> Tensor:
    """Index of the first stored frame of every sequence (the scoring frames)."""
    first: dict[int, int] = {}
    for f, (i, _) in enumerate(sampler.frame_ids):
        first.setdefault(i, f)
    return torch.tensor([first[i] for i in sorted(first)], device=sampler.device)


def _apply(model: AutoDecoder, cands: np.ndarray, corr: np.ndarray, code_from: Tensor,
           optimizer: torch.optim.Optimizer | None) -> None:
    """R_i <- R_i G_{C_i} and z_i <- z_{code_from[i]} for the changed sequences."""
    changed = torch.as_tensor(np.flatnonzero(corr), device=model.codes.device)
    if len(changed) == 0:
        return
    g = torch.as_tensor(cands[corr[changed.cpu().numpy()]], dtype=torch.float32,
                        device=model.codes.device)
    new_rot = euler_to_matrix(model.angles[changed]) @ g
    model.angles[changed] = matrix_to_euler(new_rot)
    model.codes[changed] = model.codes[code_from[changed]].clone()
    for param in (model.angles, model.codes):
        state = optimizer.state.get(param, {}) if optimizer is not None else {}
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                state[key][changed] = 0.0


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

    vols = sampler.volumes[_first_frames(sampler)].float().cpu().numpy()  # (N, S, S, S)
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

    vols = sampler.volumes[_first_frames(sampler)].float().cpu().numpy()
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
    _apply(model, cands, corr, ids, None)
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
    h.update(sampler.volumes[_first_frames(sampler)].float().cpu().numpy().tobytes())
    return h.hexdigest()


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
