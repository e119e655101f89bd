"""From a user's label video to a model, a report and new annotated cells.

:func:`build_model` (``cellshapes model``) chains prepare, train, reconstruct, score,
report, generate and CTC export, resumable at every stage
(:mod:`cellshapes.pipeline.stages`; its options are :class:`ModelRequest`,
:mod:`cellshapes.pipeline.request`); :mod:`cellshapes.pipeline.labels` checks the label
videos before any work; :mod:`cellshapes.pipeline.report` holds the verdict thresholds and
writes ``report.html``; :mod:`cellshapes.pipeline.scenes` makes multi-cell scenes
instead of single cells (``--scene CELLS``).
"""
from typing import Any

from cellshapes.pipeline.request import ModelRequest
from cellshapes.pipeline.stages import build_model

__all__ = ["build_model", "ModelRequest", "THRESHOLDS", "verdict"]


def __getattr__(name: str) -> Any:
    """``THRESHOLDS`` and ``verdict`` from :mod:`.report`, imported when first used (it
    needs pandas; the command line's parser reads :class:`ModelRequest` without it)."""
    if name in ("THRESHOLDS", "verdict"):
        from cellshapes.pipeline import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
