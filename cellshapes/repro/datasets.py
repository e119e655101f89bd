"""Cached phantom data sets for the notebooks: drawn, prepared, rotated, cut, combined.

Each function is idempotent: a data set found on disk with the same key
(:mod:`cellshapes.repro.cache`: kind, sizes, seed, the identity of its inputs) is reused;
one made from other inputs is refused (:class:`~cellshapes.repro.cache.StaleOutputError`)
and rebuilt only with ``rebuild=True``.
:mod:`cellshapes.repro.workflow` re-exports every name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from cellshapes.errors import InputError
from cellshapes.repro.cache import cached, path_identity

__all__ = ["phantom_dataset", "phantom_dataset_path", "rotated_dataset", "aligned_dataset",
           "first_frames", "combined_dataset", "describe_dataset"]


def phantom_dataset_path(kind: str, root: str | os.PathLike, profile: str = "smoke",
                         seed: int = 0, sequences: int | None = None, frames: int | None = None,
                         size: int | None = None) -> Path:
    """Where :func:`phantom_dataset` puts these phantoms (nothing is made).

    ``root/<kind>_<profile>_n<sequences>_t<frames>_s<size>_seed<seed>_g<generator>.h5``:
    sizes default to the profile's, ``g`` is :data:`cellshapes.phantoms.GENERATOR_VERSION`,
    so phantoms of a changed generator never reuse the masks of the old one.
    """
    from cellshapes.config import data_defaults
    from cellshapes.phantoms import GENERATOR_VERSION

    d = data_defaults(profile)
    n, t, s = sequences or d["sequences"], frames or d["frames"], size or d["size"]
    return Path(root) / f"{kind}_{profile}_n{n}_t{t}_s{s}_seed{seed}_g{GENERATOR_VERSION}.h5"


def phantom_dataset(kind: str, root: str | os.PathLike, profile: str = "smoke", seed: int = 0,
                    sequences: int | None = None, frames: int | None = None,
                    size: int | None = None, progress: bool = False,
                    rebuild: bool = False) -> Path:
    """Procedural masks of ``kind`` prepared into :func:`phantom_dataset_path`.

    Sizes default to the profile (``config.PROFILES[profile]["data"]``); the masks are
    drawn at 1.5x the cube size and resampled, as real data would be.

    Parameters
    ----------
    rebuild : bool
        Delete and rebuild masks or a dataset made from other inputs (default: refuse,
        :class:`~cellshapes.repro.cache.StaleOutputError`).

    Returns
    -------
    Path
        The prepared dataset (reused while its key matches); the masks stay beside it in
        ``<name>_masks/`` (:func:`cellshapes.repro.experiments.regrid_dataset`).
    """
    from cellshapes.config import data_defaults
    from cellshapes.phantoms import GENERATOR_VERSION, write_phantoms
    from cellshapes.prepare import prepare_dataset

    d = data_defaults(profile)
    n = sequences or d["sequences"]
    t = frames or d["frames"]
    s = size or d["size"]
    out = phantom_dataset_path(kind, root, profile, seed, n, t, s)
    drawn = dict(kind="phantoms", cell_kind=kind, sequences=n, frames=t,
                 size=int(round(s * 1.5)), seed=seed, generator_version=GENERATOR_VERSION)
    masks = cached(out.with_name(f"{out.stem}_masks"), drawn, lambda o: write_phantoms(
        kind, o, sequences=n, frames=t, size=drawn["size"], seed=seed, overwrite=True,
        progress=progress), rebuild=rebuild)

    def prepare(o: Path) -> None:
        prepare_dataset(sorted(masks.glob("*.tif")), o, size=s, cell_type=kind,
                        overwrite=True, progress=progress)

    key = dict(kind="phantom_dataset", profile=profile, size=s, seed=seed,
               masks=path_identity(masks))
    return cached(out, key, prepare, rebuild=rebuild)


def rotated_dataset(dataset: str | os.PathLike, copies: int, seed: int = 0,
                    rebuild: bool = False) -> Path:
    """``copies`` random rotations of each sequence of ``dataset`` (cached beside it).

    :func:`cellshapes.latent.random_rotation_dataset` written to
    ``<name>_rot<copies>_seed<seed>.h5`` next to ``dataset`` (paper Sec 5.2).

    Returns
    -------
    Path
        The rotated dataset (reused while its key matches).
    """
    from cellshapes.latent import random_rotation_dataset

    dataset = Path(dataset)
    out = dataset.with_name(f"{dataset.stem}_rot{int(copies)}_seed{int(seed)}.h5")
    key = dict(kind="rotated_dataset", copies=int(copies), seed=int(seed),
               source=path_identity(dataset))
    return cached(out, key, lambda o: random_rotation_dataset(dataset, o, copies=int(copies),
                                                              seed=int(seed), overwrite=True),
                  rebuild=rebuild)


def aligned_dataset(dataset: str | os.PathLike, rebuild: bool = False) -> Path:
    """Every sequence of ``dataset`` turned into its principal frame (cached beside it).

    :func:`cellshapes.latent.principal_aligned_dataset` written to ``<name>_aligned.h5``
    next to ``dataset`` (notebook 04's plain-alignment baseline).

    Returns
    -------
    Path
        The aligned dataset (reused while its key matches).
    """
    from cellshapes.latent import principal_aligned_dataset

    dataset = Path(dataset)
    out = dataset.with_name(f"{dataset.stem}_aligned.h5")
    key = dict(kind="aligned_dataset", source=path_identity(dataset))
    return cached(out, key, lambda o: principal_aligned_dataset(dataset, o, overwrite=True),
                  rebuild=rebuild)


def first_frames(dataset: str | os.PathLike, frames: int, rebuild: bool = False) -> Path:
    """The first ``frames`` frames of every sequence of ``dataset`` (cached beside it).

    Per-frame attributes (arrays whose first axis has one entry per frame, e.g.
    ``centroid_um``, ``components``) are cut alike; the rest is kept. For data whose
    kinds overlap: dividing cells before their division, filopodial cells while their
    protrusions are still short (notebook 10).

    Returns
    -------
    Path
        ``<name>_first<frames>.h5`` next to ``dataset`` (reused while its key matches).

    Raises
    ------
    InputError
        ``frames`` < 1, or a sequence has fewer frames.
    """
    import numpy as np

    from cellshapes.io import SDFSequence, read_dataset, write_dataset

    k = int(frames)
    if k < 1:
        raise InputError(f"frames must be >= 1, got {frames!r}")
    dataset = Path(dataset)
    out = dataset.with_name(f"{dataset.stem}_first{k}.h5")

    def cut(o: Path) -> None:
        seqs = []
        for q in read_dataset(dataset):
            t = len(q.sdf)
            if t < k:
                raise InputError(f"{dataset}: sequence {q.name} has {t} frames, fewer than {k}")
            attrs = {a: (v[:k] if isinstance(v, np.ndarray) and v.ndim and len(v) == t
                         and a != "spacing_um" else v) for a, v in q.attrs.items()}
            seqs.append(SDFSequence(q.name, q.sdf[:k], attrs))
        write_dataset(o, seqs, overwrite=True, attrs={"first_frames_of": str(dataset)})

    key = dict(kind="first_frames", frames=k, source=path_identity(dataset))
    return cached(out, key, cut, rebuild=rebuild)


def combined_dataset(paths: Sequence[str | os.PathLike], out: str | os.PathLike,
                     prefixes: Sequence[str] | None = None, rebuild: bool = False) -> Path:
    """One prepared dataset holding the sequences of several (reused if it exists).

    Sequence ``<name>`` of ``paths[i]`` becomes ``<prefix_i>_<name>`` so names stay
    unique; the prefix defaults to the sequence's ``cell_type`` attribute (or
    ``set<i>``), which every sequence keeps. Cube sizes must agree.

    Returns
    -------
    Path
        ``out`` (reused while its key, the inputs' identities and prefixes, matches).
    """
    from cellshapes.io import SDFSequence, read_dataset, write_dataset

    if prefixes is not None and len(prefixes) != len(paths):
        raise InputError(f"{len(prefixes)} prefixes for {len(paths)} datasets")

    def build(out: Path) -> None:
        seqs = []
        for i, path in enumerate(paths):
            for s in read_dataset(path):
                prefix = prefixes[i] if prefixes else str(s.attrs.get("cell_type") or f"set{i}")
                seqs.append(SDFSequence(f"{prefix}_{s.name}", s.sdf, dict(s.attrs)))
        sizes = {s.sdf.shape[1:] for s in seqs}
        if len(sizes) > 1:
            raise InputError(f"datasets have different cube sizes {sorted(sizes)}")
        write_dataset(out, seqs, overwrite=True,
                      attrs={"combined_from": [str(Path(p)) for p in paths]})

    key = dict(kind="combined_dataset", prefixes=list(prefixes) if prefixes else None,
               sources=[path_identity(p) for p in paths])
    return cached(out, key, build, rebuild=rebuild)


def describe_dataset(path: str | os.PathLike, per_daughter: bool = False):
    """Descriptors of every frame of every sequence of a prepared/generated dataset.

    Sequences with an empty frame (a synthesized code can decode to nothing) are
    skipped and named, not fatal.

    Parameters
    ----------
    path : path-like
    per_daughter : bool
        Describe each sequence as two daughters (dividing cells, paper Sec 4.4:
        :func:`cellshapes.measure.daughters.describe_daughters`).

    Returns
    -------
    table : pandas.DataFrame
        :func:`cellshapes.measure.metrics.describe_sequence` rows plus a ``sequence`` column
        (with ``per_daughter``: the daughters' rows).
    skipped : list of str
        Names of the sequences left out.
    """
    import pandas as pd

    from cellshapes.io import read_dataset
    from cellshapes.measure.daughters import describe_daughters
    from cellshapes.measure.metrics import describe_sequence

    rows, skipped = [], []
    for seq in read_dataset(path):
        voxel = float(seq.attrs.get("voxel_um", 1.0))
        try:
            if per_daughter:
                df = describe_daughters(seq.sdf, (voxel,) * 3, seq.name, is_sdf=True)
            else:
                df = describe_sequence(seq.sdf, (voxel,) * 3, is_sdf=True)
                df.insert(0, "sequence", seq.name)
        except InputError:
            skipped.append(seq.name)
            continue
        rows.append(df)
    if not rows:
        raise InputError(f"every sequence of {path} has an empty frame")
    return pd.concat(rows, ignore_index=True), skipped
