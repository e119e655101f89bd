"""Triangle meshes of cell masks and SDFs, in micrometres, and their export.

The surface is the one every area in :mod:`cellshapes.metrics` is measured on (masks:
Gaussian-smoothed and contoured at the volume-matched level; SDFs: level 0), so a mesh
exported here has the area that ``cellshapes describe`` reports. Vertices are returned in
(x, y, z) order, the convention of mesh viewers (ParaView, pyvista, Blender); volumes are
(z, y, x) arrays as everywhere else in cellshapes.

pyvista (and with it VTK) is imported only inside :func:`to_pyvista`, so training never
loads it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .atomic import atomic_path, check_output
from .errors import InputError
from .metrics import _isosurface, _load_sequences

__all__ = ["mesh_from_volume", "to_pyvista", "save_mesh", "mesh_path", "MESH_FORMATS"]

#: File suffix -> meshio format name.
MESH_FORMATS = {".ply": "ply", ".stl": "stl", ".vtk": "vtk", ".obj": "obj"}


def mesh_from_volume(volume: Any, spacing: Sequence[float] = (1.0, 1.0, 1.0),
                     level: float | None = None,
                     is_sdf: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Marching-cubes surface of a mask or SDF, in um.

    Parameters
    ----------
    volume : array_like, shape (Z, Y, X)
        Mask / labels (foreground > 0) or SDF (float with negatives, inside <= 0).
    spacing : length-3 sequence of float
        Voxel size (dz, dy, dx) in um.
    level : float, optional
        None: masks are smoothed and contoured at the level enclosing the voxel-count
        volume (see :mod:`cellshapes.metrics`), SDFs at 0. A number: plain marching cubes
        of the input at that level.
    is_sdf : bool, optional
        Force the SDF / mask reading; autodetected when None.

    Returns
    -------
    verts : ndarray, shape (V, 3), float32
        Vertex positions in um, (x, y, z) order; voxel (z, y, x) = (0, 0, 0) is at the
        origin. Objects touching the border are closed.
    faces : ndarray, shape (F, 3), int64
        Vertex indices of the triangles, counter-clockwise seen from outside.

    Raises
    ------
    InputError
        Empty foreground, wrong shape, non-finite values.
    """
    verts_zyx, faces = _isosurface(volume, spacing, level=level, is_sdf=is_sdf)
    verts = np.ascontiguousarray(verts_zyx[:, ::-1], dtype=np.float32)
    # skimage winds the triangles counter-clockwise (seen from outside) in the reversed,
    # (x, y, z) frame, so the winding is kept as it is (checked by the tests).
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    return verts, faces


def to_pyvista(verts: np.ndarray, faces: np.ndarray):
    """A :class:`pyvista.PolyData` of a triangle mesh (pyvista imported here, lazily).

    Parameters
    ----------
    verts : ndarray, shape (V, 3)
        Vertex positions (x, y, z) in um.
    faces : ndarray, shape (F, 3), int
        Triangles.

    Returns
    -------
    pyvista.PolyData
    """
    import pyvista as pv

    verts, faces = _check_mesh(verts, faces)
    cells = np.hstack([np.full((len(faces), 1), 3, dtype=np.int64), faces]).ravel()
    return pv.PolyData(verts, cells)


def _check_mesh(verts: Any, faces: Any) -> tuple[np.ndarray, np.ndarray]:
    verts = np.asarray(verts, dtype=np.float32)
    faces = np.asarray(faces)
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise InputError(f"verts must have shape (V, 3), got {verts.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
        raise InputError(f"faces must be integers of shape (F, 3), got {faces.dtype} "
                         f"{faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(verts)):
        raise InputError("faces refer to vertices that do not exist")
    return verts, faces.astype(np.int64, copy=False)


def save_mesh(path: str | os.PathLike, verts: Any, faces: Any,
              overwrite: bool = False) -> Path:
    """Write a triangle mesh as .ply, .stl, .vtk (legacy) or .obj, atomically.

    Parameters
    ----------
    path : path-like
        Output file; the suffix picks the format.
    verts : array_like, shape (V, 3)
        Vertex positions (x, y, z) in um.
    faces : array_like, shape (F, 3), int
        Triangles.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        Unknown suffix or malformed mesh.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.

    Notes
    -----
    The mesh is written to a temporary sibling and renamed onto ``path``
    (:func:`cellshapes.atomic.atomic_path`); the meshio format is passed explicitly, so
    the temporary name's suffix does not matter.
    """
    import meshio

    path = Path(path)
    fmt = MESH_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"unknown mesh format {path.suffix!r} of {path}; use one of "
                         f"{', '.join(MESH_FORMATS)}")
    verts, faces = _check_mesh(verts, faces)
    if len(verts) < 2**31:  # PLY has no 64-bit ints: meshio would print a warning and cast
        faces = faces.astype(np.int32)
    mesh = meshio.Mesh(verts, [("triangle", faces)])
    with atomic_path(path, overwrite=overwrite) as tmp:
        # binary STL: compact, and meshio's reader misparses the size check of ASCII STL
        meshio.write(tmp, mesh, file_format=fmt, **({"binary": True} if fmt == "stl" else {}))
    return path


def mesh_path(input: str | os.PathLike, out: str | os.PathLike, frame: int = 0,
              spacing: Sequence[float] | None = None,
              overwrite: bool = False) -> dict[str, Any]:
    """Mesh one frame of a mask file or prepared dataset and save it (``cellshapes mesh``).

    Parameters
    ----------
    input : path-like
        Mask TIFF / folder of TIFFs / ``.npy``, a prepared dataset ``.h5`` (only its
        first sequence in sorted group order is meshed) or a reference-implementation
        ``sdf_vid`` ``.h5``.
    out : path-like
        Output ``.ply``, ``.stl``, ``.vtk`` or ``.obj``.
    frame : int
        Time point, ``0 <= frame < T``.
    spacing : length-3 sequence of float, optional
        Voxel size (dz, dy, dx) in um; default from the file, else 1 1 1.
    overwrite : bool
        Replace an existing output.

    Returns
    -------
    dict
        ``n_vertices``, ``n_faces``, ``area_um2`` (mesh area), ``out`` (str path).
    """
    from skimage.measure import mesh_surface_area

    out = Path(out)
    if out.suffix.lower() not in MESH_FORMATS:
        raise InputError(f"unknown mesh format {out.suffix!r} of {out}; use one of "
                         f"{', '.join(MESH_FORMATS)}")
    check_output(out, overwrite)  # fail before the (slow) meshing
    name, vols, sp, sdf = _load_sequences(input, spacing, first_only=True)[0]
    n_frames = vols.shape[0]
    if not 0 <= int(frame) < n_frames:
        raise InputError(f"frame {frame} out of range: {input} has {n_frames} frame(s) "
                         f"(0..{n_frames - 1})")
    try:
        verts, faces = mesh_from_volume(vols[int(frame)], sp, is_sdf=sdf)
    except InputError as exc:
        raise InputError(f"{input} (sequence {name}) frame {frame}: {exc}") from None
    save_mesh(out, verts, faces, overwrite=overwrite)
    return {"n_vertices": int(len(verts)), "n_faces": int(len(faces)),
            "area_um2": float(mesh_surface_area(verts, faces)), "out": str(out)}
