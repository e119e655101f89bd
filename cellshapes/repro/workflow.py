"""Cached building blocks the notebooks share: phantom datasets, trained runs, tables.

Each function is idempotent: a finished dataset or run found on disk is reused, so a
notebook re-run (or a second notebook that needs the same model) costs nothing. Reuse is
keyed (:mod:`cellshapes.repro.cache`) by everything that changes the result (kind,
profile, seed, full configs, input data), so a run made with another seed or from other
data is rebuilt, never reused. Nothing here contains model code; it only strings together
the public API. Where a notebook writes is decided once, by :func:`paths` (git-ignored
``<repo>/out/<profile>/`` unless published).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from cellshapes.errors import InputError
from cellshapes.repro.cache import cached, is_cached, path_identity
from cellshapes.repro.paths import NotebookPaths, figure_path, paths, repo_root  # noqa: F401
from cellshapes.repro.runs import (continue_run, run_dir, run_is_complete, run_key,  # noqa: F401
                                   train_or_load)

__all__ = ["setup", "Notebook", "repo_root", "NotebookPaths", "paths", "base_run", "describe_dataset",
           "phantom_dataset", "rotated_dataset", "train_or_load", "run_key", "run_is_complete",
           "comparison_table", "figure_path", "combined_dataset", "seeds", "write_claims",
           "run_dir", "continue_run", "first_frames"]


def phantom_dataset(kind: str, root: str | os.PathLike, profile: str = "smoke", seed: int = 0,
                    sequences: int | None = None, frames: int | None = None,
                    size: int | None = None, progress: bool = False) -> Path:
    """Procedural masks of ``kind`` prepared into ``root/<kind>_<profile>_s<seed>.h5``.

    Sizes default to the profile (``config.PROFILES[profile]["data"]``); the masks are
    drawn at 1.5x the cube size and resampled, as real data would be.

    Returns
    -------
    Path
        The prepared dataset (reused while its key matches); the masks stay beside it in
        ``<name>_masks/`` (:func:`cellshapes.repro.experiments.regrid_dataset`).
    """
    from cellshapes.config import data_defaults
    from cellshapes.phantoms import write_phantoms
    from cellshapes.prepare import prepare_dataset

    d = data_defaults(profile)
    n = sequences or d["sequences"]
    t = frames or d["frames"]
    s = size or d["size"]
    root = Path(root)
    name = f"{kind}_{profile}_n{n}_t{t}_s{s}_seed{seed}"
    drawn = dict(kind="phantoms", cell_kind=kind, sequences=n, frames=t,
                 size=int(round(s * 1.5)), seed=seed)
    masks = cached(root / f"{name}_masks", drawn, lambda out: write_phantoms(
        kind, out, sequences=n, frames=t, size=drawn["size"], seed=seed, overwrite=True,
        progress=progress))

    def prepare(out: Path) -> None:
        prepare_dataset(sorted(masks.glob("*.tif")), out, size=s, cell_type=kind,
                        overwrite=True, progress=progress)

    key = dict(kind="phantom_dataset", profile=profile, size=s, seed=seed,
               masks=path_identity(masks))
    return cached(root / f"{name}.h5", key, prepare)


def rotated_dataset(dataset: str | os.PathLike, copies: int, seed: int = 0) -> Path:
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
                                                              seed=int(seed), overwrite=True))


def first_frames(dataset: str | os.PathLike, frames: int) -> Path:
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
    return cached(out, key, cut)


#: The note of every comparison row at the ``smoke`` profile.
SMOKE_NOTE = "smoke profile: proves the path runs, not a reproduction"


def comparison_table(rows: Sequence[dict[str, Any]], profile: str):
    """The closing "paper vs this run" table of a notebook.

    Parameters
    ----------
    rows : sequence of dict
        Each with ``quantity``, ``paper`` and ``ours`` (numbers or text), optionally
        ``note`` (e.g. "direction reproduced", "not reproduced").
    profile : str
        Named in the column header, so a smoke-profile number is never mistaken for a
        reproduction; at ``smoke`` every note says so.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    df = pd.DataFrame(list(rows))
    if profile == "smoke":
        df["note"] = SMOKE_NOTE
    for col in ("quantity", "paper", "ours"):
        if col not in df:
            df[col] = ""
    df = df.rename(columns={"ours": f"this run ({profile} profile)"})
    return df


