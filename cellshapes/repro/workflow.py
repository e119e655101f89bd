"""Cached building blocks the notebooks share: trained runs, tables, claims, the set-up cell.

Each function is idempotent: a finished dataset or run found on disk is reused, so a
notebook re-run (or a second notebook that needs the same model) costs nothing. Reuse is
keyed (:mod:`cellshapes.repro.cache`) by everything that changes the result (kind,
profile, seed, full configs, input data), so a run made with another seed or from other
data is rebuilt, never reused. Nothing here contains model code; it only strings together
the public API; the phantom data sets live in :mod:`cellshapes.repro.datasets` (re-exported
here). Where a notebook writes is decided once, by :func:`paths` (git-ignored
``<repo>/out/<profile>/`` unless published).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from cellshapes.repro.cache import is_cached
from cellshapes.repro.datasets import (aligned_dataset, combined_dataset,  # noqa: F401
                                       describe_dataset, first_frames, phantom_dataset,
                                       rotated_dataset)
from cellshapes.repro.paths import NotebookPaths, figure_path, paths, repo_root  # noqa: F401
from cellshapes.repro.runs import (continue_run, epochs_trained, run_dir,  # noqa: F401
                                   run_is_complete, run_key, stopped_on_plateau, train_or_load)

__all__ = ["setup", "Notebook", "repo_root", "NotebookPaths", "paths", "base_run", "describe_dataset",
           "phantom_dataset", "rotated_dataset", "train_or_load", "run_key", "run_is_complete",
           "comparison_table", "figure_path", "combined_dataset", "seeds", "write_claims",
           "run_dir", "continue_run", "first_frames", "base_run_dir", "epochs_trained",
           "stopped_on_plateau", "aligned_dataset"]


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
                 claims: Sequence[dict[str, Any]], results_dir: str | os.PathLike,
                 models: dict[str, str] | None = None):
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
    models : dict, optional
        Where each model came from, e.g. the ``source`` strings of :func:`base_run`
        (a shipped pretrained model says so here).

    Returns
    -------
    pandas.DataFrame
        One row per claim: claim, paper, per-seed values, mean +- sd, verdict.
    """
    import pandas as pd

    from cellshapes.repro.results import write_results

    path = write_results(Path(results_dir) / f"{notebook}.json", notebook, profile,
                         list(seed_list), claims, models=models)
    rows = [{"claim": c["claim"], "paper": c["paper"],
             "per seed": ", ".join(f"{v:.4g}" for v in c["per_seed"]),
             "mean +- sd": f"{c['mean']:.4g} +- {c['sd']:.2g}" if c["sd"] is not None
             else f"{c['mean']:.4g}", "verdict": c["verdict"]} for c in claims]
    print(f"results written to {path}")
    return pd.DataFrame(rows).rename_axis(f"{profile} profile, seeds {list(seed_list)}")


def base_run_dir(runs_dir: str | os.PathLike, profile: str, kind: str,
                 train_seed: int = 0) -> Path:
    """Run folder of the base model of ``kind`` at ``profile`` (:func:`base_run`).

    :func:`run_dir` of the :data:`cellshapes.config.BASE_RUNS` settings, e.g.
    ``<runs_dir>/study/filopodial_n4_t5_s64_e400_seed1``.
    """
    from cellshapes.config import base_settings

    base = base_settings(profile)
    return run_dir(runs_dir, profile, kind, sequences=base["sequences"], frames=base["frames"],
                   epochs=base["train"].get("epochs"), seed=int(train_seed))


def base_run(kind: str, data_dir: str | os.PathLike, runs_dir: str | os.PathLike,
             profile: str = "smoke", device: str = "auto", seed: int = 0, train: bool = True,
             progress: bool = False, train_seed: int | None = None) -> tuple[Path, Path, str]:
    """The shared base model of a kind and profile: pretrained, cached or trained.

    Its data and training settings are the profile's, changed by
    :data:`cellshapes.config.BASE_RUNS` (study: 4 x 5 frames, 400 epochs with the plateau
    rule). With ``train=False`` the shipped model ``<kind>_<profile>`` is used when it
    exists and was made with the same training settings (the profile's, as they are now:
    a model trained before a profile default changed is not used) and seed and, where it
    records them, phantoms of the same data seed (:mod:`cellshapes.pretrained`);
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
    from cellshapes.config import base_settings, to_dict, train_config

    tseed = int(seed if train_seed is None else train_seed)
    base = base_settings(profile)
    extra = base["train"]
    dataset = phantom_dataset(kind, data_dir, profile, seed, sequences=base["sequences"],
                              frames=base["frames"])
    name = f"{kind}_{profile}"
    shipped = pretrained.available().get(name)
    # the shipped model's phantoms, where recorded (pretrained.phantom_record), are these
    same_data = (shipped or {}).get("phantoms") is None or shipped["phantoms"]["seed"] == seed
    same_train = shipped is not None and (pretrained.train_settings(name) ==
                                          to_dict(train_config(profile, seed=tseed, **extra)))
    if not train and same_train and same_data:
        return dataset, pretrained.load(name), f"pretrained model {name!r} (checksum ok)"
    run = base_run_dir(runs_dir, profile, kind, tseed)
    why = "" if train else (f" (no pretrained model {name!r} with seed {tseed} and the "
                            f"{profile} profile's training settings, so trained)")
    hit = is_cached(run, run_key(dataset, profile, tseed, **extra), run_is_complete)
    train_or_load(dataset, run, profile, device, tseed, progress=progress, **extra)
    where = f"{profile}/{run.name}"  # under runs_dir: no machine-specific path in results
    return dataset, run, f"{'cached run' if hit else 'trained'} {where}{why}"


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
