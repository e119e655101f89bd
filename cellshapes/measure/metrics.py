"""Shape descriptors of 3D cell masks and SDFs: volume, surface area, sphericity, DSC.

Everything here is a pure function on arrays, except :func:`describe_path`, which reads
masks or a prepared dataset and calls the pure functions. Volumes are (Z, Y, X) arrays,
sequences (T, Z, Y, X); spacing is ``(dz, dy, dx)`` in um (see ``docs/contracts.md``).

A volume is either a *mask* (bool or integer labels, foreground = value > 0) or an *SDF*
(float with negative values, inside = value <= 0), chosen automatically unless ``is_sdf``
is given (:func:`cellshapes.measure.mesh.detect_sdf`). Surface areas are measured on
:func:`cellshapes.measure.mesh.isosurface`: SDFs contoured at 0, binary masks smoothed by one
voxel per axis and contoured at the level that encloses their voxel-count volume, which
removes the 9-12 % staircase excess of raw marching cubes and keeps the sphericity of a
mask <= 1 (measurements in the notes of :mod:`cellshapes.measure.mesh`). The volume of an SDF is
the volume enclosed by that same surface, so area and volume always describe one surface.

Surface distances (HD95, ASSD, surface Dice) are in :mod:`cellshapes.measure.surface`, the
protrusion metric in :mod:`cellshapes.measure.protrusion`, the KS tests of :func:`ks_tests` in
:mod:`cellshapes.measure.ks`.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from skimage import measure

from cellshapes.errors import InputError
from cellshapes.measure.cells import cells, components
from cellshapes.measure.ks import ks_tests
from cellshapes.measure.mesh import check_volume, detect_sdf, foreground, isosurface, mesh_volume
from cellshapes.units import SpacingLike, check_spacing

__all__ = [
    "dice",
    "dice_per_frame",
    "volume",
    "surface_area",
    "sphericity",
    "describe_volume",
    "describe_sequence",
    "summarise_per_time",
    "ks_tests",
    "describe_path",
]

_UNIT_SPACING = (1.0, 1.0, 1.0)

DESCRIPTOR_COLUMNS = ("volume_um3", "surface_um2", "sphericity", "sphericity_wadell",
                      "n_components")
#: Columns of the per-cell tables (after ``frame``).
CELL_COLUMNS = ("cell", "cell_from", "volume_um3", "surface_um2", "sphericity",
                "sphericity_wadell", "centroid_z_um", "centroid_y_um", "centroid_x_um")


# ----------------------------------------------------------------------- overlap (DSC)
def dice(a: Any, b: Any) -> float:
    """Dice similarity coefficient ``2 |A & B| / (|A| + |B|)`` of two masks.

    Parameters
    ----------
    a, b : array_like, same shape
        Masks (bool or labels; nonzero = foreground).

    Returns
    -------
    float
        DSC in [0, 1]; 1.0 when both masks are empty.
    """
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    if a.shape != b.shape:
        raise InputError(f"dice needs masks of the same shape, got {a.shape} and {b.shape}")
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def dice_per_frame(a: Any, b: Any) -> np.ndarray:
    """DSC of each frame of two mask sequences.

    Parameters
    ----------
    a, b : array_like, shape (T, ...)
        Mask sequences of equal shape; frame ``k`` of ``a`` is compared with frame ``k``
        of ``b``.

    Returns
    -------
    ndarray, shape (T,), float64
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim < 1:
        raise InputError(f"dice_per_frame needs sequences of the same shape, got {a.shape} "
                         f"and {b.shape}")
    return np.array([dice(x, y) for x, y in zip(a, b)], dtype=float)


