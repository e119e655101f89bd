"""Analysis of learned latent codes: PCA, t-SNE, rotation clustering, classification.

Pure functions on arrays (codes (N, D) in, arrays / dicts out) for the latent-space
experiments of the paper (Sec 5.2 compactness, 5.3 exploration, 5.8 classification),
plus :func:`random_rotation_dataset`, which writes the randomly rotated training set of
Sec 5.2. scikit-learn is imported inside the functions.

Example
-------
>>> from cellshapes import latent, reconstruct
>>> model, _ = reconstruct.load_run("runs/quick/growing_base")    # doctest: +SKIP
>>> codes = model.codes.detach().numpy()                          # doctest: +SKIP
>>> latent.pca_explained_variance(codes)[:3]                      # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellshapes.errors import InputError

__all__ = [
    "run_codes",
    "pca_explained_variance",
    "components_for",
    "tsne_embedding",
    "rotation_invariance_scores",
    "classify_codes",
    "cluster_scores",
    "random_rotation_dataset",
    "principal_aligned_dataset",
]


def _codes(codes: Any, min_n: int = 2) -> np.ndarray:
    c = np.asarray(codes, dtype=np.float64)
    if c.ndim != 2:
        raise InputError(f"codes must be an (N, D) array, got shape {c.shape}")
    if c.shape[0] < min_n:
        raise InputError(f"need at least {min_n} codes, got {c.shape[0]}")
    if not np.all(np.isfinite(c)):
        raise InputError("codes contain NaN or inf")
    return c


def run_codes(run: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """Learned latent codes of a run and the names of their sequences.

    Returns
    -------
    codes : (N, D) float32 array
        Row i belongs to training sequence i.
    names : list of str
    """
    from cellshapes.inference.reconstruct import load_run

    model, config = load_run(run, "cpu")
    return model.codes.detach().cpu().numpy(), list(config["data"]["names"])


def pca_explained_variance(codes: Any, n: int | None = None) -> np.ndarray:
    """Cumulative explained-variance ratio of the principal components of ``codes``.

    Parameters
    ----------
    codes : (N, D) array
    n : int, optional
        Number of components (default and maximum: ``min(N, D)``).

    Returns
    -------
    (n,) float array
        Entry k is the fraction of the total variance in the first k + 1 components
        (non-decreasing, last entry 1 when ``n = min(N, D)``; 1 everywhere for
        identical codes).
    """
    from sklearn.decomposition import PCA

    c = _codes(codes)
    k = min(c.shape)
    n = k if n is None else int(n)
    if not 1 <= n <= k:
        raise InputError(f"n must lie in 1..{k} (min of N, D), got {n}")
    centred = c - c.mean(axis=0)
    if not np.any(centred):
        return np.ones(n)
    ratio = PCA(n_components=k, svd_solver="full").fit(c).explained_variance_ratio_
    return np.minimum(np.cumsum(ratio)[:n], 1.0)


def components_for(cumulative: Sequence[float], fraction: float = 0.9) -> int:
    """Number of leading components whose cumulative variance reaches ``fraction``."""
    cum = np.asarray(cumulative, dtype=np.float64)
    hit = np.flatnonzero(cum >= fraction - 1e-12)
    return int(hit[0]) + 1 if hit.size else int(cum.size)


def tsne_embedding(codes: Any, seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """2D t-SNE embedding of latent codes (scikit-learn, PCA initialisation).

    Parameters
    ----------
    codes : (N, D) array
    seed : int
    perplexity : float, optional
        Default ``clip((N - 1) / 3, 2, 30)``: sklearn's 30 for N >= 91, smaller for the
        few codes of a quick run (perplexity must stay below N).

    Returns
    -------
    (N, 2) float array
        For N < 4, where t-SNE is meaningless, the first two principal components.
    """
    from sklearn.manifold import TSNE

    c = _codes(codes, min_n=1)
    n = c.shape[0]
    if n < 4:
        return _pca_2d(c)
    p = float(np.clip((n - 1) / 3.0, 2.0, 30.0)) if perplexity is None else float(perplexity)
    if not 0 < p < n:
        raise InputError(f"perplexity must lie in (0, {n}), got {p}")
    tsne = TSNE(n_components=2, perplexity=p, init="pca", random_state=seed,
                learning_rate="auto")
    return tsne.fit_transform(c.astype(np.float32)).astype(np.float64)


def _pca_2d(c: np.ndarray) -> np.ndarray:
    centred = c - c.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    out = np.zeros((c.shape[0], 2))
    proj = centred @ vt[:2].T
    out[:, :proj.shape[1]] = proj
    return out


def rotation_invariance_scores(codes: Any, groups: Sequence[Any]) -> dict[str, float]:
    """How tightly codes of the same group (rotated copies of one sequence) cluster.

    Parameters
    ----------
    codes : (N, D) array
    groups : (N,) sequence
        Group label of each code (e.g. the source sequence of a rotated copy). Every
        group needs at least two members.

    Returns
    -------
    dict
        ``within`` / ``between``: mean Euclidean distance between codes of the same /
        of different groups; ``ratio`` = within / between (0: copies coincide, ~1: no
        clustering); ``nn_accuracy``: fraction of codes whose nearest other code is in
        the same group; ``nn_chance``: its expectation for random codes
        (mean (n_g - 1) / (N - 1)); ``silhouette``: scikit-learn's silhouette score
        (-1..1; NaN for a single group).
    """
    from scipy.spatial.distance import pdist, squareform
    from sklearn.metrics import silhouette_score

    c = _codes(codes, min_n=2)
    g = np.asarray(groups)
    if g.shape != (c.shape[0],):
        raise InputError(f"groups must have one entry per code ({c.shape[0]}), got {g.shape}")
    labels, counts = np.unique(g, return_counts=True)
    if counts.min() < 2:
        raise InputError("every group needs at least two codes")
    d = squareform(pdist(c))
    same = g[:, None] == g[None, :]
    off = ~np.eye(len(g), dtype=bool)
    within = float(d[same & off].mean())
    between = float(d[~same].mean()) if (~same).any() else float("nan")
    d_nn = np.where(off, d, np.inf)
    nn = np.argmin(d_nn, axis=1)
    sil = float(silhouette_score(c, g)) if len(labels) > 1 and len(labels) < len(g) \
        else float("nan")
    return {
        "within": within,
        "between": between,
        "ratio": within / between if between > 0 else float("nan"),
        "nn_accuracy": float(np.mean(g[nn] == g)),
        "nn_chance": float(np.mean((counts[np.searchsorted(labels, g)] - 1) / (len(g) - 1))),
        "silhouette": sil,
    }


def classify_codes(codes: Any, labels: Sequence[Any], folds: int = 5, seed: int = 0
                   ) -> dict[str, Any]:
    """Cross-validated accuracy of a linear classifier on latent codes.

    A scikit-learn pipeline (StandardScaler, then multinomial LogisticRegression) is
    scored with stratified K-fold cross-validation; the folds are reduced to the size of
    the smallest class when there are few codes.

    Parameters
    ----------
    codes : (N, D) array
    labels : (N,) sequence
        Class of each code (e.g. the cell kind). At least two classes, each with at
        least two members.
    folds : int
        Requested number of folds (>= 2).
    seed : int
        Shuffling of the folds.

    Returns
    -------
    dict
        ``accuracy`` (share of correct out-of-fold predictions) with its 95 % Wilson
        interval ``accuracy_ci95`` (low, high), ``accuracy_mean``, ``accuracy_std``
        (over folds), ``per_fold`` (list), ``folds`` (used),
        ``classes`` (sorted), ``confusion`` ((K, K) int array of out-of-fold predictions,
        rows = true class), ``chance`` (fraction of the largest class).
    """
    from scipy.stats import binomtest
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    c = _codes(codes, min_n=4)
    y = np.asarray(labels)
    if y.shape != (c.shape[0],):
        raise InputError(f"labels must have one entry per code ({c.shape[0]}), got {y.shape}")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2 or counts.min() < 2:
        raise InputError("need at least two classes with at least two codes each, got "
                         f"{dict(zip(classes.tolist(), counts.tolist()))}")
    if folds < 2:
        raise InputError(f"folds must be >= 2, got {folds}")
    k = int(min(folds, counts.min()))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    scores = cross_val_score(clf, c, y, cv=cv)
    pred = cross_val_predict(clf, c, y, cv=cv)
    hits = int((pred == y).sum())
    ci = binomtest(hits, len(y)).proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "accuracy": hits / len(y),
        "accuracy_ci95": (float(ci.low), float(ci.high)),
        "accuracy_mean": float(scores.mean()),
        "accuracy_std": float(scores.std()),
        "per_fold": [float(s) for s in scores],
        "folds": k,
        "classes": classes.tolist(),
        "confusion": confusion_matrix(y, pred, labels=classes),
        "chance": float(counts.max() / counts.sum()),
    }


def cluster_scores(codes: Any, labels: Sequence[Any], seed: int = 0) -> dict[str, Any]:
    """How well the codes fall into one cluster per label, without a classifier.

    k-means with k = the number of labels (10 starts) on the codes as they are, scored
    against the labels by the adjusted Rand index, and the silhouette of the labels
    themselves (Euclidean distances). Unlike a classifier's accuracy, neither score
    rewards labels that are separable but spread over several clusters or mixed at their
    borders.

    Parameters
    ----------
    codes : (N, D) array
    labels : (N,) sequence
        Class of each code (e.g. the cell kind); at least two classes, fewer than N.
    seed : int
        Seed of the k-means starts.

    Returns
    -------
    dict
        ``ari`` (1: the k-means clusters are the labels; about 0 for a random
        partition; Steinley (2004) reads >= 0.90 excellent, >= 0.80 good, >= 0.65
        moderate recovery), ``silhouette`` (-1..1; Kaufman & Rousseeuw (1990): > 0.5
        reasonable, > 0.7 strong structure), ``k`` and ``clusters`` ((N,) int array of
        the k-means assignment).

    Raises
    ------
    InputError
        Labels of the wrong length, one class only, or one class per code.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    c = _codes(codes, min_n=3)
    y = np.asarray(labels)
    if y.shape != (c.shape[0],):
        raise InputError(f"labels must have one entry per code ({c.shape[0]}), got {y.shape}")
    k = len(np.unique(y))
    if not 2 <= k < len(y):
        raise InputError(f"need between 2 and N - 1 classes, got {k} for {len(y)} codes")
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(c)
    return {"ari": float(adjusted_rand_score(y, clusters)),
            "silhouette": float(silhouette_score(c, y)), "k": k, "clusters": clusters}


