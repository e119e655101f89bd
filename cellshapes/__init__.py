"""cellshapes: generative modelling of time-evolving 3D cells with SO(3)-equivariant
implicit neural representations (Wiesner et al., Medical Image Analysis 2024).

The public API is importable from here (``from cellshapes import read_masks, dice``);
each name lives in the module of its concept and is loaded on first use, so that
``import cellshapes`` stays light (no torch, no VTK) and a GPU box without VTK can train.

========================  =================================================================
configuration             :class:`ModelConfig`, :class:`TrainConfig`, :func:`model_config`,
                          :func:`train_config`, :data:`PROFILES`
model                     :class:`AutoDecoder`, :class:`Decoder`
inference                 :func:`load_run`, :func:`reconstruct_run`, :func:`evaluate_run`,
                          :func:`fit_run`, :func:`generate_run`, :func:`sequence_sdf`,
                          :class:`GridOptions`, :func:`load_pretrained`
data                      :func:`read_masks`, :func:`read_dataset`, :func:`write_dataset`,
                          :class:`SDFSequence`, :func:`dataset_info`,
                          :func:`prepare_dataset`, :func:`export_reference`,
                          :func:`mask_to_sdf`, :func:`make_sequence`, :func:`write_phantoms`
measurement               :func:`dice`, :func:`describe_volume`, :func:`describe_sequence`,
                          :func:`mesh_from_volume`, :func:`save_mesh`
comparison                :func:`compare_shapes`, :func:`compare_path`, :func:`hd95`,
                          :func:`assd`, :func:`surface_dice`, :func:`protrusion_recall`
errors                    :class:`CellshapesError` and its subclasses
========================  =================================================================

Training is :func:`cellshapes.training.loop.train`.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from cellshapes.errors import CellshapesError  # the error classes are light: imported at once
from cellshapes.errors import (CheckpointError, DatasetFormatError, InputError,
                               InputFileNotFoundError, OutputExistsError, ResourceError)
from cellshapes.moved import install as _install_moved

_install_moved()  # the flat layout's module paths, for one release (cellshapes.moved)

#: Public name -> (module, attribute), resolved on first access by :func:`__getattr__`.
_LAZY: dict[str, tuple[str, str]] = {
    "ModelConfig": ("cellshapes.config", "ModelConfig"),
    "TrainConfig": ("cellshapes.config", "TrainConfig"),
    "model_config": ("cellshapes.config", "model_config"),
    "train_config": ("cellshapes.config", "train_config"),
    "PROFILES": ("cellshapes.config", "PROFILES"),
    "AutoDecoder": ("cellshapes.model", "AutoDecoder"),
    "Decoder": ("cellshapes.model", "Decoder"),
    "load_run": ("cellshapes.inference.reconstruct", "load_run"),
    "reconstruct_run": ("cellshapes.inference.reconstruct", "reconstruct_run"),
    "evaluate_run": ("cellshapes.inference.evaluate", "evaluate_run"),
    "fit_run": ("cellshapes.inference.fit", "fit_run"),
    "sequence_sdf": ("cellshapes.inference.grid", "sequence_sdf"),
    "GridOptions": ("cellshapes.inference.grid", "GridOptions"),
    "generate_run": ("cellshapes.inference.generate", "generate_run"),
    "load_pretrained": ("cellshapes.pretrained", "load"),
    "read_masks": ("cellshapes.io", "read_masks"),
    "read_dataset": ("cellshapes.io", "read_dataset"),
    "write_dataset": ("cellshapes.io", "write_dataset"),
    "SDFSequence": ("cellshapes.io", "SDFSequence"),
    "dataset_info": ("cellshapes.io", "dataset_info"),
    "prepare_dataset": ("cellshapes.prepare", "prepare_dataset"),
    "export_reference": ("cellshapes.prepare", "export_reference"),
    "mask_to_sdf": ("cellshapes.sdf", "mask_to_sdf"),
    "make_sequence": ("cellshapes.phantoms", "make_sequence"),
    "write_phantoms": ("cellshapes.phantoms", "write_phantoms"),
    "dice": ("cellshapes.measure.metrics", "dice"),
    "describe_volume": ("cellshapes.measure.metrics", "describe_volume"),
    "describe_sequence": ("cellshapes.measure.metrics", "describe_sequence"),
    "mesh_from_volume": ("cellshapes.measure.mesh", "mesh_from_volume"),
    "save_mesh": ("cellshapes.io.meshes", "save_mesh"),
    "compare_shapes": ("cellshapes.measure.compare", "compare_shapes"),
    "compare_path": ("cellshapes.measure.compare", "compare_path"),
    "hd95": ("cellshapes.measure.surface", "hd95"),
    "assd": ("cellshapes.measure.surface", "assd"),
    "surface_dice": ("cellshapes.measure.surface", "surface_dice"),
    "protrusion_recall": ("cellshapes.measure.protrusion", "protrusion_recall"),
}

__all__ = [
    *_LAZY,
    "CellshapesError",
    "CheckpointError",
    "DatasetFormatError",
    "InputError",
    "InputFileNotFoundError",
    "OutputExistsError",
    "ResourceError",
]


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first access (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'cellshapes' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
