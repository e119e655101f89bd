"""cellshapes: generative modelling of time-evolving 3D cells with SO(3)-equivariant
implicit neural representations (Wiesner et al., Medical Image Analysis 2024).

Submodules are imported on demand (``from cellshapes import metrics``) so that importing
the package stays light and a GPU box without VTK can train.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: F401  (re-exported)
    CellshapesError,
    CheckpointError,
    DatasetFormatError,
    InputError,
    InputFileNotFoundError,
    OutputExistsError,
    ResourceError,
)
