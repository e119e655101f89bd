"""pyvista scenes of 3D masks and SDFs: isosurfaces side by side, rendered off screen.

pyvista/VTK is imported inside the functions only, so importing this module is cheap and
a GPU box without VTK can train. Off screen it renders through EGL
(``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` unless already set).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

__all__ = ["volume_plotter", "render_volumes"]


def volume_plotter(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                   labels: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                   color: str = "#7fb3d5"):
    """An off-screen pyvista plotter with one subplot per volume (isosurface at level 0.5/0).

    Uses EGL when no display is present (``VTK_DEFAULT_OPENGL_WINDOW`` is set to
    ``vtkEGLRenderWindow`` unless already set). The caller closes the plotter.

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) arrays
        Masks or SDFs (see :func:`cellshapes.measure.mesh.mesh_from_volume`).
    spacing : (3,) floats
        Voxel size in um.
    labels : sequence of str, optional
        One title per volume; a volume without a surface is labelled "no surface".
    window : (width, height) ints, optional
        Pixels; default ``(300 * len(volumes), 320)``.
    color : str
        Mesh colour.

    Returns
    -------
    pyvista.Plotter
    """
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    from cellshapes.errors import InputError
    from cellshapes.measure.mesh import mesh_from_volume, to_pyvista

    n = len(volumes)
    if n == 0:
        raise InputError("volume_plotter: no volumes to render")
    window = window or (300 * n, 320)
    plotter = pv.Plotter(shape=(1, n), off_screen=True, window_size=list(window), border=False)
    for i, vol in enumerate(volumes):
        plotter.subplot(0, i)
        label = labels[i] if labels else ""
        try:
            verts, faces = mesh_from_volume(vol, spacing)
        except InputError:  # empty or all-foreground (e.g. an untrained model): say so
            label = f"{label}: no surface" if label else "no surface"
        else:
            plotter.add_mesh(to_pyvista(verts, faces), color=color, smooth_shading=True,
                             specular=0.3)
        if label:
            plotter.add_text(label, font_size=10, color="black")
        plotter.view_isometric()
    plotter.set_background("white")
    return plotter


def render_volumes(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                   labels: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                   color: str = "#7fb3d5") -> np.ndarray:
    """Render 3D masks/SDFs side by side with pyvista offscreen; returns an RGB image.

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) arrays
    spacing : (3,) floats
        Voxel size in um.

    Returns
    -------
    (H, W, 3) uint8 array
    """
    plotter = volume_plotter(volumes, spacing, labels=labels, window=window, color=color)
    img = plotter.screenshot(return_img=True)
    plotter.close()
    return np.asarray(img)[..., :3]
