"""Mask and image files: 3D / 3D+t TIFF, folders of per-frame TIFFs, ``.npy``.

Readers return (T, Z, Y, X) arrays and the voxel spacing (dz, dy, dx) in um found in the
file; :func:`write_tiff` writes ImageJ hyperstacks that :func:`read_masks` reads back with
their spacing.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellshapes.atomic import atomic_path
from cellshapes.errors import DatasetFormatError, InputError, InputFileNotFoundError
from cellshapes.io.axes import AXES_LETTERS, apply_axes, as_tzyx

__all__ = ["read_masks", "read_tiff", "ome_spacing", "as_tzyx", "apply_axes", "write_tiff",
           "natural_key", "AXES_LETTERS"]



_TIFF_SUFFIXES = (".tif", ".tiff")
_UNIT_TO_UM = {"um": 1.0, "micron": 1.0, "microns": 1.0, "\u00b5m": 1.0, "\\u00b5m": 1.0,
               "micrometer": 1.0, "micrometre": 1.0, "nm": 1e-3, "nanometer": 1e-3,
               "mm": 1e3, "millimeter": 1e3}

Spacing = tuple[float, float, float]


def natural_key(name: str) -> list:
    """Sort key that orders ``mask2.tif`` before ``mask10.tif`` (numbers compared as ints)."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def read_masks(path: str | os.PathLike, label: int | None = None, axes: str | None = None,
               channel: int | None = None) -> tuple[np.ndarray, dict]:
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
    axes : str, optional
        The array's real axes in stored order (``TZYX``, ``ZYX``, ``TCZYX`` ...; letters of
        :data:`AXES_LETTERS`), overriding the file's metadata, which is often wrong in
        microscopy TIFFs (``--axes``). For a folder, the axes of each per-frame file.
    channel : int, optional
        The channel to read (0-based) when the axes (given or the file's) have a ``C`` axis
        longer than one (``--channel``).

    Returns
    -------
    masks : (T, Z, Y, X) ndarray of int
        Label ids as stored (0 = background); bool input becomes uint8, float input with
        integer values becomes int32.
    info : dict
        ``spacing_um``: (dz, dy, dx) in um from ImageJ metadata (``spacing`` for z, the
        resolution tags for y and x), or None if the file carries none; ``source``: the
        path as a string; ``axes``: the axes found in the file (None if it says
        nothing); ``axes_given``: ``axes`` as given (upper case) or None.

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
        arr, spacing, found = _read_folder(path, axes, channel)
    else:
        if path.suffix.lower() == ".npy":
            try:
                raw = np.load(path, allow_pickle=False)
            except Exception as exc:  # numpy raises ValueError/OSError/EOFError for garbage
                raise DatasetFormatError(f"{path} is not a readable .npy file ({exc})") from None
            spacing, found = None, ""
        else:
            raw, spacing, found = read_tiff(path)
        arr = as_tzyx(*apply_axes(raw, found, axes, channel, path), path, claimed=found)
    arr = _as_integer_labels(arr, path)
    if label is not None:
        present = np.unique(arr)
        if label not in present:
            raise InputError(f"label {label} not found in {path}; labels present: "
                             f"{_format_labels(present[present != 0])}")
        arr = (arr == label).astype(np.uint8)
    return arr, {"spacing_um": spacing, "source": str(path), "axes": found or None,
                 "axes_given": axes.upper() if axes else None}


def _format_labels(labels: np.ndarray, limit: int = 20) -> str:
    items = [str(int(v)) for v in labels[:limit]]
    more = f" ... ({len(labels)} in all)" if len(labels) > limit else ""
    return (", ".join(items) + more) if items else "none (all background)"


def read_tiff(path: str | os.PathLike) -> tuple[np.ndarray, Spacing | None, str]:
    """Read the first series of a TIFF file as it is stored, with its spacing and axes.

    Parameters
    ----------
    path : path-like
        A TIFF file (ImageJ hyperstack, shaped TIFF written by tifffile, or plain).

    Returns
    -------
    array : ndarray
        The first series, in the file's axis order and dtype.
    spacing : length-3 tuple of floats or None
        (dz, dy, dx) in um from ImageJ metadata (``spacing`` and resolution tags, scaled
        by ``unit``), else OME-TIFF ``PhysicalSizeZ/Y/X`` (with their units), else the
        ``spacing_um`` of a shaped TIFF; None if the file says nothing.
    axes : str
        Axis letters of ``array`` (e.g. ``"TZYX"``) for ImageJ and shaped TIFFs with
        explicit axes; ``""`` for generic TIFFs, whose axes say nothing about T vs Z.

    Raises
    ------
    DatasetFormatError
        The file cannot be decoded as TIFF.

    See Also
    --------
    as_tzyx : brings ``array`` to (T, Z, Y, X) using ``axes``.
    """
    import tifffile

    path = Path(path)

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            arr = series.asarray()
            axes = series.axes
            ij = tif.imagej_metadata
            page = tif.pages[0]
            spacing = _imagej_spacing(ij, page)
            if spacing is None and tif.is_ome:
                spacing = ome_spacing(tif.ome_metadata)
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


def ome_spacing(xml: str | None) -> Spacing | None:
    """(dz, dy, dx) in um from OME-XML ``Pixels`` attributes ``PhysicalSizeZ/Y/X`` and
    their ``...Unit`` (default um, as OME says); None when the sizes are not all given
    or a unit is unknown."""
    import xml.etree.ElementTree as ET

    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    pixels = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return None
    out = []
    for axis in "ZYX":
        size = pixels.get(f"PhysicalSize{axis}")
        unit = str(pixels.get(f"PhysicalSize{axis}Unit", "\u00b5m")).strip().lower()
        if size is None or unit not in _UNIT_TO_UM:
            return None
        out.append(float(size) * _UNIT_TO_UM[unit])
    return (out[0], out[1], out[2])


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


def _read_folder(path: Path, axes: str | None = None, channel: int | None = None
                 ) -> tuple[np.ndarray, Spacing | None, str]:
    files = sorted((p for p in path.iterdir()
                    if p.is_file() and p.suffix.lower() in _TIFF_SUFFIXES
                    and not p.name.startswith(".")), key=lambda p: natural_key(p.name))
    if not files:
        raise InputError(f"folder {path} contains no .tif/.tiff files")
    frames, spacing = [], None
    for i, f in enumerate(files):
        raw, sp, found = read_tiff(f)
        arr = as_tzyx(*apply_axes(raw, found, axes, channel, f), f, claimed=found)
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
