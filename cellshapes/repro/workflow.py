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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from cellshapes.repro.cache import is_cached
from cellshapes.repro.datasets import (aligned_dataset, combined_dataset,  # noqa: F401
                                       describe_dataset, first_frames, phantom_dataset,
                                       phantom_dataset_path, rotated_dataset)
from cellshapes.repro.paths import NotebookPaths, figure_path, paths, repo_root  # noqa: F401
from cellshapes.repro.presets import base_settings, notebook_preset
from cellshapes.repro.runs import (continue_run, epochs_trained, run_dir,  # noqa: F401
                                   run_is_complete, run_key, stopped_on_plateau, train_or_load)
from cellshapes.repro.spec import RunSpec, stored_overrides

__all__ = ["setup", "Notebook", "repo_root", "NotebookPaths", "paths", "base_run", "describe_dataset",
           "phantom_dataset", "rotated_dataset", "train_or_load", "run_key", "run_is_complete",
           "comparison_table", "figure_path", "combined_dataset", "seeds", "write_claims",
           "run_dir", "continue_run", "first_frames", "base_run_dir", "epochs_trained",
           "stopped_on_plateau", "aligned_dataset", "RunSpec", "shipped_base_model",
           "phantom_dataset_path"]


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


def _base_dataset(kind: str, data_dir: str | os.PathLike, profile: str, seed: int) -> Path:
    base = base_settings(profile)
    return phantom_dataset_path(kind, data_dir, profile, seed, base.sequences, base.frames)


def base_run_dir(runs_dir: str | os.PathLike, data_dir: str | os.PathLike, profile: str,
                 kind: str, seed: int = 0, train_seed: int | None = None) -> Path:
    """Run folder of the base model of ``kind`` at ``profile`` (:func:`base_run`).

    :meth:`RunSpec.dir` of the :data:`cellshapes.repro.presets.BASE_RUNS` settings on the
    phantoms of data seed ``seed``, e.g.
    ``<runs_dir>/study/filopodial_study_n4_t5_s64_seed0_g2/epochs-400_plateau_epochs-50_plateau_tol-0.01_seed1``.
    """
    tseed = int(seed if train_seed is None else train_seed)
    return RunSpec.of(_base_dataset(kind, data_dir, profile, seed), profile, tseed,
                      **base_settings(profile).train).dir(runs_dir)


def shipped_base_model(kind: str, profile: str, seed: int = 0,
                       train_seed: int | None = None) -> str | None:
    """The shipped pretrained model that is the base model of ``kind`` at ``profile``.

    ``<kind>_<profile>`` (:mod:`cellshapes.pretrained`) qualifies when its training seed is
    ``train_seed``, the model and training settings it changed from the profile's defaults
    are those of :data:`~cellshapes.repro.presets.BASE_RUNS` (fields added to the config
    classes since it was trained count as default, :func:`~cellshapes.repro.spec.stored_overrides`),
    and, where it records them, it learnt phantoms of data seed ``seed``.

    Returns
    -------
    str or None
        The registry name, or None when no shipped model qualifies.
    """
    from cellshapes import pretrained
    from cellshapes.training.checkpoint import read_config

    tseed = int(seed if train_seed is None else train_seed)
    name = f"{kind}_{profile}"
    shipped = pretrained.available().get(name)
    if shipped is None:
        return None
    config = read_config(pretrained.ROOT / name)
    # the shipped model's phantoms, where recorded (pretrained.phantom_record), are these
    same_data = shipped.get("phantoms") is None or shipped["phantoms"]["seed"] == seed
    want = RunSpec.of(_base_dataset(kind, ".", profile, seed), profile, tseed,
                      **base_settings(profile).train)
    same = (stored_overrides(config, profile) == (want.model_overrides(),
                                                  want.train_overrides())
            and int(config["train"].get("seed", 0)) == tseed)
    return name if same and same_data else None


def base_run(kind: str, data_dir: str | os.PathLike, runs_dir: str | os.PathLike,
             profile: str = "smoke", device: str = "auto", seed: int = 0, train: bool = True,
             progress: bool = False, train_seed: int | None = None,
             rebuild: bool = False) -> tuple[Path, Path, str]:
    """The shared base model of a kind and profile: pretrained, cached or trained.

    Its data and training settings are the profile's, changed by
    :data:`cellshapes.repro.presets.BASE_RUNS` (study: 4 x 5 frames, 400 epochs with the
    plateau rule). With ``train=False`` the shipped model ``<kind>_<profile>`` is used when
    :func:`shipped_base_model` accepts it (the same changed settings, seed and phantoms);
    otherwise the run (:func:`base_run_dir`) is reused if complete with the same key
    (:meth:`RunSpec.key`), else trained.

    Parameters
    ----------
    seed : int
        Seed of the phantom data (and of training unless ``train_seed`` is given).
    train_seed : int, optional
        Training seed, for several models of the same data (default ``seed``).
    rebuild : bool
        Retrain a run made from other inputs (:func:`train_or_load`).

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

    tseed = int(seed if train_seed is None else train_seed)
    base = base_settings(profile)
    dataset = phantom_dataset(kind, data_dir, profile, seed, sequences=base.sequences,
                              frames=base.frames)
    name = shipped_base_model(kind, profile, seed, tseed)
    if not train and name is not None:
        return dataset, pretrained.load(name), f"pretrained model {name!r} (checksum ok)"
    spec = RunSpec.of(dataset, profile, tseed, **base.train)
    run = spec.dir(runs_dir)
    why = "" if train else (f" (no pretrained model {kind}_{profile!r} with seed {tseed} and "
                            f"the {profile} profile's base settings, so trained)")
    hit = is_cached(run, spec.key(), run_is_complete)
    run = train_or_load(dataset, runs_dir, profile, device, tseed, progress=progress,
                        rebuild=rebuild, **base.train)
    where = run.relative_to(runs_dir).as_posix()  # no machine-specific path in results
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
    settings : preset dataclass or None
        The notebook's sizes at ``profile`` (:data:`cellshapes.repro.presets.NOTEBOOK_PRESETS`;
        None where the profile alone decides).
    """

    name: str
    profile: str
    device: str
    seeds: list[int]
    data: Path
    runs: Path
    figures: Path
    results: Path
    settings: Any = None

    @property
    def dirs(self) -> tuple[Path, Path, Path, Path]:
        """``(data, runs, figures, results)``."""
        return self.data, self.runs, self.figures, self.results

    def figure(self, what: str) -> Path:
        """``<figures>/<name>_<what>.png`` (folder created)."""
        return figure_path(self.name, what, self.figures)

    def work(self, *parts: str) -> Path:
        """This notebook's own output folder, ``<runs>/<profile>/<name>[/parts...]`` (not
        created); trained runs are named by their spec (:func:`train_or_load`)."""
        return Path(self.runs, self.profile, self.name, *parts)


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
    from cellshapes.resources import check_device

    check_device(device, where="notebook parameter device")
    where = paths(profile, data_dir, runs_dir, figures_dir, results_dir)
    _house_style()
    nb = Notebook(notebook, profile, device, seeds(profile, seed), *where,
                  settings=notebook_preset(notebook, profile))
    if verbose:
        settings = "" if nb.settings is None else f", settings {nb.settings}"
        print(f"{notebook} at {profile}: device {device}, training seeds {nb.seeds}"
              f"{settings}; figures go to {nb.figures}")
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