# -------------------------------------------------------------------- volume and area
def volume(mask: Any, spacing: SpacingLike | None = _UNIT_SPACING,
           is_sdf: bool | None = None) -> float:
    """Volume of the object: voxel count of a mask, enclosed mesh volume of an SDF.

    Parameters
    ----------
    mask : array_like, shape (Z, Y, X)
        Mask or labels (foreground > 0), or an SDF (foreground <= 0).
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.
    is_sdf : bool, optional
        Force the SDF / mask reading; autodetected when None.

    Returns
    -------
    float
        Volume in um^3: for a mask the number of foreground voxels times the voxel
        volume; for an SDF the volume enclosed by its zero :func:`cellshapes.measure.mesh.isosurface`
        (:func:`cellshapes.measure.mesh.mesh_volume`), the surface whose area
        :func:`surface_area` reports (see the notes of :mod:`cellshapes.measure.mesh`).
    """
    arr = check_volume(mask, what="mask")
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    sdf = detect_sdf(arr, is_sdf)
    if sdf:
        return mesh_volume(*isosurface(arr, sp, is_sdf=True))
    return float(np.count_nonzero(foreground(arr, sdf)) * np.prod(sp))


def surface_area(volume: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                 level: float | None = None, is_sdf: bool | None = None) -> float:
    """Surface area of the object: the area of its :func:`cellshapes.measure.mesh.isosurface`.

    Parameters
    ----------
    volume, spacing, level, is_sdf
        As for :func:`cellshapes.measure.mesh.isosurface`: a (Z, Y, X) mask / labels or SDF,
        its voxel size (dz, dy, dx) in um, the contour level (default None: the
        volume-matched level of a mask, 0 of an SDF) and the optional forced reading.

    Returns
    -------
    float
        Area in um^2 (all components together).

    Raises
    ------
    InputError
        Empty foreground, wrong shape or non-finite values.
    """
    verts, faces = isosurface(volume, spacing, level=level, is_sdf=is_sdf)
    return float(measure.mesh_surface_area(verts, faces))


def sphericity(volume_um3: float, area_um2: float, kind: str = "paper") -> float:
    """Sphericity from volume and surface area; 1 for a sphere, smaller otherwise.

    Parameters
    ----------
    volume_um3 : float
        Volume V in um^3.
    area_um2 : float
        Surface area A in um^2.
    kind : {"paper", "wadell"}
        ``"paper"``: 36 pi V^2 / A^3, the quantity whose values the paper reports (see
        ``shared/paper/RESULTS.md``). ``"wadell"``: pi^(1/3) (6 V)^(2/3) / A, the cube
        root of the former.

    Returns
    -------
    float
    """
    if kind not in ("paper", "wadell"):
        raise InputError(f"sphericity kind must be 'paper' or 'wadell', got {kind!r}")
    v, a = float(volume_um3), float(area_um2)
    if not (np.isfinite(v) and np.isfinite(a)) or v < 0 or a <= 0:
        raise InputError(f"sphericity needs volume >= 0 and area > 0, got V={v}, A={a}")
    if kind == "paper":
        return 36.0 * math.pi * v * v / a ** 3
    return math.pi ** (1.0 / 3.0) * (6.0 * v) ** (2.0 / 3.0) / a


# --------------------------------------------------------------------------- describe
def _descriptors(arr: np.ndarray, sp: np.ndarray, sdf: bool) -> dict[str, float]:
    """Volume, area and sphericities of one object from its one isosurface."""
    verts, faces = isosurface(arr, sp, is_sdf=sdf)
    area = float(measure.mesh_surface_area(verts, faces))
    if sdf:  # volume of the same mesh (module notes of cellshapes.measure.mesh)
        vol = mesh_volume(verts, faces)
    else:  # the contour encloses the voxel-count volume (volume-matched level)
        vol = float(np.count_nonzero(foreground(arr, False)) * np.prod(sp))
    return {"volume_um3": vol, "surface_um2": area,
            "sphericity": sphericity(vol, area, "paper"),
            "sphericity_wadell": sphericity(vol, area, "wadell")}


