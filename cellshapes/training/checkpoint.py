"""Run directories and checkpoints: atomic writes, safe loading, corrupt-file fallback.

A run directory holds ``config.json`` (everything needed to rebuild the model),
``checkpoints/latest.pt`` plus the last few ``checkpoints/epoch_NNNN.pt``, and
``log.csv``. Checkpoints contain only tensors, numbers, strings, lists and dicts and are
always loaded with ``torch.load(..., weights_only=True)``: a file carrying a pickled
object is refused, never executed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Iterator

import torch
from filelock import FileLock, Timeout

from cellshapes.atomic import atomic_path
from cellshapes.config import ModelConfig, TrainConfig, check_keys
from cellshapes.errors import (CellshapesError, CheckpointError, DatasetFormatError,
                               InputFileNotFoundError)

__all__ = [
    "lock_dir",
    "lock_path",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "write_config",
    "read_config",
    "prune_checkpoints",
    "run_path",
]

#: ``format`` tag of a shape run's ``config.json`` (written by :func:`cellshapes.training.loop.train`).
RUN_FORMAT = "cellshapes.run"

_EPOCH_RE = re.compile(r"epoch_(\d+)\.pt$")


def save_checkpoint(run_dir: str | os.PathLike, state: dict[str, Any], epoch: int,
                    keep: int = 2) -> Path:
    """Write ``state`` atomically as ``epoch_NNNN.pt`` and ``latest.pt``; prune old ones."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    numbered = ckpt_dir / f"epoch_{epoch:04d}.pt"
    with atomic_path(numbered) as tmp:
        torch.save(state, tmp)
    with atomic_path(ckpt_dir / "latest.pt") as tmp:
        torch.save(state, tmp)
    prune_checkpoints(ckpt_dir, keep)
    return numbered


