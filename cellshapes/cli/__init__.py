"""The ``cellshapes`` command line: thin wrappers around the public API.

Every expected failure (a :class:`~cellshapes.errors.CellshapesError`) prints one line
``cellshapes: error: ...`` to stderr and exits with code 2, without a traceback.
:mod:`cellshapes.cli.parser` declares the commands, :mod:`cellshapes.cli.commands` runs
them, :mod:`cellshapes.cli.options` generates config options from the dataclasses.
"""
from __future__ import annotations

import sys
import warnings
from typing import Sequence

from cellshapes.errors import CellshapesError

__all__ = ["main", "build_parser"]


def build_parser():  # noqa: ANN201  (argparse.ArgumentParser; imported lazily)
    """The argparse parser of the ``cellshapes`` command (:mod:`cellshapes.cli.parser`)."""
    from cellshapes.cli.parser import build_parser as build

    return build()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cellshapes`` console script."""
    args = build_parser().parse_args(argv)
    previous, warnings.formatwarning = warnings.formatwarning, _one_line_warning
    try:
        return int(args.handler(args) or 0)
    except CellshapesError as exc:
        msg = " ".join(str(exc).split())  # exactly one line
        print(f"cellshapes: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cellshapes: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    """Warnings of a command as ``cellshapes: warning: ...`` (no source line)."""
    return f"cellshapes: warning: {' '.join(str(message).split())}\n"