def _cell_rows(arr: np.ndarray, sp: np.ndarray, sdf: bool) -> list[dict[str, Any]]:
    """One descriptor row per cell (:func:`cells`), each cell measured on its own."""
    lab, ids, source = cells(arr, sdf)
    cents = np.asarray(ndi.center_of_mass(lab > 0, lab, ids)).reshape(-1, 3) * sp
    outside = max(float(arr.max()), 1.0) if sdf else 0
    rows = []
    for k, cent in zip(ids, cents):
        mine = lab == k
        # an SDF's other components become "outside" (none is 26-adjacent to this one, so
        # no edge of this cell's surface changes); a mask cell is measured as its own mask
        alone = np.where(mine | (lab == 0), arr, outside) if sdf else mine
        z, y, x = (float(c) for c in cent)
        rows.append({"cell": int(k), "cell_from": source, **_descriptors(alone, sp, sdf),
                     "centroid_z_um": z, "centroid_y_um": y, "centroid_x_um": x})
    return rows


def describe_volume(volume: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                    is_sdf: bool | None = None, per_cell: bool = False
                    ) -> dict[str, float | int] | list[dict[str, float | int]]:
    """Descriptors of one 3D object, or of each of its cells.

    Parameters
    ----------
    volume, spacing, is_sdf
        As for :func:`volume`: a (Z, Y, X) mask / labels (foreground > 0) or SDF (inside
        <= 0), its voxel size (dz, dy, dx) in um and the optional forced reading.
    per_cell : bool
        False: the whole foreground as one object. True: each cell on its own
        (:func:`cells`: each label id of a label image, touching or not; each
        26-connected component of a binary mask or SDF, e.g. each daughter after a
        division, as the paper describes them, Sec 4.4).

    Returns
    -------
    dict or list of dict
        ``volume_um3`` (mask: voxel count x voxel volume; SDF: volume enclosed by the
        surface), ``surface_um2`` (see :func:`surface_area`), ``sphericity`` (paper's,
        36 pi V^2 / A^3), ``sphericity_wadell``, and ``n_components`` (26-connected).
        With ``per_cell`` a list, one dict per cell with ``cell`` (the label id of a
        label image; else the component number, 1 = largest, ties by centroid),
        ``cell_from`` (``"label"`` or ``"component"``), the four descriptors and ``centroid_z_um``, ``centroid_y_um``,
        ``centroid_x_um`` (voxel (0, 0, 0) at the origin). Component numbers are not
        tracks (component 1 of two frames need not be the same cell); label ids are.

    Raises
    ------
    InputError
        Empty foreground, wrong shape, non-finite values, bad spacing.

    Notes
    -----
    Volume and area come from one surface, so the sphericity of a sphere lies in
    [0.97, 1.005] on both paths (radii 4-16 voxels, ``tests/test_metrics.py``).
    Without ``per_cell`` the whole foreground is one object (``n_components`` counts its
    26-connected components; touching labels count as one).
    """
    arr = check_volume(volume)
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    sdf = detect_sdf(arr, is_sdf)
    fg = foreground(arr, sdf)
    if not fg.any():
        raise InputError("volume is empty (no foreground voxels)")
    if per_cell:
        return _cell_rows(arr, sp, sdf)
    return {**_descriptors(arr, sp, sdf), "n_components": components(fg)[1]}


def describe_sequence(volumes: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                      is_sdf: bool | None = None, per_cell: bool = False) -> pd.DataFrame:
    """Descriptors of every frame (or every cell of every frame) of a 3D+t sequence.

    Parameters
    ----------
    volumes : array_like, shape (T, Z, Y, X)
        Masks / labels or SDFs.
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.
    is_sdf : bool, optional
        None: the whole sequence is an SDF if it is float with any negative value.
    per_cell : bool
        One row per (frame, cell) instead of one per frame (:func:`describe_volume`).

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``frame``, ``volume_um3``, ``surface_um2``, ``sphericity``,
        ``sphericity_wadell``, ``n_components``. With ``per_cell``: ``frame``, ``cell``,
        ``cell_from``, the four descriptors and the centroid ``centroid_z_um``, ``centroid_y_um``,
        ``centroid_x_um``.

    Raises
    ------
    InputError
        A frame with no foreground (the message names it), wrong shape, non-finite values.
    """
    arr = check_volume(volumes, ndim=4, what="sequence")
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    sdf = detect_sdf(arr, is_sdf)
    rows: list[dict[str, Any]] = []
    for k in range(arr.shape[0]):
        if not foreground(arr[k], sdf).any():
            raise InputError(f"frame {k} is empty (no foreground voxels)")
        d = describe_volume(arr[k], sp, is_sdf=sdf, per_cell=per_cell)
        rows.extend({"frame": k, **r} for r in (d if per_cell else [d]))
    columns = ["frame", *(CELL_COLUMNS if per_cell else DESCRIPTOR_COLUMNS)]
    return pd.DataFrame(rows, columns=columns)


