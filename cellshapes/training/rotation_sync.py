"""Finite rotation groups and their synchronisation: the core of the rotation searches.

:func:`candidate_rotations` gives a candidate group (sign flips of a frame, or the cube's
24 rotations); :func:`synchronise` turns pairwise losses L[i, G, j] ("sequence i turned by
G looks like sequence j") into one consistent correction per sequence;
:func:`apply_corrections` turns a model's rotations (and takes codes) accordingly. Used
by :mod:`cellshapes.training.rotation_search` (scored by the decoder) and
:mod:`cellshapes.training.rotation_start` (scored by the data).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from cellshapes.errors import InputError
from cellshapes.model import AutoDecoder, euler_to_matrix, matrix_to_euler
from cellshapes.training.sampling import SDFSampler

__all__ = ["CANDIDATES", "candidate_rotations", "group_tables", "synchronise",
           "first_frame_index", "apply_corrections"]

#: Candidate sets of :func:`candidate_rotations` (``TrainConfig.rotation_candidates``).
CANDIDATES = ("flips", "cube")


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


def group_tables(cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multiplication table ``mul[a, b]`` (index of G_a G_b) and inverses ``inv[a]``."""
    flat = cands.reshape(len(cands), 9)

    def index(m: np.ndarray) -> int:
        return int(np.argmin(np.abs(flat - m.reshape(1, 9)).sum(1)))

    mul = np.array([[index(a @ b) for b in cands] for a in cands])
    inv = np.array([index(a.T) for a in cands])
    return mul, inv


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
    mul, inv = group_tables(cands)
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


def first_frame_index(sampler: SDFSampler) -> Tensor:
    """(N,) index of the first stored frame of every sequence (the scoring frames)."""
    first: dict[int, int] = {}
    for f, (i, _) in enumerate(sampler.frame_ids):
        first.setdefault(i, f)
    return torch.tensor([first[i] for i in sorted(first)], device=sampler.device)


def apply_corrections(model: AutoDecoder, cands: np.ndarray, corr: np.ndarray, code_from: Tensor,
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
