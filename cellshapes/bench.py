"""``cellshapes bench``: the entry to the benchmark harness of a source checkout.

The harness and its reference-style baseline models are not part of the library: they
live in the repository's ``benchmarks/`` folder (``benchmarks/harness.py``,
``benchmarks/baselines.py``, method in ``benchmarks/README.md``), next to the
``cellshapes`` package. This module finds that folder and runs the harness from it; an
installed wheel has no such folder, and ``cellshapes bench`` says so in one line.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from cellshapes.errors import InputError

__all__ = ["benchmarks_dir", "load_harness"]


def benchmarks_dir() -> Path:
    """The ``benchmarks/`` folder beside the ``cellshapes`` package (it may not exist)."""
    return Path(__file__).resolve().parent.parent / "benchmarks"


def load_harness() -> ModuleType:
    """Import ``benchmarks.harness`` from the source checkout this package runs from.

    Returns
    -------
    module
        ``benchmarks.harness`` (``run_benchmarks``, ``format_summary``, ...).

    Raises
    ------
    InputError
        No ``benchmarks/harness.py`` beside the package (an installed wheel), or another
        module named ``benchmarks`` is already imported.
    """
    folder = benchmarks_dir()
    if not (folder / "harness.py").is_file():
        raise InputError(f"cellshapes bench runs the harness in the repository's benchmarks/ "
                         f"folder, and there is none at {folder}; run it from a source "
                         "checkout (git clone, then pip install -e .)")
    loaded = sys.modules.get("benchmarks")
    if loaded is None:
        spec = importlib.util.spec_from_file_location(
            "benchmarks", folder / "__init__.py", submodule_search_locations=[str(folder)])
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules["benchmarks"] = loaded
        spec.loader.exec_module(loaded)
    elif folder not in [Path(p).resolve() for p in getattr(loaded, "__path__", [])]:
        raise InputError(f"another module named 'benchmarks' ({loaded!r}) is imported; "
                         f"cellshapes bench needs the one in {folder}")
    return importlib.import_module("benchmarks.harness")

