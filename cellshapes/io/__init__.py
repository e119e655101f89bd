"""Reading and writing the file formats of cellshapes.

* masks: 3D (Z,Y,X) or 3D+t (T,Z,Y,X) TIFF, a folder of per-frame 3D TIFFs, ``.npy``;
* the prepared SDF dataset (HDF5, layout in ``docs/contracts.md``);
* the reference implementation's per-sequence ``.h5`` files (dataset ``sdf_vid``).

All writers are atomic (:mod:`cellshapes.atomic`) and refuse to replace an existing path
unless ``overwrite=True``. All readers turn a malformed file into a one-line
:class:`~cellshapes.errors.DatasetFormatError` / :class:`~cellshapes.errors.InputError`.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..atomic import atomic_path, check_output
from ..errors import DatasetFormatError, InputError, InputFileNotFoundError

__all__ = [
    "read_masks",
    "write_tiff",
    "SDFSequence",
    "write_dataset",
    "read_dataset",
    "dataset_info",
    "read_reference_sdf",
    "write_reference_sdf",
    "is_reference_sdf",
    "natural_key",
    "DATASET_FORMAT",
    "DATASET_FORMAT_VERSION",
]

DATASET_FORMAT = "cellshapes.sdf"
DATASET_FORMAT_VERSION = 1
REFERENCE_DATASET = "sdf_vid"
_TIFF_SUFFIXES = (".tif", ".tiff")
_UNIT_TO_UM = {"um": 1.0, "micron": 1.0, "microns": 1.0, "\u00b5m": 1.0, "\\u00b5m": 1.0,
               "micrometer": 1.0, "micrometre": 1.0, "nm": 1e-3, "nanometer": 1e-3,
               "mm": 1e3, "millimeter": 1e3}

Spacing = tuple[float, float, float]


# ------------------------------------------------------------------------------ masks
def natural_key(name: str) -> list:
    """Sort key that orders ``mask2.tif`` before ``mask10.tif`` (numbers compared as ints)."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def read_masks(path: str | os.PathLike, label: int | None = None) -> tuple[np.ndarray, dict]:
    """Read 3D or 3D+t masks (binary or label images) as a (T, Z, Y, X) integer array.

    Parameters
    ----------
    path : path-like
        A 3D TIFF (-> T = 1), a 3D+t TIFF (ImageJ ``axes`` metadata is trusted where
        present, else a 4D array is taken as (T, Z, Y, X)), a folder of per-frame 3D TIFFs
        (``mask_t000.tif``, Cell Tracking Challenge ``man_seg000.tif`` /
        ``man_seg_000_000.tif``, ``mask000.tif``; sorted naturally) or a ``.npy`` file.
    label : int, optional
        If given, return ``(labels == label)`` as uint8 instead of the label image; a label
        that occurs in no frame raises :class:`InputError` naming the labels present.

    Returns
    -------
    masks : (T, Z, Y, X) ndarray of int
        Label ids as stored (0 = background); bool input becomes uint8, float input with
        integer values becomes int32.
    info : dict
        ``spacing_um``: (dz, dy, dx) in um from ImageJ metadata (``spacing`` for z, the
        resolution tags for y and x), or None if the file carries none; ``source``: the
        path as a string; ``axes``: the axes found in the file.

    Raises
    ------
    InputFileNotFoundError
        ``path`` does not exist.
    DatasetFormatError
        The file cannot be decoded as TIFF / npy.
    InputError
        Not 3D or 3D+t, non-integer (non-binary) float values, negative or non-finite
        values, an empty folder or frames of different shapes.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"input {path} does not exist")
    if path.is_dir():
        arr, spacing, axes = _read_folder(path)
    elif path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:  # numpy raises ValueError/OSError/EOFError for garbage
            raise DatasetFormatError(f"{path} is not a readable .npy file ({exc})") from None
        spacing, axes = None, ""
    else:
        arr, spacing, axes = _read_tiff(path)
    arr = _as_tzyx(arr, axes, path)
    arr = _as_integer_labels(arr, path)
    if label is not None:
        present = np.unique(arr)
        if label not in present:
            raise InputError(f"label {label} not found in {path}; labels present: "
                             f"{_format_labels(present[present != 0])}")
        arr = (arr == label).astype(np.uint8)
    return arr, {"spacing_um": spacing, "source": str(path), "axes": axes or None}


def _format_labels(labels: np.ndarray, limit: int = 20) -> str:
    items = [str(int(v)) for v in labels[:limit]]
    more = f" ... ({len(labels)} in all)" if len(labels) > limit else ""
    return (", ".join(items) + more) if items else "none (all background)"


def _read_tiff(path: Path) -> tuple[np.ndarray, Spacing | None, str]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            arr = series.asarray()
            axes = series.axes
            ij = tif.imagej_metadata
            page = tif.pages[0]
            spacing = _imagej_spacing(ij, page)
            shaped = (tif.shaped_metadata or [{}])[0] if tif.is_shaped else {}
            if spacing is None and len(shaped.get("spacing_um", ())) == 3:
                spacing = tuple(float(v) for v in shaped["spacing_um"])  # our phantoms
            if not tif.is_imagej:
                # generic TIFF axes ('QYX', 'IYX' ...) say nothing about T vs Z; shaped
                # TIFFs written with explicit axes metadata do
                axes = str(shaped.get("axes", "")) if shaped.get("axes") else ""
    except Exception as exc:  # tifffile raises many types for garbage input
        raise DatasetFormatError(f"{path} is not a readable TIFF file "
                                 f"({type(exc).__name__}: {exc})") from None
    return arr, spacing, axes


def _imagej_spacing(ij: dict | None, page: Any) -> Spacing | None:
    """(dz, dy, dx) in um from ImageJ metadata, or None if the file does not say."""
    if not ij or "spacing" not in ij:
        return None
    scale = _UNIT_TO_UM.get(str(ij.get("unit", "um")).strip().lower(), 1.0)

    def res(tag: str) -> float:
        t = page.tags.get(tag)
        if t is None:
            return 1.0
        num, den = t.value
        return den / num if num else 1.0  # pixels per unit -> unit per pixel

    dz = float(ij["spacing"])
    dy, dx = res("YResolution"), res("XResolution")
    return (dz * scale, dy * scale, dx * scale)


def _read_folder(path: Path) -> tuple[np.ndarray, Spacing | None, str]:
    files = sorted((p for p in path.iterdir()
                    if p.is_file() and p.suffix.lower() in _TIFF_SUFFIXES
                    and not p.name.startswith(".")), key=lambda p: natural_key(p.name))
    if not files:
        raise InputError(f"folder {path} contains no .tif/.tiff files")
    frames, spacing = [], None
    for i, f in enumerate(files):
        arr, sp, axes = _read_tiff(f)
        arr = _as_tzyx(arr, axes, f)
        if arr.shape[0] != 1:
            raise InputError(f"{f} holds {arr.shape[0]} time points; a folder must hold one "
                             "3D (Z,Y,X) TIFF per frame")
        if frames and arr.shape[1:] != frames[0].shape:
            raise InputError(f"frames of {path} differ in shape: {files[0].name} is "
                             f"{frames[0].shape}, {f.name} is {arr.shape[1:]}")
        if i == 0:
            spacing = sp
        frames.append(arr[0])
    return np.stack(frames), spacing, "TZYX"


def _as_tzyx(arr: np.ndarray, axes: str, path: Path) -> np.ndarray:
    """Bring an array to (T, Z, Y, X) using ImageJ axes where known, else by ndim."""
    arr = np.asarray(arr)
    if axes and len(axes) == arr.ndim:
        # Drop singleton channel/sample axes; a real multi-channel image is not a mask.
        keep = []
        for ax, n in zip(axes, arr.shape):
            if ax in "CS":
                if n != 1:
                    raise InputError(f"{path} has {n} channels (axes {axes}); save one "
                                     "mask channel only")
                continue
            keep.append(ax)
        arr = arr.reshape([n for ax, n in zip(axes, arr.shape) if ax not in "CS"])
        axes = "".join(keep)
        if set(axes) <= set("TZYX") and "Z" not in axes:
            raise InputError(f"{path}: needs a 3D (Z,Y,X) or 3D+t (T,Z,Y,X) image, got shape "
                             f"{tuple(arr.shape)} with ImageJ axes {axes} (no Z); if the "
                             "planes are z-slices, re-save the stack with axes ZYX")
        if set(axes) <= set("TZYX") and "Y" in axes and "X" in axes:
            order = [axes.index(a) for a in "TZYX" if a in axes]
            arr = arr.transpose(order)
            return arr[None] if "T" not in axes else arr
    if arr.ndim == 3:
        return arr[None]
    if arr.ndim == 4:
        return arr
    raise InputError(f"{path}: needs a 3D (Z,Y,X) or 3D+t (T,Z,Y,X) image, got shape "
                     f"{tuple(arr.shape)}" + (f" (axes {axes})" if axes else ""))


def _as_integer_labels(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.signedinteger) and arr.size and arr.min() < 0:
            raise InputError(f"{path}: masks must be >= 0 (0 = background), found "
                             f"{int(arr.min())}")
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{path}: mask contains NaN or inf values")
        if arr.size and (np.any(arr != np.round(arr)) or arr.min() < 0):
            raise InputError(f"{path}: float image with non-integer or negative values "
                             f"(range {float(arr.min()):.4g}..{float(arr.max()):.4g}) is not a "
                             "binary or label mask (non-binary garbage); threshold it first")
        return arr.astype(np.int32)
    raise InputError(f"{path}: unsupported mask dtype {arr.dtype}")


def write_tiff(path: str | os.PathLike, array: np.ndarray, spacing: Sequence[float] | None = None,
               overwrite: bool = False) -> Path:
    """Write a (Z,Y,X) or (T,Z,Y,X) array as an ImageJ hyperstack TIFF, atomically.

    Parameters
    ----------
    path : path-like
        Destination ``.tif``.
    array : (Z, Y, X) or (T, Z, Y, X) ndarray
        bool / integer masks (stored as uint8 or uint16 when they fit, else float32 with
        exact integer values up to 2**24) or float32 images.
    spacing : length-3 tuple of floats, optional
        Voxel size (dz, dy, dx) in um, stored as ImageJ ``spacing`` and resolution tags.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.
    """
    import tifffile

    arr = np.asarray(array)
    if arr.ndim not in (3, 4):
        raise InputError(f"write_tiff needs a 3D (Z,Y,X) or 3D+t (T,Z,Y,X) array, got shape "
                         f"{arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo >= 0 and hi < 256:
            arr = arr.astype(np.uint8)
        elif lo >= 0 and hi < 65536:
            arr = arr.astype(np.uint16)
        else:
            arr = arr.astype(np.float32)
    elif arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    axes = "TZYX" if arr.ndim == 4 else "ZYX"
    metadata: dict[str, Any] = {"axes": axes, "unit": "um"}
    kwargs: dict[str, Any] = {}
    if spacing is not None:
        dz, dy, dx = (float(s) for s in spacing)
        metadata["spacing"] = dz
        kwargs["resolution"] = (1.0 / dx, 1.0 / dy)
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tifffile.imwrite(tmp, arr, imagej=True, metadata=metadata, **kwargs)
    return path


# ------------------------------------------------------------------- prepared dataset
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


def _open_h5(path: str | os.PathLike):
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"dataset {path} does not exist")
    if path.is_dir():
        raise DatasetFormatError(f"{path} is a folder, expected an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        reason = str(exc).split("(")[0].strip() or type(exc).__name__
        raise DatasetFormatError(f"{path} is not a readable HDF5 file (truncated or another "
                                 f"format: {reason})") from None


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
    with _open_h5(path) as f:
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
    with _open_h5(path) as f:
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


# ------------------------------------------------------------- reference (MATLAB) files
def is_reference_sdf(path: str | os.PathLike) -> bool:
    """True if ``path`` is an HDF5 file with a top-level ``sdf_vid`` dataset."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return REFERENCE_DATASET in f
    except (OSError, ValueError):
        return False


