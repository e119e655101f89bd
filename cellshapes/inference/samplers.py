"""Latent samplers: how new codes are drawn from the learned ones, in one registry.

A sampler takes the learned codes of the training sequences (N, D), a number of new
codes, a random generator and a *scale*, and returns the new codes with the index of the
training code each one started from (-1 where none). Its scale is stated relative to the
geometry of the learned codes (:func:`code_geometry`), except for the paper's two
samplers, whose scale is a standard deviation as the paper writes it.

Samplers
--------
``span``
    A point on the segment between two training codes: z = (1 - u) z_i + u z_j, with
    z_i drawn uniformly, z_j another code drawn uniformly and u ~ U(0, scale). Every
    sample lies between two learned codes, in directions the decoder was trained on;
    ``scale`` (0..1] is how far towards the other code it may go (0.5: up to the
    midpoint).
``hull``
    The same towards a random convex combination of all other codes (Dirichlet(1)
    weights) instead of one: z = (1 - u) z_i + u sum_j w_j z_j, u ~ U(0, scale).
``local`` (the default, :data:`DEFAULT_SAMPLER`)
    A training code plus isotropic Gaussian noise whose expected length is ``scale``
    times that code's distance to its nearest other code (std = scale * d_nn / sqrt(D)).
    This is sampling a Gaussian kernel density estimate of the codes with a bandwidth
    tied to their spacing: the learned density for many codes, a perturbation for few.
    Its default scale (0.25, :data:`DEFAULT_SCALE`) was chosen from the measured
    validity-novelty frontier (docs/sampler.md, ``benchmarks/sampler_frontier.py``): the only
    setting that kept every new filopodial cell whole with 4 training codes.
``pca``
    A Gaussian with the codes' own mean and ``scale**2`` times their covariance, which
    lives in the principal subspace they span (rank <= N - 1).
``gmm``
    Samples of a full-covariance Gaussian mixture fitted to the codes (scikit-learn;
    up to N // 4 components, at least 1), covariances scaled by ``scale**2``; the paper's
    stated future work.
``gaussian`` (the paper's, DS_Plat and DS_Cele)
    z ~ N(0, s^2 I), ``scale`` = s, default :func:`paper_std`.
``near`` (the paper's, DS_Filo)
    A training code plus N(0, s^2 I), ``scale`` = s, default :func:`paper_std`.

Notes
-----
The paper's 0.001 and 0.0005 are standard deviations derived from its own codes (std
0.0004-0.0008, "rounded up to 0.001", Sec 5.1); :func:`paper_std` applies that rule to
the codes at hand. With few training codes this puts samples 1.5-2x the nearest
code-to-code distance away from every code, mostly in directions the decoder never saw
(docs/sampler.md, frontier table): the relative samplers exist for that reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from cellshapes.errors import InputError

__all__ = ["SAMPLERS", "PAPER_SAMPLERS", "DEFAULT_SAMPLER", "DEFAULT_SCALE", "PAPER_STD",
           "Sampler", "code_geometry", "paper_std", "paper_scale", "default_scale", "draw"]

#: The paper's sampling standard deviations for its codes (Sec 5.1), for reference.
PAPER_STD = {"gaussian": 1e-3, "near": 5e-4}


def paper_std(codes: np.ndarray, method: str) -> float:
    """The sampling standard deviation by the paper's rule (module notes).

    Parameters
    ----------
    codes : (N, D) array
        Learned codes.
    method : {"gaussian", "near"}

    Returns
    -------
    float
        ``10 ** ceil(log10(std(codes)))`` for ``gaussian``, half of it for ``near``.

    Raises
    ------
    InputError
        Codes with zero or non-finite spread, or another method.
    """
    sd = float(np.std(np.asarray(codes, np.float64)))
    if not np.isfinite(sd) or sd <= 0:
        raise InputError(f"cannot derive a sampling scale from codes with std {sd}")
    decade = 10.0 ** math.ceil(math.log10(sd) - 1e-9)
    if method == "gaussian":
        return decade
    if method == "near":
        return decade / 2.0
    raise InputError(f"paper_std: method must be gaussian or near, got {method!r}")


def code_geometry(codes: Any) -> dict[str, Any]:
    """How the learned codes lie: their spread and spacing, the yardstick of a scale.

    Parameters
    ----------
    codes : (N, D) array, N >= 2

    Returns
    -------
    dict
        ``n``, ``dim``; ``entry_std`` (std of all entries, the paper's yardstick);
        ``nn_distance`` ((N,) Euclidean distance of each code to its nearest other code)
        and its ``nn_median``; ``pair_median`` (median distance between two codes);
        ``rank`` (dimension of the affine span, <= N - 1).
    """
    from scipy.spatial.distance import pdist, squareform

    c = _codes(codes)
    pairs = pdist(c)
    d = squareform(pairs)
    np.fill_diagonal(d, np.inf)
    nn = d.min(axis=1)
    centred = c - c.mean(axis=0)
    rank = int(np.linalg.matrix_rank(centred)) if c.shape[0] > 1 else 0
    return {"n": int(c.shape[0]), "dim": int(c.shape[1]), "entry_std": float(np.std(c)),
            "nn_distance": nn, "nn_median": float(np.median(nn)),
            "pair_median": float(np.median(pairs)), "rank": rank}


def _codes(codes: Any) -> np.ndarray:
    c = np.asarray(codes, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] < 2:
        raise InputError(f"need (N, D) learned codes with N >= 2, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise InputError("learned codes contain NaN or inf")
    return c


def _towards(c: np.ndarray, n: int, rng: np.random.Generator, scale: float,
             name: str, pairwise: bool):
    """z = (1 - u) z_i + u c_i, u ~ U(0, scale); c_i one other code or a mixture of all."""
    if not 0 < scale <= 1:
        raise InputError(f"{name}: scale must lie in (0, 1], got {scale}")
    n_codes = c.shape[0]
    anchor = rng.integers(0, n_codes, n)
    new = np.empty((n, c.shape[1]))
    for k, i in enumerate(anchor):
        others = np.delete(np.arange(n_codes), i)
        w = (np.eye(len(others))[rng.integers(len(others))] if pairwise
             else rng.dirichlet(np.ones(len(others))))
        u = rng.uniform(0.0, scale)
        new[k] = (1.0 - u) * c[i] + u * (w @ c[others])
    return new, anchor


def _span(c: np.ndarray, n: int, rng: np.random.Generator, scale: float):
    return _towards(c, n, rng, scale, "span", pairwise=True)


def _hull(c: np.ndarray, n: int, rng: np.random.Generator, scale: float):
    return _towards(c, n, rng, scale, "hull", pairwise=False)


def _local(c: np.ndarray, n: int, rng: np.random.Generator, scale: float):
    _positive(scale, "local")
    nn = code_geometry(c)["nn_distance"]
    anchor = rng.integers(0, c.shape[0], n)
    sd = scale * nn[anchor] / math.sqrt(c.shape[1])
    return c[anchor] + rng.normal(size=(n, c.shape[1])) * sd[:, None], anchor


def _pca(c: np.ndarray, n: int, rng: np.random.Generator, scale: float):
    _positive(scale, "pca")
    mean = c.mean(axis=0)
    _, s, vt = np.linalg.svd(c - mean, full_matrices=False)
    sd = s / math.sqrt(max(c.shape[0] - 1, 1))  # std along each principal axis
    z = rng.normal(size=(n, len(sd))) * (scale * sd)
    return mean + z @ vt, np.full(n, -1)


def _gmm(c: np.ndarray, n: int, rng: np.random.Generator, scale: float):
    from sklearn.mixture import GaussianMixture

    _positive(scale, "gmm")
    k = max(1, c.shape[0] // 4)
    gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-6,
                          random_state=int(rng.integers(2**31 - 1))).fit(c)
    comp = rng.choice(k, size=n, p=gmm.weights_)
    new = np.empty((n, c.shape[1]))
    for j in range(k):
        idx = np.flatnonzero(comp == j)
        if idx.size:
            new[idx] = rng.multivariate_normal(gmm.means_[j], scale**2 * gmm.covariances_[j],
                                               size=idx.size)
    return new, np.full(n, -1)


def _gaussian(c: np.ndarray, n: int, rng: np.random.Generator, scale: float):
    _positive(scale, "gaussian")
    return rng.normal(0.0, scale, (n, c.shape[1])), np.full(n, -1)


def _near(c: np.ndarray, n: int, rng: np.random.Generator, scale: float):
    _positive(scale, "near")
    source = rng.integers(0, c.shape[0], n)
    return c[source] + rng.normal(0.0, scale, (n, c.shape[1])), source


def _positive(scale: float, name: str) -> None:
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(f"{name}: scale must be > 0, got {scale}")


@dataclass(frozen=True)
class Sampler:
    """One registered sampler.

    Attributes
    ----------
    draw : callable
        ``(codes (N, D), n, rng, scale) -> (new (n, D), source (n,) int)``.
    default_scale : callable
        ``codes -> scale`` used when none is given.
    scale_means : str
        What the scale is, in words (for help texts and reports).
    paper : bool
        One of the paper's two samplers (scale = an absolute standard deviation).
    """

    draw: Callable[..., tuple[np.ndarray, np.ndarray]]
    default_scale: Callable[[np.ndarray], float]
    scale_means: str
    paper: bool = False


#: The default sampler, chosen from the measured frontier (docs/sampler.md).
DEFAULT_SAMPLER = "local"
#: Default scales of the relative samplers.
DEFAULT_SCALE = {"span": 0.5, "hull": 0.5, "local": 0.25, "pca": 1.0, "gmm": 1.0}

SAMPLERS: dict[str, Sampler] = {
    "span": Sampler(_span, lambda c: DEFAULT_SCALE["span"],
                    "largest fraction of the way from a training code towards another"),
    "hull": Sampler(_hull, lambda c: DEFAULT_SCALE["hull"],
                    "largest fraction of the way from a training code towards a convex "
                    "combination of all the others"),
    "local": Sampler(_local, lambda c: DEFAULT_SCALE["local"],
                     "expected noise length as a fraction of the code's nearest-code distance"),
    "pca": Sampler(_pca, lambda c: DEFAULT_SCALE["pca"], "multiple of the codes' own standard deviations"),
    "gmm": Sampler(_gmm, lambda c: DEFAULT_SCALE["gmm"], "multiple of the mixture's standard deviations"),
    "gaussian": Sampler(_gaussian, lambda c: paper_std(c, "gaussian"),
                        "standard deviation (the paper's rule by default)", paper=True),
    "near": Sampler(_near, lambda c: paper_std(c, "near"),
                    "standard deviation (the paper's rule by default)", paper=True),
}
#: The paper's sampler for each of its data sets' kinds (Sec 5.1).
PAPER_SAMPLERS = {"growing": "gaussian", "dividing": "gaussian", "filopodial": "near"}


def paper_scale(method: str, std: float | None = None, variance: float | None = None
                ) -> float | None:
    """The scale of a paper sampler given as the paper writes it, a standard deviation
    ``std`` or a ``variance``; None when neither is given.

    Raises
    ------
    InputError
        Both given, a value <= 0, or ``method`` is not one of the paper's samplers.
    """
    if std is None and variance is None:
        return None
    if std is not None and variance is not None:
        raise InputError("give one of std, variance or scale")
    if not SAMPLERS.get(method, SAMPLERS["gaussian"]).paper:
        raise InputError(f"std / variance set the paper's samplers (gaussian, near); "
                         f"{method!r} takes a relative scale (--scale)")
    value = variance if std is None else std
    if not value > 0:
        raise InputError(f"{'std' if variance is None else 'variance'} must be > 0, "
                         f"got {value}")
    return float(std) if std is not None else math.sqrt(variance)


def default_scale(codes: Any, method: str) -> float:
    """The scale ``method`` uses for ``codes`` when none is given."""
    return float(_sampler(method).default_scale(_codes(codes)))


def _sampler(method: str) -> Sampler:
    if method not in SAMPLERS:
        raise InputError(f"unknown sampler {method!r}; use one of {', '.join(SAMPLERS)}")
    return SAMPLERS[method]


def draw(codes: Any, n: int, method: str = DEFAULT_SAMPLER, seed: int = 0,
         scale: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Draw ``n`` new codes with a registered sampler.

    Parameters
    ----------
    codes : (N, D) array
        Learned codes of the training sequences (N >= 2).
    n : int
        Number of new codes (>= 1).
    method : str
        A key of :data:`SAMPLERS`.
    seed : int
    scale : float, optional
        The sampler's scale (module notes); default :func:`default_scale`.

    Returns
    -------
    new : (n, D) float32 array
    source : (n,) int array
        Training code each sample started from (-1: none).
    scale : float
        The scale used.
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InputError(f"--n must be >= 1, got {n!r}")
    c = _codes(codes)
    s = _sampler(method)
    used = float(s.default_scale(c) if scale is None else scale)
    new, source = s.draw(c, int(n), np.random.default_rng(seed), used)
    return new.astype(np.float32), np.asarray(source, dtype=int), used
