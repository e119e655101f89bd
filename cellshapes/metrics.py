"""Shape descriptors of 3D cell masks and SDFs: volume, surface area, sphericity, DSC.

Everything here is a pure function on arrays, except :func:`describe_path`, which reads
masks or a prepared dataset and calls the pure functions. Volumes are (Z, Y, X) arrays,
sequences (T, Z, Y, X); spacing is ``(dz, dy, dx)`` in um (see ``docs/contracts.md``).

A volume is either a *mask* (bool or integer labels, foreground = value > 0) or an *SDF*
(float with negative values, inside = value <= 0), chosen automatically unless ``is_sdf``
is given (:func:`cellshapes.mesh.detect_sdf`). Surface areas are measured on
:func:`cellshapes.mesh.isosurface`: SDFs contoured at 0, binary masks smoothed by one
voxel per axis and contoured at the level that encloses their voxel-count volume, which
removes the 9-12 % staircase excess of raw marching cubes and keeps the sphericity of a
mask <= 1 (measurements in the notes of :mod:`cellshapes.mesh`).
"""
from __future__ import annotations

import math
import os
from typing import Any, Iterable

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from scipy import stats
from skimage import measure

from .errors import InputError
from .mesh import check_volume, detect_sdf, foreground, isosurface
from .units import SpacingLike, check_spacing

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


# ----------------------------------------------------------------------- overlap (DSC)
def dice(a: Any, b: Any) -> float:
    """Dice similarity coefficient 2 |A & B| / (|A| + |B|) of two masks.

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
    """Volume of the foreground: voxel count times voxel volume.

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
        Volume in um^3.
    """
    arr = check_volume(mask, what="mask")
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    fg = foreground(arr, detect_sdf(arr, is_sdf))
    return float(np.count_nonzero(fg) * np.prod(sp))


def surface_area(volume: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                 level: float | None = None, is_sdf: bool | None = None) -> float:
    """Surface area of the object: the area of its :func:`cellshapes.mesh.isosurface`.

    Parameters
    ----------
    volume, spacing, level, is_sdf
        As for :func:`cellshapes.mesh.isosurface`: a (Z, Y, X) mask / labels or SDF,
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
def _n_components(fg: np.ndarray) -> int:
    """Connected components of a foreground, 26-connectivity (as skimage.measure.label)."""
    return int(ndi.label(fg, structure=np.ones((3, 3, 3), dtype=bool))[1])


def describe_volume(volume: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                    is_sdf: bool | None = None) -> dict[str, float | int]:
    """Descriptors of one 3D object.

    Parameters
    ----------
    volume, spacing, is_sdf
        As for :func:`volume`: a (Z, Y, X) mask / labels (foreground > 0) or SDF (inside
        <= 0), its voxel size (dz, dy, dx) in um and the optional forced reading.

    Returns
    -------
    dict
        ``volume_um3`` (voxel count x voxel volume), ``surface_um2`` (see
        :func:`surface_area`), ``sphericity`` (paper's, 36 pi V^2 / A^3),
        ``sphericity_wadell`` and ``n_components`` (26-connected).
    """
    arr = check_volume(volume)
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    sdf = detect_sdf(arr, is_sdf)
    fg = foreground(arr, sdf)
    if not fg.any():
        raise InputError("volume is empty (no foreground voxels)")
    vol = float(np.count_nonzero(fg) * np.prod(sp))
    area = surface_area(arr, sp, is_sdf=sdf)
    return {
        "volume_um3": vol,
        "surface_um2": area,
        "sphericity": sphericity(vol, area, "paper"),
        "sphericity_wadell": sphericity(vol, area, "wadell"),
        "n_components": _n_components(fg),
    }