def read_reference_sdf(path: str | os.PathLike) -> np.ndarray:
    """Read a reference-implementation ``.h5`` (dataset ``sdf_vid``) as (T, Z, Y, X).

    MATLAB stores the array as [T 256 256 256] in column-major order, so h5py sees the
    axes reversed; this function undoes it with ``transpose(3, 2, 1, 0)`` (a single
    MATLAB frame, 3D, becomes T = 1). Values are kept as stored: negative inside, outside
    clamped at 32 voxels, each frame divided by its max |sdf|.

    Returns
    -------
    (T, Z, Y, X) ndarray of float32

    Raises
    ------
    DatasetFormatError
        Not HDF5, no ``sdf_vid``, wrong rank, or NaN / inf values.
    """
    path = Path(path)
    with _open_h5(path) as f:
        if REFERENCE_DATASET not in f:
            raise DatasetFormatError(f"{path} has no '{REFERENCE_DATASET}' dataset "
                                     f"(found: {sorted(f.keys())})")
        try:
            raw = np.asarray(f[REFERENCE_DATASET][...], dtype=np.float32)
        except OSError as exc:
            raise DatasetFormatError(f"{path}: '{REFERENCE_DATASET}' cannot be read ({exc})"
                                     ) from None
    if raw.ndim == 3:
        arr = raw.transpose(2, 1, 0)[None]
    elif raw.ndim == 4:
        arr = raw.transpose(3, 2, 1, 0)
    else:
        raise DatasetFormatError(f"{path}: '{REFERENCE_DATASET}' must be 3D or 4D, got shape "
                                 f"{raw.shape}")
    if not np.all(np.isfinite(arr)):
        raise DatasetFormatError(f"{path}: '{REFERENCE_DATASET}' contains NaN or inf values")
    return np.ascontiguousarray(arr)


def write_reference_sdf(path: str | os.PathLike, sdf: np.ndarray, overwrite: bool = False
                        ) -> Path:
    """Write (T, Z, Y, X) SDF values as a reference-implementation ``sdf_vid`` file.

    The array is stored transposed (``sdf.transpose(3, 2, 1, 0)``) so that MATLAB reads it
    as [T Z Y X] and :func:`read_reference_sdf` returns ``sdf`` unchanged; one frame per
    chunk, gzip. Values are written as given (the caller normalises them).
    """
    import h5py

    a = np.asarray(sdf, dtype=np.float32)
    if a.ndim != 4:
        raise InputError(f"reference sdf must be (T, Z, Y, X), got shape {a.shape}")
    rev = np.ascontiguousarray(a.transpose(3, 2, 1, 0))
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset(REFERENCE_DATASET, data=rev, chunks=rev.shape[:3] + (1,),
                             compression="gzip", compression_opts=4)
    return path
