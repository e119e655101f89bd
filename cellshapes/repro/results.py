"""Results files of the notebooks: ``results/NN_topic.json``, one document per notebook.

A document holds the notebook, profile, seeds, package versions, a timestamp and the
claims built by :func:`cellshapes.repro.stats.claim_record`; :func:`write_results` checks
every claim before writing (atomically), :func:`read_results` checks a file on reading.
The README's results table is made from these files (:mod:`cellshapes.repro.report`).
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellshapes.atomic import atomic_path
from cellshapes.errors import InputError
from cellshapes.repro.stats import CLAIM_KEYS, VERDICTS

__all__ = ["results_document", "write_results", "read_results", "rejudge_results",
           "versions"]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Versions of cellshapes, torch, numpy and python (torch is not imported)."""
    from cellshapes import __version__

    return {"cellshapes": __version__, "torch": _version("torch"),
            "numpy": np.__version__, "python": platform.python_version()}


def _check_claim(c: Any, n_seeds: int, i: int) -> None:
    if not isinstance(c, dict) or any(k not in c for k in CLAIM_KEYS):
        raise InputError(f"claim {i} must be a dict with keys {CLAIM_KEYS} "
                         "(see claim_record)")
    if c["verdict"] not in VERDICTS:
        raise InputError(f"claim {i} ({c['claim']!r}): verdict {c['verdict']!r} is not "
                         f"one of {VERDICTS}")
    if len(c["per_seed"]) != n_seeds:
        raise InputError(f"claim {i} ({c['claim']!r}) has {len(c['per_seed'])} per-seed "
                         f"values for {n_seeds} seeds")


def results_document(notebook: str, profile: str, seeds: Sequence[int],
                     claims: Sequence[dict[str, Any]],
                     models: dict[str, str] | None = None) -> dict[str, Any]:
    """The results dictionary (layout in the module notes), validated, with date and
    versions added; ``models`` (what each model was and where it came from, e.g.
    ``{"dividing, seed 0": "pretrained model 'dividing_study' (checksum ok)"}``) is kept
    under the key ``models`` when given.

    Raises
    ------
    InputError
        Empty notebook or profile name, seeds that are not distinct integers, a claim
        without the keys of :func:`claim_record`, an unknown verdict, or a per-seed list
        whose length differs from the seeds.
    """
    if not str(notebook) or not str(profile):
        raise InputError("notebook and profile must be non-empty names")
    try:
        seed_list = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise InputError(f"seeds must be integers, got {seeds!r}") from None
    if len(set(seed_list)) != len(seed_list) or not seed_list:
        raise InputError(f"seeds must be distinct and non-empty, got {seed_list}")
    for i, c in enumerate(claims):
        _check_claim(c, len(seed_list), i)
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    doc = {"notebook": str(notebook), "profile": str(profile), "seeds": seed_list,
           "date": now.isoformat(), "versions": versions(), "claims": list(claims)}
    if models:
        doc["models"] = {str(k): str(v) for k, v in models.items()}
    return doc


def _jsonable(obj: Any) -> Any:
    """NaN / inf -> None and numpy scalars -> Python numbers, recursively."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_results(path: str | os.PathLike, notebook: str, profile: str,
                  seeds: Sequence[int], claims: Sequence[dict[str, Any]],
                  overwrite: bool = True, models: dict[str, str] | None = None) -> Path:
    """Write a notebook's ``results/NN_topic.json`` atomically.

    Parameters
    ----------
    path : path-like
        Output file (parent folders are created).
    notebook : str
        Notebook name, e.g. ``"08_omega_sweep"``.
    profile : str
        Profile the numbers were reached at (``"study"``, ``"paper"``, ...).
    seeds : sequence of int
        The seeds, in the order of every claim's ``per_seed``.
    claims : sequence of dict
        :func:`claim_record` outputs.
    overwrite : bool
        Replace an existing file (the default: a rerun updates its results).
    models : dict, optional
        Where each model came from (trained, cached, shipped), see :func:`results_document`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        See :func:`results_document`.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    doc = _jsonable(results_document(notebook, profile, seeds, claims, models))
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a results file written by :func:`write_results`.

    Raises
    ------
    InputError
        Not JSON, or a document that does not follow the layout.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read results: {exc}") from None
    keys = ("notebook", "profile", "seeds", "date", "versions", "claims")
    if not isinstance(doc, dict) or any(k not in doc for k in keys):
        raise InputError(f"{path}: a results file needs the keys {keys}")
    for i, c in enumerate(doc["claims"]):
        _check_claim(c, len(doc["seeds"]), i)
    return doc


def rejudge_results(path: str | os.PathLike) -> int:
    """Judge every claim of a results file again by the current verdict rule.

    The values, seeds, date and versions are kept (nothing is rerun); each claim's
    verdict, reason, test, effect and power are recomputed from its own arms
    (:func:`cellshapes.repro.stats.rejudge`), and ``rejudged`` records when. The file
    is rewritten (atomically) only when something changed.

    Returns
    -------
    int
        The number of claims whose record changed.
    """
    from cellshapes.repro.stats import rejudge

    doc = read_results(path)
    claims = [rejudge(c) if "arms" in c and "direction" in c else c for c in doc["claims"]]
    changed = sum(new != old for new, old in zip(claims, doc["claims"]))
    if changed:
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        doc = _jsonable({**doc, "claims": claims, "rejudged": now.isoformat()})
        with atomic_path(Path(path), overwrite=True) as tmp:
            tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n",
                           encoding="utf-8")
    return changed
