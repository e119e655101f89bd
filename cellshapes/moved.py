"""Old module paths of the flat layout (cellshapes 0.1), kept importable for one release.

``import cellshapes.metrics`` gives the module :mod:`cellshapes.measure.metrics` itself
(the same object, so monkeypatching either name patches both) and a
:class:`DeprecationWarning` naming the new path. Saved notebooks and scripts keep
working; new code imports the new paths. Installed by ``cellshapes/__init__.py``.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "install"]

#: Old module (under ``cellshapes.``) -> its new home.
MOVED: dict[str, str] = {
    "metrics": "measure.metrics", "surface": "measure.surface",
    "protrusion": "measure.protrusion", "ks": "measure.ks", "mesh": "measure.mesh",
    "plots": "plot", "interactive": "plot.interactive", "cliconfig": "cli.options",
    "train": "training.loop", "sampling": "training.sampling",
    "training_data": "training.data", "checkpoint": "training.checkpoint",
    "rundir": "training.rundir", "distributed": "training.distributed",
    "plan": "training.plan", "grid": "inference.grid",
    "reconstruct": "inference.reconstruct", "evaluate": "inference.evaluate",
    "fit": "inference.fit", "generate": "inference.generate",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``cellshapes.<old>`` and loads it as the module at its new path."""

    def find_spec(self, fullname: str, path=None, target=None):  # noqa: ANN001
        prefix, _, old = fullname.partition(".")
        if prefix != "cellshapes" or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = f"cellshapes.{MOVED[spec.name.split('.', 1)[1]]}"
        warnings.warn(f"{spec.name} moved to {new}; the old path goes in the next release",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the new module is already imported."""


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
