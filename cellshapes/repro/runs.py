"""Trained runs the notebooks share: named by what differs, keyed, trained once.

:func:`run_dir` names the run folder of an experiment point, :func:`train_or_load` trains
it unless the same run (same :func:`run_key`) is complete there, :func:`continue_run`
trains a copy of a finished run further. Nothing here contains model code; it strings
together :func:`cellshapes.training.loop.train` and the keyed cache
(:mod:`cellshapes.repro.cache`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cellshapes.errors import InputError
from cellshapes.repro.cache import cached, path_identity

__all__ = ["run_is_complete", "stopped_on_plateau", "epochs_trained", "run_key",
           "train_or_load", "run_dir", "continue_run"]


def run_is_complete(run: str | os.PathLike) -> bool:
    """True if ``run`` has a config and its log reached the configured epochs, or it
    stopped on a loss plateau (``converged.json``, ``TrainConfig.plateau_epochs``)."""
    run = Path(run)
    try:
        cfg = json.loads((run / "config.json").read_text())
        lines = (run / "log.csv").read_text().strip().splitlines()
    except (OSError, json.JSONDecodeError):
        return False
    done = len(lines) - 1 >= int(cfg["train"]["epochs"]) or stopped_on_plateau(run)
    return done and (run / "checkpoints" / "latest.pt").exists()


def stopped_on_plateau(run: str | os.PathLike) -> bool:
    """True if ``run`` stopped on its loss-plateau rule (it wrote ``converged.json``)."""
    return (Path(run) / "converged.json").is_file()


def epochs_trained(run: str | os.PathLike) -> int:
    """The last epoch in ``run``'s ``log.csv`` (epochs are 1-based; 0 for an empty log)."""
    import csv

    with open(Path(run) / "log.csv", newline="") as f:
        return max((int(row["epoch"]) for row in csv.DictReader(f)), default=0)


def run_key(dataset: str | os.PathLike, profile: str = "smoke", seed: int = 0,
            model: dict[str, Any] | None = None, **train_overrides: Any) -> dict[str, Any]:
    """Cache key of a run trained by :func:`train_or_load` with these arguments.

    Returns
    -------
    dict
        ``kind``, ``profile``, ``seed``, the full ``model`` and ``train`` configs and the
        identity of the ``data`` (:func:`~cellshapes.repro.cache.path_identity`).
    """
    from cellshapes.config import model_config, to_dict, train_config

    return dict(kind="run", profile=profile, seed=int(seed),
                model=to_dict(model_config(profile, **(model or {}))),
                train=to_dict(train_config(profile, seed=seed, **train_overrides)),
                data=path_identity(dataset))


def train_or_load(dataset: str | os.PathLike, run: str | os.PathLike, profile: str = "smoke",
                  device: str = "auto", seed: int = 0, progress: bool = True,
                  model: dict[str, Any] | None = None, **train_overrides: Any) -> Path:
    """Train ``run`` on ``dataset`` unless the same run is already complete there.

    A run found in ``run`` is reused only if its cache key (:func:`run_key`: profile,
    seed, full configs, dataset identity) equals this call's; a run with another key is
    deleted and trained again; a run directory without a key is refused.

    Parameters
    ----------
    model : dict, optional
        :class:`~cellshapes.config.ModelConfig` overrides (``equivariant``,
        ``latent_dim``, ``omega0``, ``arch`` ...).
    **train_overrides
        :class:`~cellshapes.config.TrainConfig` overrides (``epochs``, ``frames_every`` ...).

    Returns
    -------
    Path
        The run directory. An incomplete run with the same key is resumed.
    """
    from cellshapes.config import model_config, train_config
    from cellshapes.training.loop import train

    mcfg = model_config(profile, **(model or {}))
    tcfg = train_config(profile, seed=seed, **train_overrides)

    def build(out: Path) -> None:
        train(dataset, out, mcfg, tcfg, device=device, resume=(out / "config.json").exists(),
              progress=progress, profile=profile)

    key = run_key(dataset, profile, seed, model, **train_overrides)
    return cached(run, key, build, complete=run_is_complete)


def run_dir(runs_dir: str | os.PathLike, profile: str, kind: str,
            sequences: int | None = None, frames: int | None = None, size: int | None = None,
            epochs: int | None = None, frames_every: int = 1,
            model: dict[str, Any] | None = None, seed: int = 0) -> Path:
    """Run folder of one experiment point, shared when the settings are the same.

    The point is ``<runs_dir>/<profile>/<kind>_base`` (the shared default run of the
    notebooks) when data sizes, epochs and model equal the profile's defaults; otherwise
    a name that spells out what differs from nothing, e.g.
    ``filopodial_n4_t4_s48_e60_omega0-10``, so that two notebooks asking for the same
    point train it once. A seed other than 0 is named too (``_seed1``), so runs of two
    seeds live side by side; the run's cache key (:func:`cellshapes.repro.workflow.run_key`)
    guards the rest.

    Returns
    -------
    Path
    """
    from cellshapes.config import data_defaults, model_config, to_dict, train_config

    d = data_defaults(profile)
    n, t, s = sequences or d["sequences"], frames or d["frames"], size or d["size"]
    e = epochs or train_config(profile).epochs
    model = dict(model or {})
    arch = {"arch": model.get("arch", "siren")}
    base_model = to_dict(model_config(profile, **arch))  # DeepSDF: its own defaults
    full = to_dict(model_config(profile, **model))
    changed = {k: v for k, v in model.items()
               if (v != "siren" if k == "arch" else full[k] != base_model[k])}
    default = ((n, t, s) == (d["sequences"], d["frames"], d["size"])
               and e == train_config(profile).epochs and frames_every == 1 and not changed)
    seeded = f"_seed{int(seed)}" if int(seed) != 0 else ""
    if default:
        return Path(runs_dir) / profile / f"{kind}_base{seeded}"
    name = f"{kind}_n{n}_t{t}_s{s}_e{e}" + (f"_every{frames_every}" if frames_every > 1 else "")
    for k in sorted(changed, key=lambda k: (k != "arch", k)):
        v = changed[k]
        v = "-".join(str(x) for x in v) if isinstance(v, (list, tuple)) else f"{v:g}" \
            if isinstance(v, float) else str(v)
        name += f"_{k}-{v}"
    return Path(runs_dir) / profile / (name + seeded)


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
