"""Trained runs the notebooks share: named and keyed by their spec, trained once.

:func:`train_or_load` trains the run a :class:`~cellshapes.repro.spec.RunSpec` describes
in the folder the spec names, unless it is complete there with the same key;
:func:`continue_run` trains a copy of a finished run further. Nothing here contains model
code; it strings together :func:`cellshapes.training.loop.train` and the keyed cache
(:mod:`cellshapes.repro.cache`). How far a run got is the library's
(:mod:`cellshapes.training.rundir`), re-exported here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cellshapes.errors import InputError
from cellshapes.repro.cache import cached, path_identity
from cellshapes.repro.spec import RunSpec
from cellshapes.training.rundir import epochs_trained, run_is_complete, stopped_on_plateau

__all__ = ["run_is_complete", "stopped_on_plateau", "epochs_trained", "run_key",
           "train_or_load", "run_dir", "continue_run", "RunSpec"]


def run_key(dataset: str | os.PathLike, profile: str = "smoke", seed: int = 0,
            model: dict[str, Any] | None = None, **train_overrides: Any) -> dict[str, Any]:
    """Cache key of the run :func:`train_or_load` trains with these arguments.

    Returns
    -------
    dict
        :meth:`RunSpec.key`: profile, seed, the settings that differ from the profile's,
        the dataset's identity, the package and phantom-generator versions.
    """
    return RunSpec.of(dataset, profile, seed, model, **train_overrides).key()


def run_dir(runs_dir: str | os.PathLike, dataset: str | os.PathLike, profile: str = "smoke",
            seed: int = 0, model: dict[str, Any] | None = None, **train_overrides: Any) -> Path:
    """The folder :func:`train_or_load` trains these arguments' run in (:meth:`RunSpec.dir`),
    e.g. ``<runs_dir>/quick/filopodial_quick_n4_t4_s48_seed0/omega0-10_epochs-60_seed0``."""
    return RunSpec.of(dataset, profile, seed, model, **train_overrides).dir(runs_dir)


def train_or_load(dataset: str | os.PathLike, runs_dir: str | os.PathLike,
                  profile: str = "smoke", device: str = "auto", seed: int = 0,
                  progress: bool = True, model: dict[str, Any] | None = None,
                  rebuild: bool = False, **train_overrides: Any) -> Path:
    """Train the run of ``dataset`` with these settings, unless it is complete already.

    The run lives in :meth:`RunSpec.dir` under ``runs_dir`` (a name of the settings that
    differ from the profile's, and the seed). A run found there is reused if its key
    (:meth:`RunSpec.key`) equals this call's, resumed if it is incomplete; a run with
    another key (other data, another package or generator version) is refused with
    :class:`~cellshapes.repro.cache.StaleOutputError` unless ``rebuild``.

    Parameters
    ----------
    dataset : path-like
        The prepared dataset.
    runs_dir : path-like
        Root of the runs (the notebook's ``nb.runs``).
    profile, device : str
    seed : int
        Training seed.
    progress : bool
    model : dict, optional
        :class:`~cellshapes.config.ModelConfig` overrides (``equivariant``,
        ``latent_dim``, ``omega0``, ``arch`` ...).
    rebuild : bool
        Delete and retrain a run made from another key.
    **train_overrides
        :class:`~cellshapes.config.TrainConfig` overrides (``epochs``, ``frames_every`` ...).

    Returns
    -------
    Path
        The run directory, complete.
    """
    from cellshapes.training.loop import train

    spec = RunSpec.of(dataset, profile, seed, model, **train_overrides)
    mcfg, tcfg = spec.configs()

    def build(out: Path) -> None:
        train(dataset, out, mcfg, tcfg, device=device, resume=(out / "config.json").exists(),
              progress=progress, profile=profile)

    return cached(spec.dir(runs_dir), spec.key(), build, complete=run_is_complete,
                  rebuild=rebuild)


def continue_run(run: str | os.PathLike, out: str | os.PathLike, epochs: int,
                 device: str = "auto", progress: bool = False) -> Path:
    """A copy of a finished ``run`` trained on to ``epochs`` in total (cached).

    Training resumes exactly (same optimiser state, schedule and random stream), so the
    result equals one run of ``epochs`` epochs while ``run`` stays as it was, at its own
    epoch count: the paper's DeepSDF at 2000 and at 4000 epochs (Sec 5.7) cost 4000.

    Returns
    -------
    Path
        ``out`` (reused while ``run`` and ``epochs`` are unchanged).
    """
    import shutil

    from cellshapes.training.checkpoint import read_config
    from cellshapes.training.loop import train

    if not run_is_complete(run):
        raise InputError(f"{run} is not a finished run")

    def build(out: Path) -> None:
        if not out.exists():
            shutil.copytree(run, out)
        train(read_config(out)["data"]["path"], out, resume=True, epochs=int(epochs),
              device=device, progress=progress)

    key = dict(kind="continue_run", epochs=int(epochs), source=path_identity(run))
    return cached(out, key, build, complete=run_is_complete)
