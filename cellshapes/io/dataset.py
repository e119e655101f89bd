"""The prepared SDF dataset: one HDF5 file, one group per sequence (``docs/contracts.md``).

Root attributes ``format="cellshapes.sdf"``, ``format_version=1``; each group holds
``sdf`` (T, S, S, S) float32 and the sequence's attributes (spacing, scale, units...).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from cellshapes.atomic import atomic_path, check_output
from cellshapes.errors import DatasetFormatError, InputError
from cellshapes.io.hdf5 import open_h5
from cellshapes.io.reference import REFERENCE_DATASET

__all__ = ["SDFSequence", "write_dataset", "read_dataset", "dataset_info",
           "DATASET_FORMAT", "DATASET_FORMAT_VERSION"]

DATASET_FORMAT = "cellshapes.sdf"
DATASET_FORMAT_VERSION = 1


@dataclass
class SDFSequence:
    """One prepared time-lapse sequence.

    Attributes
    ----------
    name : str
        HDF5 group name (``seq_0000``...); groups are read in sorted name order.
    sdf : (T, S, S, S) ndarray of float32
        Stored SDF values, axes (t, z, y, x); ``value * attrs["sdf_unit_um"]`` is the
        signed distance in um, negative inside.
    attrs : dict
        spacing_um, scale_um, voxel_um, sdf_unit_um, cell_type, source, label, params...
        (see ``docs/contracts.md``).
    """

    name: str
    sdf: np.ndarray
    attrs: dict = field(default_factory=dict)


def _attr_value(v: Any) -> Any:
    """Convert a Python value to something h5py stores as an attribute."""
    if isinstance(v, dict):
        return json.dumps(v, default=_json_default)
    if isinstance(v, (list, tuple)):
        a = np.asarray(v)
        if a.dtype == object or a.dtype.kind in "US":
            return json.dumps(v, default=_json_default)
        return a
    if isinstance(v, Path):
        return str(v)
    if v is None:
        return "null"
    return v


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _from_attr(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        if v.ndim == 1 and v.size == 3 and v.dtype.kind == "f":
            return tuple(float(x) for x in v)
        return v
    if isinstance(v, np.generic):
        return v.item()
    return v


def _read_attrs(obj: Any) -> dict:
    return {k: _from_attr(v) for k, v in obj.attrs.items()}


def write_dataset(path: str | os.PathLike, sequences: Iterable[SDFSequence],
                  overwrite: bool = False, attrs: dict | None = None) -> Path:
    """Write prepared sequences to one HDF5 file, atomically.

    Layout (``docs/contracts.md``): root attrs ``format="cellshapes.sdf"``,
    ``format_version=1`` (+ ``attrs``); one group per sequence holding ``sdf``
    (T, S, S, S) float32, chunks (1, S, S, S), gzip, plus the sequence attrs.

    Parameters
    ----------
    path : path-like
        Output ``.h5``.
    sequences : iterable of SDFSequence
        Group names must be unique and contain no ``/``.
    overwrite : bool
        Replace an existing file.
    attrs : dict, optional
        Extra root attributes (dicts are stored as JSON strings).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    InputError
        Bad shape, non-finite values or duplicate names.
    """
    import h5py

    path = check_output(path, overwrite)
    seqs = list(sequences)
    names = [s.name for s in seqs]
    if len(set(names)) != len(names):
        raise InputError(f"duplicate sequence names: {names}")
    for s in seqs:
        if not s.name or "/" in s.name:
            raise InputError(f"invalid sequence name {s.name!r}")
        a = np.asarray(s.sdf)
        if a.ndim != 4:
            raise InputError(f"sequence {s.name}: sdf must be (T, S, S, S), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise InputError(f"sequence {s.name}: sdf contains NaN or inf")
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = DATASET_FORMAT
            f.attrs["format_version"] = DATASET_FORMAT_VERSION
            for k, v in (attrs or {}).items():
                f.attrs[k] = _attr_value(v)
            for s in seqs:
                a = np.asarray(s.sdf, dtype=np.float32)
                g = f.create_group(s.name)
                g.create_dataset("sdf", data=a, chunks=(1,) + a.shape[1:],
                                 compression="gzip", compression_opts=4, shuffle=True)
                for k, v in s.attrs.items():
                    g.attrs[k] = _attr_value(v)
    return path


def _check_layout(f: Any, path: Path) -> list[str]:
    fmt = _from_attr(f.attrs.get("format", ""))
    if fmt != DATASET_FORMAT:
        if REFERENCE_DATASET in f:
            raise DatasetFormatError(
                f"{path} is a reference-implementation file (dataset '{REFERENCE_DATASET}'); "
                "import it first with `cellshapes prepare`")
        raise DatasetFormatError(f"{path} is not a cellshapes SDF dataset (root attribute "
                                 f"format={fmt!r}, expected {DATASET_FORMAT!r})")
    names = sorted(f.keys())
    for n in names:
        g = f[n]
        if not hasattr(g, "keys") or "sdf" not in g:
            raise DatasetFormatError(f"{path}: group /{n} has no 'sdf' dataset")
        d = g["sdf"]
        if d.ndim != 4 or d.shape[2] != d.shape[1] or d.shape[3] != d.shape[1]:
            raise DatasetFormatError(f"{path}: /{n}/sdf must be (T, S, S, S), got {d.shape}")
    return names


def dataset_info(path: str | os.PathLike) -> list[dict]:
    """Names, shapes and attributes of the sequences of a dataset, without loading arrays.

    Returns
    -------
    list of dict
        One dict per sequence in sorted name order: ``name``, ``shape`` (T, S, S, S),
        ``attrs`` (dict).
    """
    path = Path(path)
    with open_h5(path) as f:
        names = _check_layout(f, path)
        return [{"name": n, "shape": tuple(int(x) for x in f[n]["sdf"].shape),
                 "attrs": _read_attrs(f[n])} for n in names]


def read_dataset(path: str | os.PathLike, names: Sequence[str] | None = None
                 ) -> list[SDFSequence]:
    """Load sequences of a prepared dataset (all of them, in sorted order, by default).

    Parameters
    ----------
    path : path-like
        Dataset written by :func:`write_dataset`.
    names : sequence of str, optional
        Group names to load, in the order given.

    Raises
    ------
    DatasetFormatError
        Not HDF5, truncated, wrong layout, or NaN / inf in an ``sdf``.
    InputError
        A requested name is not in the file.
    """
    path = Path(path)
    with open_h5(path) as f:
        present = _check_layout(f, path)
        if names is None:
            names = present
        missing = [n for n in names if n not in present]
        if missing:
            raise InputError(f"{path} has no sequence(s) {missing}; present: {present}")
        out = []
        for n in names:
            try:
                sdf = np.asarray(f[n]["sdf"][...], dtype=np.float32)
            except OSError as exc:
                raise DatasetFormatError(f"{path}: /{n}/sdf cannot be read (truncated or "
                                         f"corrupt: {exc})") from None
            if not np.all(np.isfinite(sdf)):
                raise DatasetFormatError(f"{path}: /{n}/sdf contains NaN or inf values")
            out.append(SDFSequence(n, sdf, _read_attrs(f[n])))
    return out