def describe_sequence(volumes: Any, spacing: SpacingLike | None = _UNIT_SPACING,
                      is_sdf: bool | None = None) -> pd.DataFrame:
    """Descriptors of every frame of a 3D+t sequence.

    Parameters
    ----------
    volumes : array_like, shape (T, Z, Y, X)
        Masks / labels or SDFs.
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.
    is_sdf : bool, optional
        None: the whole sequence is an SDF if it is float with any negative value.

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``frame``, ``volume_um3``, ``surface_um2``, ``sphericity``,
        ``sphericity_wadell``, ``n_components``.

    Raises
    ------
    InputError
        A frame with no foreground (the message names it), wrong shape, non-finite values.
    """
    arr = check_volume(volumes, ndim=4, what="sequence")
    sp = check_spacing(spacing, default=_UNIT_SPACING)
    sdf = detect_sdf(arr, is_sdf)
    rows = []
    for k in range(arr.shape[0]):
        if not foreground(arr[k], sdf).any():
            raise InputError(f"frame {k} is empty (no foreground voxels)")
        rows.append({"frame": k, **describe_volume(arr[k], sp, is_sdf=sdf)})
    return pd.DataFrame(rows, columns=["frame", *DESCRIPTOR_COLUMNS])


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


def ks_tests(df_a: pd.DataFrame, df_b: pd.DataFrame,
             columns: Iterable[str] = ("surface_um2", "volume_um3", "sphericity"),
             ) -> pd.DataFrame:
    """Two-sample Kolmogorov-Smirnov test per descriptor (the paper's Table 1).

    Parameters
    ----------
    df_a, df_b : pandas.DataFrame
        Two populations (e.g. real and reconstructed), one row per object.
    columns : iterable of str
        Descriptors to compare.

    Returns
    -------
    pandas.DataFrame
        Columns ``descriptor``, ``statistic``, ``pvalue``, ``n_a``, ``n_b``
        (:func:`scipy.stats.ks_2samp`, two-sided; NaNs dropped).
    """
    rows = []
    for c in columns:
        for name, df in (("first", df_a), ("second", df_b)):
            if c not in df.columns:
                raise InputError(f"column {c!r} not in the {name} table")
        a = df_a[c].dropna().to_numpy(dtype=float)
        b = df_b[c].dropna().to_numpy(dtype=float)
        if a.size == 0 or b.size == 0:
            raise InputError(f"KS test of {c!r} needs values in both tables")
        res = stats.ks_2samp(a, b)
        rows.append({"descriptor": c, "statistic": float(res.statistic),
                     "pvalue": float(res.pvalue), "n_a": int(a.size), "n_b": int(b.size)})
    return pd.DataFrame(rows, columns=["descriptor", "statistic", "pvalue", "n_a", "n_b"])


# ------------------------------------------------------------------------------ files
def describe_path(path: str | os.PathLike,
                  spacing: SpacingLike | None = None) -> pd.DataFrame:
    """Descriptors of every frame of every sequence in a file.

    Parameters
    ----------
    path : path-like
        Mask TIFF (3D or 3D+t), folder of per-frame TIFFs, ``.npy``, a prepared
        dataset ``.h5`` (all its sequences; SDFs contoured at 0) or a reference
        implementation ``sdf_vid`` ``.h5``.
    spacing : length-3 sequence of float, optional
        Voxel size (dz, dy, dx) in um; overrides the file's metadata. Default: from the
        file (``spacing_um`` of masks, ``voxel_um`` of a prepared dataset), else 1 1 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``sequence``, ``frame``, ``volume_um3``, ``surface_um2``, ``sphericity``,
        ``sphericity_wadell``, ``n_components``.

    Raises
    ------
    InputFileNotFoundError, DatasetFormatError
        From :mod:`cellshapes.io`.
    InputError
        Empty frame (named in the message), non-finite SDF, bad spacing.
    """
    from .io import load_volumes  # I/O lives at the edge

    tables = []
    for name, vols, sp, sdf in load_volumes(path, spacing):
        try:
            df = describe_sequence(vols, sp, is_sdf=sdf)
        except InputError as exc:
            raise InputError(f"{path} (sequence {name}): {exc}") from None
        df.insert(0, "sequence", name)
        tables.append(df)
    return pd.concat(tables, ignore_index=True)
