"""A guard against training that diverges without becoming NaN.

A learning rate too high for the data can throw a converging SIREN out of its minimum: the
epoch loss jumps (e.g. 0.037 -> 0.106) and stays up, finite, so the non-finite rollback
(:class:`cellshapes.training.step.Rollback`) never sees it. :class:`DivergenceGuard`
watches the logged epoch losses with a stated rule:

* **Diverged**: once more than :data:`MIN_EPOCHS` epochs are logged, the mean loss of the
  last :data:`SMOOTH` epochs is more than :data:`FACTOR` times the lowest epoch loss of the
  :data:`WINDOW` epochs before them. (The mean, because the loss of one epoch of a small
  data set, one or two optimisation steps, is noisy: single epochs 2.3x above the best
  were measured in a run at lr 2e-4 that went on converging.) The :data:`SMOOTH` epochs
  must all come after the last restore.
* **Then**: the weights, codes and Adam moments go back to the state at the start of the
  epoch with the lowest loss so far (the state that loss measured; kept in memory, and
  after a resume counted from the resumed epoch on), and the learning rate is multiplied by :data:`LR_FACTOR` for the rest of the
  run (the run's ``lr_scale``, stored in its checkpoints). The epoch's row stays in the
  log as it happened; the event is printed and appended to ``divergence.json`` in the run.
* **Stop**: a run that diverges more than :data:`MAX_RESTORES` times stops with one line
  (:class:`~cellshapes.training.step.TrainingDivergedError`), its last checkpoint kept.

The rule reads only the logged losses, so a resumed run counts the restores it already made
exactly as an uninterrupted one.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Sequence

import torch

from cellshapes.atomic import atomic_path
from cellshapes.training.step import TrainingDivergedError

__all__ = ["FACTOR", "WINDOW", "SMOOTH", "reference", "MIN_EPOCHS", "LR_FACTOR", "MAX_RESTORES", "RULE", "diverged",
           "count_divergences", "DivergenceGuard"]

#: An epoch loss above FACTOR x the best of the recent epochs is a divergence.
FACTOR = 2.0
#: Epochs before the judged ones whose lowest loss is the reference.
WINDOW = 50
#: Epochs whose mean loss is judged.
SMOOTH = 5
#: The rule waits for this many logged epochs (the first epochs fall fast and noisily).
MIN_EPOCHS = 10
#: Learning-rate factor applied at each restore.
LR_FACTOR = 0.5
#: Restores allowed; the next divergence stops the run.
MAX_RESTORES = 5
#: The rule in words, as recorded in ``divergence.json``.
RULE = (f"mean loss of the last {SMOOTH} epochs > {FACTOR:g} x the lowest epoch loss of the "
        f"{WINDOW} epochs before them (from epoch {MIN_EPOCHS + 1}; the {SMOOTH} epochs after "
        f"the last restore): restore the state of the lowest-loss epoch, learning rate "
        f"x{LR_FACTOR:g}; more than {MAX_RESTORES} restores stop the run")


def reference(losses: Sequence[float], window: int = WINDOW, smooth: int = SMOOTH) -> float:
    """The lowest epoch loss of the ``window`` epochs before the last ``smooth``."""
    n = len(losses)
    return float(min(losses[max(0, n - smooth - window):max(n - smooth, 1)]))


def diverged(losses: Sequence[float], since: int = 0, factor: float = FACTOR,
             window: int = WINDOW, smooth: int = SMOOTH, min_epochs: int = MIN_EPOCHS
             ) -> bool:
    """True if the logged losses break the rule (module docstring).

    Parameters
    ----------
    losses : sequence of float
        Mean loss of each finished epoch, in order.
    since : int
        Epochs logged at the last restore (0: none); the judged epochs come after it.
    factor, window, smooth, min_epochs
        :data:`FACTOR`, :data:`WINDOW`, :data:`SMOOTH`, :data:`MIN_EPOCHS`.
    """
    n = len(losses)
    if n <= max(min_epochs, smooth) or n - since < smooth:
        return False
    recent = sum(losses[-smooth:]) / smooth
    return recent > factor * reference(losses, window, smooth)


def count_divergences(losses: Sequence[float]) -> tuple[int, int]:
    """Replay the rule over a logged history: (restores made, epochs logged at the last)."""
    restores, since = 0, 0
    for i in range(1, len(losses) + 1):
        if diverged(losses[:i], since):
            restores, since = restores + 1, i
    return restores, since


class DivergenceGuard:
    """Restore the best state and lower the learning rate when the loss jumps.

    Parameters
    ----------
    model : torch.nn.Module
        The auto-decoder (weights, codes, angles).
    optimizer : torch.optim.Optimizer
        Its Adam; its moments are restored with the weights.
    out : Path or None
        Run directory: rank 0 appends each event to ``out/divergence.json``; None: no
        file (other ranks).
    history : sequence of float
        Losses already logged (a resumed run: the restores it made are counted again).
    max_restores : int
        :data:`MAX_RESTORES`.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 out: Path | None, history: Sequence[float] = (),
                 max_restores: int = MAX_RESTORES) -> None:
        self.model, self.optimizer, self.out = model, optimizer, out
        self.max_restores = max_restores
        self.restores, self.since = count_divergences(history)
        self.best_loss, self.best_epoch = float("inf"), 0
        self._start = self._snapshot()  # the state at the start of the next epoch
        self._state = self._start  # the state at the start of the best epoch

    def _snapshot(self) -> tuple[dict, dict]:
        return (copy.deepcopy(self.model.state_dict()),
                copy.deepcopy(self.optimizer.state_dict()))

    def check(self, epoch: int, losses: Sequence[float], lr_scale: float) -> float:
        """Judge the epoch just logged; returns the learning-rate scale to go on with.

        Parameters
        ----------
        epoch : int
            The epoch just finished (1-based).
        losses : sequence of float
            Every logged epoch loss, ``losses[-1]`` that of ``epoch``.
        lr_scale : float
            The run's current learning-rate scale.

        Raises
        ------
        TrainingDivergedError
            More than ``max_restores`` divergences.
        """
        if not diverged(losses, self.since):
            if losses[-1] < self.best_loss:  # the loss measured the epoch's start state
                self.best_loss, self.best_epoch = float(losses[-1]), epoch
                self._state = self._start
            self._start = self._snapshot()
            return lr_scale
        self.restores, self.since = self.restores + 1, len(losses)
        ref, recent = reference(losses), sum(losses[-SMOOTH:]) / SMOOTH
        if self.restores > self.max_restores:
            raise TrainingDivergedError(
                f"training diverged {self.restores} times (last at epoch {epoch}: mean loss "
                f"of {SMOOTH} epochs {recent:.4g} > {FACTOR:g} x {ref:.4g}) even after restoring and lowering "
                f"the learning rate to x{lr_scale:g}; the run keeps its last checkpoint: "
                "lower --lr and train again")
        self.model.load_state_dict(self._state[0])
        self.optimizer.load_state_dict(self._state[1])
        self._start = self._state
        lr_scale *= LR_FACTOR
        self._record(epoch, recent, ref, lr_scale)
        return lr_scale

    def _record(self, epoch: int, loss: float, ref: float, lr_scale: float) -> None:
        """Print the event and append it to ``divergence.json`` (rank 0)."""
        if self.out is None:
            return
        event = {"epoch": epoch, "mean_loss": loss, "best_recent": ref,
                 "restored_epoch": self.best_epoch, "restored_loss": self.best_loss,
                 "lr_scale": lr_scale, "restore": self.restores}
        print(f"cellshapes: loss diverged by epoch {epoch} (mean of {SMOOTH} epochs {loss:.4g} "
              f"> {FACTOR:g} x best {ref:.4g}); restored the state of epoch {self.best_epoch} (loss "
              f"{self.best_loss:.4g}), learning rate x{lr_scale:g}", file=sys.stderr,
              flush=True)
        path = self.out / "divergence.json"
        record = (json.loads(path.read_text()) if path.exists()
                  else {"rule": RULE, "events": []})
        record["events"] = [e for e in record["events"] if e["epoch"] < epoch] + [event]
        with atomic_path(path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(record, indent=1))
