"""Cached outputs that cannot go stale: reused only when everything behind them matches.

The notebooks share phantom datasets and trained runs on disk, so that a re-run or a
second notebook costs nothing. A cached output is only correct if it was made from the
same inputs: the same kind of output, profile, seed, full configs and input data. Each
output therefore carries a *key*, a JSON document with all of these, stored beside it as
``<output>.cache_key.json``:

* key equal and output complete -> the output is reused;
* key equal, output incomplete (an interrupted training) -> the build continues;
* key different -> :class:`StaleOutputError`, naming what differs: nothing is deleted
  unless the caller asks for it with ``rebuild=True``;
* output present without a key -> :class:`~cellshapes.errors.OutputExistsError`: it was
  not made by this cache, so it is not ours to delete.

Trained runs are keyed by their :class:`~cellshapes.repro.spec.RunSpec`, whose folder
changes with every setting, so a differing key at the same folder means the same run
was asked of other data or another package or phantom-generator version.

Input data enter the key through :func:`path_identity` (path, sizes and modification
times), so a dataset that was rebuilt invalidates every run trained on it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from cellshapes.atomic import atomic_path
from cellshapes.errors import CellshapesError, InputFileNotFoundError, OutputExistsError
from cellshapes.training.checkpoint import run_lock

__all__ = ["KEY_SUFFIX", "CACHE_VERSION", "key_path", "read_key", "path_identity", "is_cached",
           "cached", "StaleOutputError", "key_changes"]

#: Suffix of the key file written beside each cached output.
KEY_SUFFIX = ".cache_key.json"
#: Stored in every key; raising it invalidates every cache made before.
CACHE_VERSION = 1


class StaleOutputError(OutputExistsError):
    """A cached output made from other inputs than the ones asked for now.

    Attributes
    ----------
    path : Path
        The output.
    changes : list of str
        The entries of the key that differ (dotted, e.g. ``"train.epochs"``, ``"data"``).
    """

    def __init__(self, path: Path, changes: list[str]) -> None:
        self.path, self.changes = path, changes
        super().__init__(
            f"{path} was made from other inputs (differs in {', '.join(changes) or 'key'}); "
            "it is kept: pass rebuild=True to delete and rebuild it, or move it away")


def key_changes(stored: dict[str, Any], wanted: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of the entries in which two keys differ (sorted).

    A ``data``/``source``-like entry that is a :func:`path_identity` is named as a whole.
    """
    out = []
    for k in sorted(set(stored) | set(wanted)):
        a, b = stored.get(k), wanted.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and "digest" not in a:
            out += key_changes(a, b, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out


def key_path(out: str | os.PathLike) -> Path:
    """``<out>.cache_key.json``, the key file beside the output ``out``."""
    out = Path(out)
    return out.with_name(out.name + KEY_SUFFIX)


def _normal(key: dict[str, Any]) -> dict[str, Any]:
    """The key as it reads back from JSON (tuples as lists), with the cache version."""
    return json.loads(json.dumps({"cache_version": CACHE_VERSION, **key}, sort_keys=True,
                                 default=str))


def read_key(out: str | os.PathLike) -> dict[str, Any] | None:
    """The stored key of ``out``; None if there is none or it cannot be read."""
    try:
        return json.loads(key_path(out).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def path_identity(path: str | os.PathLike) -> dict[str, Any]:
    """Identity of an input file or folder for a cache key.

    A file is identified by its resolved path, size in bytes and modification time in
    nanoseconds; a folder by the same for every file below it (condensed to a SHA-256
    digest of that listing). Rewriting an input, even with equal content, changes it.

    Parameters
    ----------
    path : path-like
        An existing file or folder.

    Returns
    -------
    dict
        ``path``, ``files`` (count) and ``digest``.

    Raises
    ------
    InputFileNotFoundError
        ``path`` does not exist.
    """
    p = Path(path).resolve()
    if not p.exists():
        raise InputFileNotFoundError(f"{path} does not exist")
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    digest = hashlib.sha256()
    for f in files:
        st = f.stat()
        digest.update(f"{f.relative_to(p) if p.is_dir() else f.name}\0{st.st_size}\0"
                      f"{st.st_mtime_ns}\n".encode())
    return {"path": str(p), "files": len(files), "digest": digest.hexdigest()}


def _exists(out: Path) -> bool:
    return out.exists()


def is_cached(out: str | os.PathLike, key: dict[str, Any],
              complete: Callable[[Path], bool] = _exists) -> bool:
    """True if :func:`cached` would reuse ``out`` for ``key`` as it stands now."""
    out = Path(out)
    return read_key(out) == _normal(key) and complete(out)


def _remove(out: Path) -> None:
    if out.is_dir() and not out.is_symlink():
        shutil.rmtree(out)
    elif out.exists() or out.is_symlink():
        out.unlink()


def cached(out: str | os.PathLike, key: dict[str, Any], build: Callable[[Path], Any],
           complete: Callable[[Path], bool] = _exists, rebuild: bool = False) -> Path:
    """``out`` built by ``build(out)`` unless an output with the same ``key`` is there.

    Processes that ask for the same output wait for each other (a lock file
    ``.<name>.cache.lock`` beside ``out``), so two notebooks never build it twice.

    Parameters
    ----------
    out : path-like
        The cached file or folder.
    key : dict
        JSON-serialisable description of everything that changes the output: what it
        is (``"kind"``), profile, seed, the full config dicts, :func:`path_identity` of
        each input.
    build : callable
        ``build(out)`` writes the output. It is called again on an incomplete output
        with the same key, so it must continue from what is there (a run resumes).
    complete : callable, optional
        ``complete(out)`` says whether the output is finished (default: it exists;
        right for outputs written atomically).
    rebuild : bool
        Delete and rebuild an output of this cache whose key differs (default: refuse,
        :class:`StaleOutputError`).

    Returns
    -------
    Path
        ``out``, complete and built from exactly ``key``.

    Raises
    ------
    StaleOutputError
        ``out`` was made by this cache from another key and ``rebuild`` is False.
    OutputExistsError
        ``out`` exists without a key file: not made by this cache, never replaced.
    CellshapesError
        ``build`` returned but the output is still not complete.
    """
    out = Path(out)
    want = _normal(key)
    with run_lock(out.with_name(out.name + ".cache"), wait=True):
        stored = read_key(out)
        if stored is None and (out.exists() or out.is_symlink()):
            raise OutputExistsError(
                f"{out} exists but has no {key_path(out).name}: it was not made by the "
                "notebook cache, so it is not reused or replaced; move or delete it")
        if stored == want and complete(out):
            return out
        if stored != want:  # built from other inputs: never reused, removed only on request
            if stored is not None and (out.exists() or out.is_symlink()) and not rebuild:
                raise StaleOutputError(out, key_changes(stored, want))
            _remove(out)
            with atomic_path(key_path(out), overwrite=True) as tmp:
                tmp.write_text(json.dumps(want, indent=1, sort_keys=True))
        build(out)
        if not complete(out):
            raise CellshapesError(f"building {out} finished without a complete output")
    return out
