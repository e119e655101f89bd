"""Run directories of the trainers: start or refuse one, its CSV log, stop requests.

A run directory is the unit of work of both trainers, the shape model's
(:func:`cellshapes.training.loop.train`) and the texture GAN's
(:func:`cellshapes.synthesis.texture_train.train_texture`)::

    run/
      config.json        everything needed to rebuild the model (checkpoint.write_config)
      checkpoints/       latest.pt + the last few epoch_NNNN.pt (checkpoint.save_checkpoint)
      log.csv            one row per finished epoch (RunLog)

This module holds what the two trainers do alike around their epoch loops: decide
whether an existing directory is resumed, started over or refused
(:func:`prepare_run_dir`), keep ``log.csv`` consistent with the checkpoint being resumed
(:class:`RunLog`), turn SIGINT/SIGTERM into a request to stop after the current
epoch with a checkpoint (:func:`stop_requests`), and say how far a run got
(:func:`run_is_complete`, :func:`epochs_trained`, :func:`stopped_on_plateau`).
Checkpoints themselves are :mod:`cellshapes.training.checkpoint`'s.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from cellshapes.atomic import atomic_path
from cellshapes.errors import OutputExistsError

__all__ = ["prepare_run_dir", "RunLog", "StopRequest", "stop_requests", "run_is_complete",
           "stopped_on_plateau", "epochs_trained"]

#: What a run writes into its directory, the only things ``overwrite`` removes.
_RUN_FILES = ("config.json", "log.csv")


def prepare_run_dir(out: str | os.PathLike, resume: bool, overwrite: bool) -> bool:
    """Decide what happens to the run directory ``out`` before training starts.

    Parameters
    ----------
    out : path-like
        Run directory; it need not exist.
    resume : bool
        Continue the run in ``out`` if there is one.
    overwrite : bool
        Start over in an existing run directory: its ``checkpoints/``, ``config.json``
        and ``log.csv`` are removed, nothing else.

    Returns
    -------
    bool
        True if an existing run (one with ``config.json``) is to be resumed.

    Raises
    ------
    OutputExistsError
        ``out`` exists and is not empty, and neither ``resume`` nor ``overwrite`` is set;
        or ``overwrite`` is set but ``out`` is not a run directory.
    """
    out = Path(out)
    has_run = (out / "config.json").exists()
    if resume:
        return has_run
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise OutputExistsError(f"{out} already exists; pass --resume to continue it or "
                                    "--overwrite to start over")
        if has_run:  # only remove what a run writes
            shutil.rmtree(out / "checkpoints", ignore_errors=True)
            for name in _RUN_FILES:
                (out / name).unlink(missing_ok=True)
        else:
            raise OutputExistsError(f"{out} exists and is not a run directory; refusing to "
                                    "write into it")
    return False


def mark_converged(out: str | os.PathLike, record: dict) -> Path:
    """Write ``out/converged.json`` (atomically): the run stopped on a loss plateau."""
    import json

    from cellshapes.atomic import atomic_path

    path = Path(out) / "converged.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return path


class RunLog:
    """The ``log.csv`` of a run: a header, then one row per finished epoch.

    Rows are written with :class:`csv.DictWriter` (``\\r\\n`` line ends); the first
    column is ``epoch`` (1-based).

    Parameters
    ----------
    run_dir : path-like
        Run directory holding ``log.csv``.
    fields : sequence of str
        Column names, ``epoch`` first.
    """

    def __init__(self, run_dir: str | os.PathLike, fields: Sequence[str]) -> None:
        self.path = Path(run_dir) / "log.csv"
        self.fields = tuple(fields)

    def write(self, rows: Iterable[Mapping[str, Any]] = ()) -> None:
        """Replace the log atomically by the header and ``rows`` (dicts keyed by field)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        with atomic_path(self.path) as tmp:
            tmp.write_text(buf.getvalue())

    def append(self, row: Mapping[str, Any]) -> None:
        """Add one epoch's row at the end of the log."""
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=self.fields, extrasaction="ignore").writerow(row)

    def truncate(self, epoch: int) -> None:
        """Keep only the rows of epochs <= ``epoch`` (the checkpoint being resumed).

        Epochs logged after the last checkpoint are run again after a crash; their old
        rows must go. A missing log becomes a header; unreadable rows (a line half
        written when the process was killed) are dropped.
        """
        rows: list[dict[str, str]] = []
        if self.path.exists():
            with open(self.path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if _epoch_of(r) <= epoch]
        self.write(rows)


def _epoch_of(row: Mapping[str, str | None]) -> float:
    """The row's epoch, or infinity for a row without a readable one."""
    try:
        return int(row.get("epoch") or "")
    except ValueError:
        return float("inf")


@dataclass
class StopRequest:
    """Whether SIGINT/SIGTERM asked the training inside :func:`stop_requests` to stop.

    Attributes
    ----------
    requested : bool
        Set by the first signal; the trainer checks it after each epoch, writes a
        checkpoint and returns.
    """

    requested: bool = False

    def announce(self, epoch: int) -> None:
        """Say on stderr that training stopped after ``epoch`` and how to resume it."""
        print(f"cellshapes: stopped after epoch {epoch}; resume with --resume", file=sys.stderr)


@contextlib.contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a :class:`StopRequest` checked at the end of each epoch.

    A second signal raises :class:`KeyboardInterrupt` at once. Outside the main thread
    (where handlers cannot be installed) the request is never set. The previous
    handlers are restored on exit.
    """
    flag = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: Any) -> None:
        if flag.requested:  # second signal: give up immediately
            raise KeyboardInterrupt
        flag.requested = True
        print(f"\ncellshapes: {signal.Signals(signum).name} received, finishing the epoch and "
              "writing a checkpoint (send again to abort)", file=sys.stderr)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_is_complete(run: str | os.PathLike) -> bool:
    """True if ``run`` has a config and a ``checkpoints/latest.pt``, and its log reached the
    configured epochs or it stopped on its loss plateau (``TrainConfig.plateau_epochs``)."""
    run = Path(run)
    try:
        cfg = json.loads((run / "config.json").read_text())
        epochs = int(cfg["train"]["epochs"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return False
    try:
        done = epochs_trained(run) >= epochs or stopped_on_plateau(run)
    except (OSError, ValueError, KeyError):
        return False
    return done and (run / "checkpoints" / "latest.pt").exists()


def stopped_on_plateau(run: str | os.PathLike) -> bool:
    """True if ``run`` stopped on its loss-plateau rule (it wrote ``converged.json``)."""
    return (Path(run) / "converged.json").is_file()


def epochs_trained(run: str | os.PathLike) -> int:
    """The last epoch in ``run``'s ``log.csv`` (epochs are 1-based; 0 for an empty log).

    Raises
    ------
    FileNotFoundError
        ``run`` has no ``log.csv``.
    """
    with open(Path(run) / "log.csv", newline="") as f:
        return max((int(row["epoch"]) for row in csv.DictReader(f)), default=0)
