"""When to stop training: a plateau of the epoch loss, with ``epochs`` as the cap.

Fixed small epoch counts leave models under-trained, and long fixed counts waste time on
converged ones. :func:`plateau_reached` reads the per-epoch mean losses a run logs: it
stops once the best loss of the last ``window`` epochs is no more than ``tol`` (relative)
below the best loss before them. The rule sees only the logged losses, so a resumed run
decides exactly as an uninterrupted one; the decision and its numbers are written to the
run (``converged.json``, :func:`stop_record`).
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["plateau_reached", "plateau_epoch", "stop_record"]


def plateau_reached(losses: Sequence[float], window: int, tol: float) -> bool:
    """True when the loss has stopped improving.

    Parameters
    ----------
    losses : sequence of float
        Mean training loss of each finished epoch, in order.
    window : int
        Epochs that must bring less than ``tol`` relative improvement; 0 turns the rule off.
    tol : float
        Relative improvement that still counts as progress (0.01: 1 %).

    Returns
    -------
    bool
        False while fewer than ``2 * window`` epochs are done (the rule needs a history).
    """
    if window <= 0 or len(losses) < 2 * window:
        return False
    before = min(losses[:-window])
    recent = min(losses[-window:])
    return recent > (1.0 - tol) * before


def plateau_epoch(losses: Sequence[float], window: int, tol: float) -> int | None:
    """The epoch (1-based) after which :func:`plateau_reached` would have stopped a run
    that logged ``losses``, or None if it never would have: the rule applied afterwards
    to a run trained to a fixed count (the rule only reads the losses, so a run with the
    rule on stops at exactly this epoch)."""
    for n in range(2 * max(window, 1), len(losses) + 1):
        if plateau_reached(losses[:n], window, tol):
            return n
    return None


def stop_record(losses: Sequence[float], window: int, tol: float, cap: int) -> dict:
    """What ``converged.json`` holds: the epoch, the rule and the losses it compared."""
    return {"stopped_at_epoch": len(losses), "cap_epochs": int(cap),
            "rule": f"best loss of the last {window} epochs not {tol:.1%} below the best "
                    "before them",
            "plateau_epochs": int(window), "plateau_tol": float(tol),
            "best_before": float(min(losses[:-window])),
            "best_recent": float(min(losses[-window:]))}