def seeds(profile: str, seed: int = 0) -> list[int]:
    """The training seeds a notebook runs every compared arm with.

    ``seed + k`` for each k of :data:`cellshapes.config.PROFILE_SEEDS` (study and paper:
    ``seed, seed + 1, seed + 2``; smoke and quick: ``seed`` alone).
    """
    from cellshapes.config import profile_seeds

    return [int(seed) + k for k in profile_seeds(profile)]


def write_claims(notebook: str, profile: str, seed_list: Sequence[int],
                 claims: Sequence[dict[str, Any]], results_dir: str | os.PathLike):
    """Write ``results_dir/<notebook>.json`` and return the claims as a table.

    Parameters
    ----------
    notebook : str
        E.g. ``"08_omega_sweep"``.
    profile : str
        Profile the numbers were reached at.
    seed_list : sequence of int
        Seeds in the order of every claim's ``per_seed``.
    claims : sequence of dict
        :func:`cellshapes.repro.stats.claim_record` outputs.
    results_dir : path-like
        The notebook's ``results_dir`` (:func:`paths`).

    Returns
    -------
    pandas.DataFrame
        One row per claim: claim, paper, per-seed values, mean +- sd, verdict.
    """
    import pandas as pd

    from cellshapes.repro.results import write_results

    path = write_results(Path(results_dir) / f"{notebook}.json", notebook, profile,
                         list(seed_list), claims)
    rows = [{"claim": c["claim"], "paper": c["paper"],
             "per seed": ", ".join(f"{v:.4g}" for v in c["per_seed"]),
             "mean +- sd": f"{c['mean']:.4g} +- {c['sd']:.2g}" if c["sd"] is not None
             else f"{c['mean']:.4g}", "verdict": c["verdict"]} for c in claims]
    print(f"results written to {path}")
    return pd.DataFrame(rows).rename_axis(f"{profile} profile, seeds {list(seed_list)}")


def combined_dataset(paths: Sequence[str | os.PathLike], out: str | os.PathLike,
                     prefixes: Sequence[str] | None = None) -> Path:
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
    return cached(out, key, build)


def base_run(kind: str, data_dir: str | os.PathLike, runs_dir: str | os.PathLike,
             profile: str = "smoke", device: str = "auto", seed: int = 0, train: bool = True,
             progress: bool = False, train_seed: int | None = None) -> tuple[Path, Path, str]:
    """The shared base model of a kind and profile: pretrained, cached or trained.

    Its data and training settings are the profile's, changed by
    :data:`cellshapes.config.BASE_RUNS` (study: 4 x 5 frames, 400 epochs with the plateau
    rule). With ``train=False`` the shipped model ``<kind>_<profile>`` is used when it
    exists and was made with the same training seed (:mod:`cellshapes.pretrained`);
    otherwise the run (:func:`run_dir` of these settings) is reused if complete with the
    same key (:func:`run_key`), else trained.

    Parameters
    ----------
    seed : int
        Seed of the phantom data (and of training unless ``train_seed`` is given).
    train_seed : int, optional
        Training seed, for several models of the same data (default ``seed``).

    Returns
    -------
    dataset : Path
        The phantom dataset (:func:`phantom_dataset`).
    run : Path
        The run directory.
    source : str
        How the run was obtained, in words (for the notebook to print).
    """
    from cellshapes import pretrained
    from cellshapes.config import base_settings

    tseed = int(seed if train_seed is None else train_seed)
    base = base_settings(profile)
    extra = base["train"]
    dataset = phantom_dataset(kind, data_dir, profile, seed, sequences=base["sequences"],
                              frames=base["frames"])
    name = f"{kind}_{profile}"
    shipped = pretrained.available().get(name)
    if not train and shipped is not None and int(shipped["seed"]) == tseed and seed == 0:
        return dataset, pretrained.load(name), f"pretrained model {name!r} (checksum ok)"
    run = run_dir(runs_dir, profile, kind, sequences=base["sequences"], frames=base["frames"],
                  epochs=extra.get("epochs"), seed=tseed)
    why = "" if train else f" (no pretrained model {name!r} with seed {tseed}, so trained)"
    hit = is_cached(run, run_key(dataset, profile, tseed, **extra), run_is_complete)
    train_or_load(dataset, run, profile, device, tseed, progress=progress, **extra)
    return dataset, run, f"{'cached run' if hit else 'trained'} {run}{why}"


