"""Placing a cell in the normalised [-1, 1]^3 cube of a prepared dataset.

Pipeline of one frame (paper Sec 4.4: centred at each time point by the centroid,
optionally aligned to the principal axes), on top of :mod:`cellshapes.sdf`:

1. keep the cell's connected component(s) (:func:`cellshapes.sdf.select_components`);
2. centroid in um (:func:`cellshapes.sdf.centroid_um`), optional principal axes
   (:func:`cellshapes.sdf.principal_axes`);
3. signed Euclidean distance in um at the native (possibly anisotropic) spacing, on a
   crop around the cell (:func:`cellshapes.sdf.mask_to_sdf`);
4. trilinear resampling onto an isotropic S^3 cube of half-side ``scale_um`` centred on
   the centroid (:func:`frame_to_cube`), clamping outside distances at ``clamp_um``;
5. normalisation: stored value = distance_um / clamp_um, so ``sdf_unit_um = clamp_um``
   (:func:`prepare_sequence` runs 1-5 over a sequence).

Prepared cubes are changed with :func:`resample_cube` (another S) and
:func:`rotate_sdf_sequence` (a rotated copy of a shape).

Conventions (``docs/contracts.md``): arrays are (z, y, x), spacing is (dz, dy, dx) in um,
cube voxel i sits at normalised coordinate -1 + 2 i / (S - 1), negative inside.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import ndimage as ndi

from cellshapes.errors import InputError
from cellshapes.sdf import (Keep, centroid_um, check_mask, mask_to_sdf, principal_axes,
                            select_components)
from cellshapes.units import check_spacing

__all__ = [
    "default_clamp_um",
    "frame_to_cube",
    "prepare_sequence",
    "resample_cube",
    "rotate_sdf_sequence",
    "CLAMP_FRACTION",
]

#: Outside clamp as a fraction of the cube edge: the paper's 32 voxels of a 256^3 crop.
CLAMP_FRACTION = 32 / 256
_CHUNK_POINTS = 1 << 21  # points per map_coordinates call (bounds memory at 256^3)


def default_clamp_um(scale_um: float) -> float:
    """Outside clamp in um: 32/256 of the cube edge 2 * scale_um (the paper's 32 voxels)."""
    return float(CLAMP_FRACTION * 2.0 * scale_um)


# --------------------------------------------------------------------- resampling
def _cube_axis(size: int) -> np.ndarray:
    return -1.0 + 2.0 * np.arange(size) / (size - 1)


def frame_to_cube(mask: np.ndarray, spacing: Sequence[float], size: int, scale_um: float,
                  clamp_um: float, centre_um: np.ndarray | None = None,
                  rotation: np.ndarray | None = None,
                  preserve_volume: bool = True, smooth_voxels: float = 1.0) -> np.ndarray:
    """SDF (um) of one frame sampled on an isotropic S^3 cube centred on the cell.

    Parameters
    ----------
    mask : (Z, Y, X) array_like of bool
        The cell (components already chosen).
    spacing : length-3 tuple of floats
        Voxel size (dz, dy, dx) of ``mask`` in um.
    size : int
        Cube edge S in voxels.
    scale_um : float
        Half-side of the cube in um: cube voxel i along an axis sits at
        ``(-1 + 2 i / (S - 1)) * scale_um`` from the centre.
    clamp_um : float
        Outside distances are clamped to at most this value (um).
    centre_um : (3,) array, optional
        Cube centre in um (default: the mask's centroid).
    rotation : (3, 3) array, optional
        Cube axis k is sampled along column k (e.g. :func:`principal_axes`).
    smooth_voxels : float
        Gaussian smoothing of the native-spacing SDF, sigma in input voxels along each
        axis, to remove the voxel staircase (0 disables; see Notes).
    preserve_volume : bool
        Shift the SDF by a constant (less than a cube voxel) so that the cube's
        ``sdf <= 0`` voxels hold the input mask's volume (see Notes).

    Returns
    -------
    (S, S, S) ndarray of float32
        Signed distance in um, clamped at ``clamp_um`` outside.

    Notes
    -----
    The SDF is computed at the native spacing on a crop around the cell padded by
    ``clamp_um`` (plus two voxels) of background, then interpolated trilinearly
    (``map_coordinates``, order 1). Points outside that crop are at least ``clamp_um``
    from the cell, so the clamped result is exact there; the input volume's border does
    not truncate distances.

    The half-voxel boundary of :func:`mask_to_sdf` is exact only next to the boundary and
    along the grid axes; resampled onto a cube of another voxel size, its zero level set
    encloses a volume biased by up to ~3% (measured: +2.8% for a 2x finer cube, -1.5%
    from (2, .5, .5) um spacing). ``preserve_volume`` removes that bias with one constant
    shift, so the prepared shape keeps the mask's volume to within one cube voxel.

    The SDF of a voxel mask carries the voxel staircase; a cube finer than the input
    resolves it and surface areas come out several percent too large (+5% measured for a
    2x finer cube). A Gaussian of one input voxel per axis (``smooth_voxels``) removes the
    staircase while leaving a planar distance field unchanged; the volume shift above
    absorbs the small shrinkage it causes on curved surfaces. Where smoothing would cut
    off or erase thin protrusions it is halved or skipped (``_destaircase``).
    """
    m = check_mask(mask)
    sp = check_spacing(spacing)
    if size < 2:
        raise InputError(f"cube size must be >= 2, got {size}")
    if not m.any():
        raise InputError("mask is empty (no foreground voxels)")
    c = centroid_um(m, sp) if centre_um is None else np.asarray(centre_um, dtype=np.float64)
    pad = np.ceil(clamp_um / sp).astype(int) + 2
    lo, hi = [], []
    for ax in range(3):
        nz = np.flatnonzero(m.any(axis=tuple(a for a in range(3) if a != ax)))
        lo.append(int(nz[0]) - int(pad[ax]))
        hi.append(int(nz[-1]) + 1 + int(pad[ax]))
    src = tuple(slice(max(l, 0), min(h, n)) for l, h, n in zip(lo, hi, m.shape))
    widths = [(max(0, -l), max(0, h - n)) for l, h, n in zip(lo, hi, m.shape)]
    crop = np.pad(m[src], widths)
    raw = mask_to_sdf(crop, sp)
    lo_arr = np.asarray(lo, dtype=np.float64)

    def to_cube(native: np.ndarray) -> np.ndarray:
        return _sample_cube(native, size, scale_um, c, sp, lo_arr, rotation)

    voxel = 2.0 * scale_um / (size - 1)
    n_in = int(round(m.sum() * float(np.prod(sp)) / voxel ** 3))

    def finish(cube: np.ndarray) -> np.ndarray:
        return _match_volume(cube, n_in, voxel) if preserve_volume else cube

    out = finish(to_cube(raw))
    if smooth_voxels > 0:
        out = _destaircase(raw, out, lambda v: finish(to_cube(v)), smooth_voxels,
                           max(voxel, float(sp.max())))
    np.minimum(out, clamp_um, out=out)
    return out


def _match_volume(cube: np.ndarray, n_inside: int, voxel: float) -> np.ndarray:
    """Shift ``cube`` by a constant (< one voxel) so that ``n_inside`` voxels are <= 0."""
    flat = np.sort(cube, axis=None)
    if 0 < n_inside < flat.size:
        shift = 0.5 * (float(flat[n_inside - 1]) + float(flat[n_inside]))
        if abs(shift) < voxel:  # only a sub-voxel bias is corrected, never a shape
            return cube - np.float32(shift)
    return cube


def _sample_cube(native: np.ndarray, size: int, scale_um: float, centre: np.ndarray,
                 spacing: np.ndarray, lo: np.ndarray, rotation: np.ndarray | None
                 ) -> np.ndarray:
    """Trilinear samples of a native-spacing volume on the S^3 cube around ``centre``."""
    u = _cube_axis(size) * scale_um
    out = np.empty((size, size, size), dtype=np.float32)
    sp4, c4, lo4 = (v[:, None, None, None] for v in (spacing, centre, lo))
    step = max(1, _CHUNK_POINTS // (size * size))
    for z0 in range(0, size, step):
        grid = np.stack(np.meshgrid(u[z0:z0 + step], u, u, indexing="ij"))  # um offsets
        if rotation is not None:
            grid = np.einsum("ij,j...->i...", np.asarray(rotation, float), grid)
        out[z0:z0 + step] = ndi.map_coordinates(native, (grid + c4) / sp4 - lo4, order=1,
                                                mode="nearest")
    return out


def _destaircase(raw: np.ndarray, cube: np.ndarray, to_cube: Callable[[np.ndarray], np.ndarray],
                 sigma: float, depth: float) -> np.ndarray:
    """The cube of the Gaussian-smoothed SDF (sigma in input voxels), unless smoothing
    removes thin parts; then sigma / 2, else the unsmoothed ``cube``.

    Smoothing by about one voxel removes the voxel staircase (areas several percent too
    large otherwise) but would also cut off protrusions one or two voxels thick. A
    smoothed cube is accepted only if it has as many connected parts as the unsmoothed
    one and keeps every voxel that lies ``depth`` (um, at least one input voxel) inside it.
    """
    full = np.ones((3, 3, 3))
    n_parts = ndi.label(cube <= 0, structure=full)[1]
    deep = cube <= -depth
    for s in (sigma, sigma / 2):
        cand = to_cube(ndi.gaussian_filter(raw, sigma=float(s), mode="nearest"))
        keep = cand <= 0
        if keep[deep].all() and ndi.label(keep, structure=full)[1] == n_parts:
            return cand
    return cube


def prepare_sequence(masks: np.ndarray, spacing: Sequence[float], size: int, scale_um: float,
                     align: bool = False, clamp_um: float | None = None, keep: Keep = "auto",
                     min_fraction: float = 0.25) -> tuple[np.ndarray, dict]:
    """Turn a (T, Z, Y, X) binary mask sequence into the normalised SDF cube sequence.

    Parameters
    ----------
    masks : (T, Z, Y, X) array_like of bool
        One cell (or a dividing cell) over time.
    spacing : length-3 tuple of floats
        Voxel size (dz, dy, dx) in um.
    size : int
        Cube edge S.
    scale_um : float
        Half-side of the cube in um (shared by a whole dataset to keep relative sizes).
    align : bool
        Rotate each frame into its principal axes (kept continuous between frames).
    clamp_um : float, optional
        Outside clamp in um; default :func:`default_clamp_um` (32/256 of the cube edge).
    keep, min_fraction
        Component selection per frame, see :func:`select_components`.

    Returns
    -------
    sdf : (T, S, S, S) ndarray of float32
        ``distance_um / clamp_um``: <= 1 outside (1 = clamped), negative inside.
    attrs : dict
        ``spacing_um``, ``scale_um``, ``voxel_um`` (= 2 scale / (S - 1)), ``sdf_unit_um``
        (= clamp_um), ``clamp_um``, ``centroid_um`` (T, 3) in input coordinates,
        ``components`` (kept per frame) and ``rotation`` (T, 3, 3) if ``align``.

    Notes
    -----
    The paper divides each frame by its max |sdf|; with outside distances clamped at 32
    voxels that equals the clamp whenever the clamp is reached in the crop, so dividing by
    the clamp gives the same numbers while keeping one fixed unit for every frame.
    """
    seq = np.asarray(masks)
    if seq.ndim != 4:
        raise InputError(f"masks must be (T, Z, Y, X), got shape {seq.shape}")
    sp = check_spacing(spacing)
    if not (np.isfinite(scale_um) and scale_um > 0):
        raise InputError(f"scale_um must be positive, got {scale_um}")
    clamp = default_clamp_um(scale_um) if clamp_um is None else float(clamp_um)
    T = seq.shape[0]
    out = np.empty((T, size, size, size), dtype=np.float32)
    centroids = np.zeros((T, 3))
    rotations = np.zeros((T, 3, 3))
    kept = []
    prev = None
    for t in range(T):
        frame = seq[t].astype(bool, copy=False)
        if not frame.any():
            raise InputError(f"frame {t} is empty (no foreground voxels)")
        frame, info = select_components(frame, keep=keep, min_fraction=min_fraction)
        kept.append(info["kept"])
        c = centroid_um(frame, sp)
        rot = None
        if align:
            rot = principal_axes(frame, sp, reference=prev)
            prev = rotations[t] = rot
        centroids[t] = c
        out[t] = frame_to_cube(frame, sp, size, scale_um, clamp, c, rot) / clamp
    attrs = {
        "spacing_um": tuple(float(s) for s in sp),
        "scale_um": float(scale_um),
        "voxel_um": float(2.0 * scale_um / (size - 1)),
        "sdf_unit_um": float(clamp),
        "clamp_um": float(clamp),
        "centroid_um": centroids,
        "components": np.asarray(kept, dtype=np.int64),
    }
    if align:
        attrs["rotation"] = rotations
    return out, attrs


def resample_cube(sdf: np.ndarray, size: int) -> np.ndarray:
    """Resample (T, S, S, S) cubes to (T, size, size, size), corner-aligned, trilinear.

    Voxel i of the output sits at the same normalised coordinate -1 + 2 i / (size - 1) as
    input position i (S - 1) / (size - 1), so the cube's physical extent is unchanged.
    """
    a = np.asarray(sdf, dtype=np.float32)
    if a.ndim != 4:
        raise InputError(f"sdf must be (T, S, S, S), got shape {a.shape}")
    if a.shape[1:] == (size,) * 3:
        return a
    coords = np.meshgrid(*[np.arange(size) * (n - 1) / (size - 1) for n in a.shape[1:]],
                         indexing="ij")
    return np.stack([ndi.map_coordinates(frame, coords, order=1, mode="nearest")
                     for frame in a]).astype(np.float32)


def rotate_sdf_sequence(sdf: np.ndarray, rotation: np.ndarray, clamp: float,
                        order: int = 1) -> np.ndarray:
    """Rotate every frame of a (T, S, S, S) SDF cube about the cube centre.

    The same rotation is applied to all frames (paper Sec 5.2: one rotation per
    time-evolving shape). Voxel p (index coordinates, (z, y, x)) of the output takes the
    value of the input at ``R^T (p - c) + c`` with c = (S - 1) / 2, i.e. the shape is
    turned by ``R``. Points that fall outside the input cube get ``clamp``.

    Parameters
    ----------
    sdf : (T, S, S, S) array_like
        SDF cubes, axes (t, z, y, x).
    rotation : (3, 3) array_like
        Rotation matrix acting on (z, y, x) vectors.
    clamp : float
        Value of the outside clamp in the units of ``sdf`` (1.0 for prepared datasets,
        whose values are distance / clamp).
    order : int
        Spline order of ``scipy.ndimage.map_coordinates`` (1: trilinear).

    Returns
    -------
    (T, S, S, S) ndarray of float32
        Rotated cubes, never above ``clamp``.

    Raises
    ------
    InputError
        Wrong shapes or a matrix that is not a rotation.
    """
    a = np.asarray(sdf, dtype=np.float32)
    if a.ndim != 4 or len(set(a.shape[1:])) != 1:
        raise InputError(f"sdf must be (T, S, S, S), got shape {a.shape}")
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape != (3, 3) or not np.allclose(r @ r.T, np.eye(3), atol=1e-5) \
            or np.linalg.det(r) < 0:
        raise InputError("rotation must be a proper 3x3 rotation matrix")
    size = a.shape[1]
    c = (size - 1) / 2.0
    idx = np.stack(np.meshgrid(*[np.arange(size, dtype=np.float64)] * 3, indexing="ij"))
    src = np.tensordot(r.T, idx.reshape(3, -1) - c, axes=1) + c
    out = np.empty_like(a)
    for k, frame in enumerate(a):
        out[k] = ndi.map_coordinates(frame, src, order=order, mode="constant",
                                     cval=clamp).reshape(frame.shape)
    np.minimum(out, clamp, out=out)
    return out