def random_rotation_dataset(dataset: str | os.PathLike, out: str | os.PathLike,
                            copies: int = 4, seed: int = 0,
                            sequences: Sequence[str] | None = None,
                            overwrite: bool = False) -> Path:
    """Write ``copies`` randomly rotated versions of each sequence of a prepared dataset.

    Paper Sec 5.2: 25 sequences x 4 random rotations = 100 training shapes, one rotation
    per time-evolving shape (the same for all frames). Rotations are uniform on SO(3)
    (``scipy.spatial.transform.Rotation.random``); each cube is turned about its centre
    with :func:`cellshapes.cube.rotate_sdf_sequence`, the outside filled with the
    sequence's clamp value (its largest stored SDF value).

    Parameters
    ----------
    dataset : path-like
        Prepared dataset (``cellshapes prepare``).
    out : path-like
        Output ``.h5``; sequence ``<name>_rot<k>`` is copy k of ``<name>``, with attrs
        ``source_sequence``, ``rotation_copy`` and ``rotation`` (the 3x3 matrix acting on
        (z, y, x) vectors) added.
    copies : int
        Rotated copies per sequence.
    seed : int
        Seed of the rotations.
    sequences : sequence of str, optional
        Subset of sequence names (default: all).
    overwrite : bool

    Returns
    -------
    Path
        ``out``.
    """
    from scipy.spatial.transform import Rotation

    from cellshapes.cube import rotate_sdf_sequence
    from cellshapes.io import SDFSequence, read_dataset, write_dataset

    if copies < 1:
        raise InputError(f"copies must be >= 1, got {copies}")
    seqs = read_dataset(dataset, names=sequences)
    mats = Rotation.random(len(seqs) * copies, random_state=seed).as_matrix()
    rotated = []
    for i, s in enumerate(seqs):
        clamp = float(np.max(s.sdf))
        for k in range(copies):
            r = mats[i * copies + k]
            attrs = {**s.attrs, "source_sequence": s.name, "rotation_copy": k,
                     "rotation": r}
            rotated.append(SDFSequence(f"{s.name}_rot{k}",
                                       rotate_sdf_sequence(s.sdf, r, clamp), attrs))
    return write_dataset(out, rotated, overwrite=overwrite,
                         attrs={"rotated_from": str(Path(dataset).resolve()),
                                "rotation_seed": seed, "copies": copies})