def describe_dataset(path: str | os.PathLike):
    """Descriptors of every frame of every sequence of a prepared/generated dataset.

    Sequences with an empty frame (a synthesized code can decode to nothing) are
    skipped and named, not fatal.

    Returns
    -------
    table : pandas.DataFrame
        :func:`cellshapes.measure.metrics.describe_sequence` rows plus a ``sequence`` column.
    skipped : list of str
        Names of the sequences left out.
    """
    import pandas as pd

    from cellshapes.io import read_dataset
    from cellshapes.measure.metrics import describe_sequence

    rows, skipped = [], []
    for seq in read_dataset(path):
        voxel = float(seq.attrs.get("voxel_um", 1.0))
        try:
            df = describe_sequence(seq.sdf, (voxel,) * 3, is_sdf=True)
        except InputError:
            skipped.append(seq.name)
            continue
        df.insert(0, "sequence", seq.name)
        rows.append(df)
    if not rows:
        raise InputError(f"every sequence of {path} has an empty frame")
    return pd.concat(rows, ignore_index=True), skipped


# ------------------------------------------------------------------------- the runner


@dataclass(frozen=True)
class Notebook:
    """What a notebook's first cell sets up (:func:`setup`).

    Attributes
    ----------
    name : str
        ``NN_topic``, the prefix of the notebook's figures, runs and results file.
    profile, device : str
        The notebook parameters, checked.
    seeds : list of int
        Training seeds of every compared arm (:func:`seeds`).
    data, runs, figures, results : Path
        Absolute output folders (:func:`cellshapes.repro.paths.paths`).
    settings : dict
        The notebook's sizes at ``profile`` (:data:`cellshapes.config.NOTEBOOK_PRESETS`;
        empty where the profile alone decides).
    """

    name: str
    profile: str
    device: str
    seeds: list[int]
    data: Path
    runs: Path
    figures: Path
    results: Path
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def dirs(self) -> tuple[Path, Path, Path, Path]:
        """``(data, runs, figures, results)``."""
        return self.data, self.runs, self.figures, self.results

    def figure(self, what: str) -> Path:
        """``<figures>/<name>_<what>.png`` (folder created)."""
        return figure_path(self.name, what, self.figures)

    def work(self, *parts: str) -> Path:
        """This notebook's own run folder, ``<runs>/<profile>/<name>[/parts...]`` (not created)."""
        return Path(self.runs, self.profile, self.name, *parts)

    def run(self, suffix: str) -> Path:
        """A run folder of this notebook beside the shared ones: ``<runs>/<profile>/<name>_<suffix>``."""
        return Path(self.runs, self.profile, f"{self.name}_{suffix}")


def setup(notebook: str, profile: str, device: str = "auto", seed: int = 0,
          data_dir: str | os.PathLike | None = None, runs_dir: str | os.PathLike | None = None,
          figures_dir: str | os.PathLike | None = None,
          results_dir: str | os.PathLike | None = None, *, verbose: bool = True) -> Notebook:
    """The first cell of every notebook: check the parameters, resolve the folders.

    Fails at once with a clear error (not in a late cell) for an unknown profile, a
    device that is not there (``cuda`` on a CPU machine) or a profile the notebook has no
    preset for; sets the figures' house style (seaborn ``whitegrid``, pandas tables at 4
    significant digits); prints the device, the seeds, the settings and where figures go.

    Parameters
    ----------
    notebook : str
        ``NN_topic``.
    profile, device, seed
        The notebook parameters.
    data_dir, runs_dir, figures_dir, results_dir : path or None
        The folder parameters (None: the git-ignored defaults of :func:`paths`).
    verbose : bool
        Print the one-line summary.

    Returns
    -------
    Notebook
    """
    from cellshapes.config import notebook_preset
    from cellshapes.resources import check_device

    check_device(device, where="notebook parameter device")
    where = paths(profile, data_dir, runs_dir, figures_dir, results_dir)
    _house_style()
    nb = Notebook(notebook, profile, device, seeds(profile, seed), *where,
                  settings=notebook_preset(notebook, profile))
    if verbose:
        print(f"{notebook} at {profile}: device {device}, training seeds {nb.seeds}"
              f"{', settings ' + str(nb.settings) if nb.settings else ''}; figures go to "
              f"{nb.figures}")
    return nb


def _house_style() -> None:
    """seaborn's whitegrid theme (where seaborn is installed) and 4-digit pandas tables."""
    import pandas as pd

    pd.set_option("display.precision", 4)
    try:
        import seaborn as sns
    except ImportError:  # the notebooks extra is not installed: matplotlib defaults
        return
    sns.set_theme(style="whitegrid", context="notebook")