def prune_checkpoints(ckpt_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``epoch_NNNN.pt`` files.

    Also removes temporaries of writes killed before their rename (``.latest.pt.*.tmp``):
    the run's single writer has just finished its own writes when it prunes.
    """
    files = sorted(ckpt_dir.glob("epoch_*.pt"), key=_epoch_of)
    for f in files[: max(0, len(files) - max(keep, 1))]:
        f.unlink(missing_ok=True)
    for f in ckpt_dir.glob(".*.pt.*.tmp"):
        f.unlink(missing_ok=True)


def _epoch_of(path: Path) -> int:
    m = _EPOCH_RE.search(path.name)
    return int(m.group(1)) if m else -1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load_one(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    if not zipfile.is_zipfile(path):  # torch.save always writes a zip archive
        raise CheckpointError(f"{path} is corrupt or truncated (not a torch zip archive)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = next((ln.strip() for ln in str(exc).splitlines()
                       if "Unsupported global" in ln or "GLOBAL" in ln), _first_line(exc))
        raise CheckpointError(f"{path} carries pickled objects that are not plain weights; "
                              f"refusing to load it ({detail})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is corrupt or truncated ({_first_line(exc)})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a cellshapes checkpoint (no 'model' entry)")
    return state


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """Path of ``checkpoints/latest.pt`` or the newest numbered checkpoint, else None."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    latest = ckpt_dir / "latest.pt"
    if latest.exists():
        return latest
    files = sorted(ckpt_dir.glob("epoch_*.pt"), key=_epoch_of)
    return files[-1] if files else None


def load_checkpoint(run_dir: str | os.PathLike,
                    map_location: str | torch.device = "cpu",
                    epoch: int | None = None) -> dict[str, Any]:
    """Load the newest readable checkpoint of a run, or the one of a given epoch.

    ``latest.pt`` is tried first; if it is corrupt (e.g. a disk filled up), the numbered
    checkpoints are tried from newest to oldest, with a warning. A checkpoint refused for
    carrying pickled objects is never skipped silently: the error is raised.

    Parameters
    ----------
    run_dir : path-like
    map_location : str or torch.device
    epoch : int, optional
        Load ``checkpoints/epoch_NNNN.pt`` of this epoch (kept when the run was trained
        with ``keep_checkpoints`` large enough), with no fallback.

    Raises
    ------
    InputFileNotFoundError
        If the run has no checkpoint at all, or none of ``epoch``.
    CheckpointError
        If no checkpoint is readable, or one carries pickled objects.
    """
    ckpt_dir = Path(run_dir) / "checkpoints"
    if epoch is not None:
        path = ckpt_dir / f"epoch_{int(epoch):04d}.pt"
        if not path.is_file():
            raise InputFileNotFoundError(f"no checkpoint of epoch {epoch} in {ckpt_dir}")
        return _load_one(path, map_location)
    candidates = [ckpt_dir / "latest.pt"] + sorted(ckpt_dir.glob("epoch_*.pt"), key=_epoch_of,
                                                     reverse=True)
    candidates = [c for c in candidates if c.exists()]
    if not candidates:
        raise InputFileNotFoundError(f"no checkpoint in {ckpt_dir}")
    errors = []
    for path in candidates:
        try:
            state = _load_one(path, map_location)
        except CheckpointError as exc:
            if "pickled" in str(exc):
                raise
            errors.append(str(exc))
            continue
        if errors:
            warnings.warn(f"{errors[0]}; using {path.name} instead", stacklevel=2)
        return state
    raise CheckpointError(f"no readable checkpoint in {ckpt_dir}: {errors[0]}")


def write_config(run_dir: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write ``config.json`` atomically (JSON only, never pickle).

    Called once when a training (re)starts, by its single writer: temporaries of a
    ``config.json`` / ``log.csv`` write killed before its rename are removed here.
    """
    path = Path(run_dir) / "config.json"
    for stale in ("config.json", "log.csv"):
        for f in Path(run_dir).glob(f".{stale}.*.tmp"):
            f.unlink(missing_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(config, indent=1, sort_keys=True))
    return path


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``config.json`` of a run directory.

    Parameters
    ----------
    run_dir : path-like
        A run directory (shape run, texture run or a ``fit`` output).

    Returns
    -------
    dict
        The whole ``config.json``.

    Raises
    ------
    InputFileNotFoundError
        ``run_dir`` does not exist.
    DatasetFormatError
        ``run_dir`` is not a run directory, or its ``config.json`` lacks a section or
        has malformed ``data`` fields.
    UnknownConfigKeyError
        A shape run's ``model`` or ``train`` section holds a key that is not a field of
        :class:`~cellshapes.config.ModelConfig` / :class:`~cellshapes.config.TrainConfig`
        (legacy keys of older versions excepted, :data:`~cellshapes.config.LEGACY_KEYS`).
    """
    path = Path(run_dir) / "config.json"
    if not Path(run_dir).exists():
        raise InputFileNotFoundError(f"run directory {run_dir} does not exist")
    if not Path(run_dir).is_dir():
        raise DatasetFormatError(f"{run_dir} is a file, not a run directory")
    if not path.exists():
        raise DatasetFormatError(f"{run_dir} is not a run directory (no config.json)")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(f"{path} is not valid JSON ({exc.msg})") from None
    if not isinstance(config, dict):
        raise DatasetFormatError(f"{path} is not a JSON object")
    for key in ("model", "train", "data"):
        if not isinstance(config.get(key), dict):
            raise DatasetFormatError(f"{path} lacks the '{key}' section")
    _check_data_section(config["data"], path)
    if config.get("format") == RUN_FORMAT:
        check_keys(ModelConfig, config["model"], f"the 'model' section of {path}")
        check_keys(TrainConfig, config["train"], f"the 'train' section of {path}")
    return config


def _check_data_section(data: dict[str, Any], path: Path) -> None:
    """The fields of ``config["data"]`` that become file names and array shapes."""
    names, frames = data.get("names"), data.get("frames")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DatasetFormatError(f"{path}: data.names must be a list of strings")
    for n in names:
        _check_name(n, f"{path}: sequence name")
    if not isinstance(frames, list) or (names and not frames) or not all(
            isinstance(t, int) and not isinstance(t, bool) and t >= 1 for t in frames):
        raise DatasetFormatError(f"{path}: data.frames must be a list of positive integers "
                                 "(frames per sequence)")
    size = data.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        raise DatasetFormatError(f"{path}: data.size must be an integer >= 2, got {size!r}")
    attrs = data.get("attrs", [])
    if not isinstance(attrs, list) or not all(isinstance(a, dict) for a in attrs):
        raise DatasetFormatError(f"{path}: data.attrs must be a list of objects")


def _check_name(name: str, what: str) -> None:
    """A single, plain path component: no separators, no '..', not absolute."""
    if (not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name
            or Path(name).name != name):
        raise DatasetFormatError(f"{what} {name!r} is not a plain file name; it could "
                                 "escape the run directory")


def run_path(base: str | os.PathLike, name: str) -> Path:
    """``base / name`` for a name read from a config file, refusing any that escapes ``base``.

    Raises
    ------
    DatasetFormatError
        ``name`` is absolute, contains ``..`` that leaves ``base``, or is empty.
    """
    base = Path(base)
    name = str(name)
    if not name or "\x00" in name or Path(name).is_absolute():
        raise DatasetFormatError(f"path {name!r} from a config file would escape {base}")
    root = base.resolve()
    target = (base / name).resolve()
    if target != root and root not in target.parents:
        raise DatasetFormatError(f"path {name!r} from a config file would escape {base}")
    return base / name


class RunLockedError(CellshapesError):
    """Another process is training (writing) the same run directory."""


def lock_dir() -> Path:
    """Folder of the run locks: ``$CELLSHAPES_LOCK_DIR`` or ``<tmp>/cellshapes-locks``."""
    folder = Path(os.environ.get("CELLSHAPES_LOCK_DIR")
                  or Path(tempfile.gettempdir()) / "cellshapes-locks")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def lock_path(run_dir: str | os.PathLike) -> Path:
    """Lock file stem of a run: a hash of its absolute path inside :func:`lock_dir`."""
    key = hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:24]
    return lock_dir() / f"{Path(run_dir).name}-{key}"


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on a run directory while writing it.

    Two processes resuming the same run would interleave epochs in its log and race on
    its checkpoints. The lock is a :class:`filelock.FileLock` (``flock`` on Unix,
    ``msvcrt`` locking on Windows), so the kernel releases it when the process dies:
    SIGKILL leaves no stale lock behind. The lock file lives in :func:`lock_dir`, named
    by a hash of the run's absolute path, not beside the run: on Unix filelock keeps the
    file on release (deleting a lock file others may wait on would let two of them hold
    it), and a failed start must leave nothing next to the user's output. The holder
    writes ``pid N`` to the matching ``.owner`` file (for the message a second trainer
    gets) and removes it on release. Processes on different machines sharing a file
    system only exclude each other when ``CELLSHAPES_LOCK_DIR`` points to a shared folder.

    Parameters
    ----------
    run_dir : path-like
        The run directory; its parent is created if needed.
    wait : bool
        Block until the other process is done (notebooks sharing a model) instead of
        raising :class:`RunLockedError` (the CLI).

    Raises
    ------
    RunLockedError
        ``wait`` is False and another process holds the lock.
    """
    run_dir = Path(run_dir)
    base = lock_path(run_dir)
    owner = base.with_suffix(".owner")
    lock = FileLock(str(base.with_suffix(".lock")))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        try:
            holder = owner.read_text().strip() or "another process"
        except OSError:
            holder = "another process"
        raise RunLockedError(f"{run_dir} is being trained by {holder}; wait for it to "
                             "finish or use another --out") from None
    try:
        owner.write_text(f"pid {os.getpid()}")
        yield
    finally:
        owner.unlink(missing_ok=True)  # while still holding the lock
        lock.release()