def summarise_per_time(df: pd.DataFrame, column: str, by: str = "frame") -> pd.DataFrame:
    """Per-time-point mean, median and IQR of one descriptor (the paper's curves).

    Parameters
    ----------
    df : pandas.DataFrame
        Long table, e.g. several :func:`describe_sequence` outputs concatenated.
    column : str
        Descriptor to summarise, e.g. ``"volume_um3"``.
    by : str
        Grouping column (default ``"frame"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``by``, ``mean``, ``median``, ``q25``, ``q75``, ``min``, ``max``, ``n``,
        one row per value of ``by`` in ascending order.
    """
    for c in (column, by):
        if c not in df.columns:
            raise InputError(f"column {c!r} not in table (columns: {list(df.columns)})")
    g = df.groupby(by, sort=True)[column]
    out = pd.DataFrame({
        "mean": g.mean(), "median": g.median(), "q25": g.quantile(0.25),
        "q75": g.quantile(0.75), "min": g.min(), "max": g.max(), "n": g.count(),
    })
    return out.reset_index()


# ------------------------------------------------------------------------------ files
def describe_path(path: str | os.PathLike, spacing: SpacingLike | None = None,
                  per_cell: bool = False, axes: str | None = None,
                  channel: int | None = None) -> pd.DataFrame:
    """Descriptors of every frame (or every cell of every frame) of every sequence in a file.

    Parameters
    ----------
    path : path-like
        Mask TIFF (3D or 3D+t), folder of per-frame TIFFs, ``.npy``, a prepared
        dataset ``.h5`` (all its sequences; SDFs contoured at 0) or a reference
        implementation ``sdf_vid`` ``.h5``.
    spacing : length-3 sequence of float, optional
        Voxel size (dz, dy, dx) in um; overrides the file's metadata. Default: from the
        file (``spacing_um`` of masks, ``voxel_um`` of a prepared dataset), else 1 1 1.
    per_cell : bool
        One row per cell of each frame (:func:`cells`: label ids of a label image,
        26-connected components of a binary mask or SDF).
    axes, channel : str, int, optional
        The masks' real axes and channel (``--axes``, ``--channel``), overriding the file's
        metadata (:func:`cellshapes.io.read_masks`).

    Returns
    -------
    pandas.DataFrame
        Columns ``sequence`` and those of :func:`describe_sequence`: ``frame``,
        ``volume_um3``, ``surface_um2``, ``sphericity``, ``sphericity_wadell``,
        ``n_components``; with ``per_cell``, ``frame``, ``cell``, ``cell_from``, the
        descriptors and the centroid in um.

    Raises
    ------
    InputFileNotFoundError, DatasetFormatError
        From :mod:`cellshapes.io`.
    InputError
        Empty frame (named in the message), non-finite SDF, bad spacing.
    """
    from cellshapes.io import load_volumes  # I/O lives at the edge

    tables = []
    for name, vols, sp, sdf in load_volumes(path, spacing, axes=axes, channel=channel):
        try:
            df = describe_sequence(vols, sp, is_sdf=sdf, per_cell=per_cell)
        except InputError as exc:
            raise InputError(f"{path} (sequence {name}): {exc}") from None
        df.insert(0, "sequence", name)
        tables.append(df)
    return pd.concat(tables, ignore_index=True)
