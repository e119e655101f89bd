"""Mesh files: a frame's isosurface (:mod:`cellshapes.measure.mesh`) written as PLY,
STL, VTK or OBJ in um with meshio (``cellshapes mesh``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from skimage import measure

from cellshapes.atomic import atomic_path, check_output
from cellshapes.errors import InputError
from cellshapes.measure.mesh import check_mesh, mesh_from_volume

__all__ = ["save_mesh", "mesh_path", "MESH_FORMATS"]

#: File suffix -> meshio format name.
MESH_FORMATS = {".ply": "ply", ".stl": "stl", ".vtk": "vtk", ".obj": "obj"}


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
    verts, faces = check_mesh(verts, faces)
    if len(verts) < 2**31:  # PLY has no 64-bit ints: meshio would print a warning and cast
        faces = faces.astype(np.int32)
    mesh = meshio.Mesh(verts, [("triangle", faces)])
    with atomic_path(path, overwrite=overwrite) as tmp:
        # binary STL: compact, and meshio's reader misparses the size check of ASCII STL
        meshio.write(tmp, mesh, file_format=fmt, **({"binary": True} if fmt == "stl" else {}))
    return path


def mesh_path(input: str | os.PathLike, out: str | os.PathLike, frame: int = 0,
              spacing: Sequence[float] | None = None,
              overwrite: bool = False, axes: str | None = None,
              channel: int | None = None) -> dict[str, Any]:
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
    axes, channel : str, int, optional
        The masks' real axes and channel (``--axes``, ``--channel``), overriding the file's
        metadata (:func:`cellshapes.io.read_masks`).

    Returns
    -------
    dict
        ``n_vertices``, ``n_faces``, ``area_um2`` (mesh area), ``out`` (str path).
    """
    from cellshapes.io import load_volumes

    out = Path(out)
    if out.suffix.lower() not in MESH_FORMATS:
        raise InputError(f"unknown mesh format {out.suffix!r} of {out}; use one of "
                         f"{', '.join(MESH_FORMATS)}")
    check_output(out, overwrite)  # fail before the (slow) meshing
    name, vols, sp, sdf = load_volumes(input, spacing, first_only=True, axes=axes,
                                       channel=channel)[0]
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
            "area_um2": float(measure.mesh_surface_area(verts, faces)), "out": str(out)}