def principal_aligned_dataset(dataset: str | os.PathLike, out: str | os.PathLike,
                              overwrite: bool = False) -> Path:
    """Write every sequence of a dataset turned into its own principal frame.

    The plain-alignment baseline of notebook 04 (issue 33): sequence i is resampled as
    sdf'(y) = sdf(R_i y), R_i the principal axes of its first frame (the rotation
    ``ModelConfig.angle_init="principal"`` starts an equivariant model at, via
    :func:`cellshapes.training.loop.principal_angles`), turned about the cube centre with
    :func:`cellshapes.cube.rotate_sdf_sequence` (outside: the sequence's clamp value). A
    non-equivariant model trained on the result sees each sequence as the equivariant
    model sees it at its start.

    Parameters
    ----------
    dataset : path-like
        Prepared dataset (e.g. :func:`random_rotation_dataset`'s output).
    out : path-like
        Output ``.h5``; same sequence names and attributes, plus ``aligned_by`` (R_i).
    overwrite : bool

    Returns
    -------
    Path
        ``out``.
    """
    from cellshapes.cube import rotate_sdf_sequence
    from cellshapes.io import SDFSequence, read_dataset, write_dataset
    from cellshapes.sdf import principal_axes

    seqs = read_dataset(dataset)
    aligned = []
    for s in seqs:
        r = principal_axes(np.asarray(s.sdf[0]) <= 0, (1.0, 1.0, 1.0))
        aligned.append(SDFSequence(s.name, rotate_sdf_sequence(s.sdf, r.T, float(np.max(s.sdf))),
                                   {**s.attrs, "aligned_by": r}))
    return write_dataset(out, aligned, overwrite=overwrite,
                         attrs={"aligned_from": str(Path(dataset).resolve())})
