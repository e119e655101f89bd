"""3D scenes of masks and SDFs: isosurfaces side by side, rendered off screen.

Two renderers draw the same marching-cubes mesh
(:func:`~cellshapes.measure.mesh.mesh_from_volume`): pyvista/VTK where it can be imported,
else matplotlib's ``mplot3d`` (flat-shaded triangles), so a GPU box without VTK still
writes every render. Each image names the
renderer that made it in its lower-right corner. ``CELLSHAPES_RENDERER`` (``auto``,
``pyvista``, ``matplotlib``) forces one.

pyvista/VTK is imported inside the functions only, so importing this module is cheap and
a GPU box without VTK can train. Off screen it renders through EGL
(``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` unless already set).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from cellshapes.errors import InputError

__all__ = ["volume_plotter", "render_volumes", "render_volumes_matplotlib", "matplotlib_scene",
           "choose_renderer", "RENDERERS"]

#: The renderers :func:`render_volumes` can use, in order of preference.
RENDERERS = ("pyvista", "matplotlib")
_TOLD: list[bool] = []  # the fallback was announced
_CAPTION = {"pyvista": "rendered with pyvista (VTK)",
            "matplotlib": "rendered with matplotlib (pyvista/VTK not used)"}


def _pyvista_importable() -> bool:
    """Whether ``import pyvista`` works here (VTK's shared libraries included)."""
    try:
        import pyvista  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def choose_renderer(renderer: str | None = None) -> str:
    """The renderer to use: ``pyvista`` when importable, else ``matplotlib``.

    Parameters
    ----------
    renderer : {"auto", "pyvista", "matplotlib"}, optional
        None reads ``CELLSHAPES_RENDERER`` (default ``auto``). ``pyvista`` is used as
        asked (an ImportError follows where it is missing).

    Returns
    -------
    str
        One of :data:`RENDERERS`.

    Raises
    ------
    InputError
        A name that is none of the three.
    """
    choice = (renderer or os.environ.get("CELLSHAPES_RENDERER") or "auto").strip().lower()
    if choice not in ("auto", *RENDERERS):
        raise InputError(f"renderer must be auto, pyvista or matplotlib, got {choice!r} "
                         "(CELLSHAPES_RENDERER)")
    if choice != "auto":
        return choice
    if _pyvista_importable():
        return "pyvista"
    if not _TOLD:  # once per process: a notebook says it in its first render's output
        print("3D renders: pyvista/VTK cannot be imported here; rendering with matplotlib")
        _TOLD.append(True)
    return "matplotlib"


def volume_plotter(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                   labels: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                   color: str = "#7fb3d5", caption: bool = False):
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
    caption : bool
        Name the renderer in the lower-right corner of the last subplot.

    Returns
    -------
    pyvista.Plotter
    """
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

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
        if caption and i == n - 1:
            plotter.add_text(_CAPTION["pyvista"], position="lower_right", font_size=7,
                             color="gray")
        plotter.view_isometric()
    plotter.set_background("white")
    return plotter


def _shaded_faces(verts: np.ndarray, faces: np.ndarray, color: str) -> np.ndarray:
    """(F, 4) RGBA per triangle: ``color`` lit by a headlight-like Lambert term."""
    from matplotlib.colors import to_rgba

    tri = verts[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    light = np.array([1.0, 1.0, 1.0]) / np.sqrt(3.0)  # from the isometric camera's side
    shade = 0.35 + 0.65 * np.clip(normal @ light, 0.0, 1.0)
    rgba = np.tile(np.array(to_rgba(color)), (len(faces), 1))
    rgba[:, :3] *= shade[:, None]
    return rgba


def _draw_mesh(ax, volume: np.ndarray, spacing: Sequence[float], label: str,
               color: str) -> None:
    """One volume's marching-cubes mesh on a 3D axis, isometric view, axes hidden."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    from cellshapes.measure.mesh import mesh_from_volume

    ax.set_axis_off()
    try:
        verts, faces = mesh_from_volume(volume, spacing)
    except InputError:  # empty or all-foreground, as in volume_plotter
        ax.set_title(f"{label}: no surface" if label else "no surface", fontsize=9)
        return
    ax.add_collection3d(Poly3DCollection(verts[faces], facecolors=_shaded_faces(
        verts, faces, color), edgecolors="none"))
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6)
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1), zoom=1.25)
    ax.view_init(elev=35.264, azim=45.0)  # pyvista's view_isometric
    if label:
        ax.set_title(label, fontsize=9)


def matplotlib_scene(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                     labels: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                     color: str = "#7fb3d5"):
    """A matplotlib figure (Agg, not registered with pyplot) of the volumes' meshes.

    Parameters
    ----------
    volumes, spacing, labels, window, color
        As for :func:`volume_plotter`.

    Returns
    -------
    matplotlib.figure.Figure
        One 3D axis per volume holding one ``Poly3DCollection`` (a triangle per face of
        :func:`~cellshapes.measure.mesh.mesh_from_volume`), captioned
        "rendered with matplotlib".
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(volumes)
    if n == 0:
        raise InputError("render_volumes: no volumes to render")
    width, height = window or (300 * n, 320)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    for i, vol in enumerate(volumes):
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        _draw_mesh(ax, vol, spacing, labels[i] if labels else "", color)
    fig.subplots_adjust(left=0, right=1, bottom=0.04, top=0.9, wspace=0)
    fig.text(0.995, 0.005, _CAPTION["matplotlib"], ha="right", va="bottom", fontsize=6,
             color="gray")
    return fig


def render_volumes_matplotlib(volumes: Sequence[np.ndarray],
                              spacing: Sequence[float] = (1.0, 1.0, 1.0),
                              labels: Sequence[str] | None = None,
                              window: tuple[int, int] | None = None,
                              color: str = "#7fb3d5") -> np.ndarray:
    """:func:`render_volumes` with matplotlib: the same meshes, flat-shaded, no VTK.

    Parameters
    ----------
    volumes, spacing, labels, window, color
        As for :func:`volume_plotter`.

    Returns
    -------
    (H, W, 3) uint8 array
        ``window`` pixels (default ``(300 * len(volumes), 320)``) of
        :func:`matplotlib_scene`.
    """
    fig = matplotlib_scene(volumes, spacing, labels, window, color)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def render_volumes(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                   labels: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                   color: str = "#7fb3d5", renderer: str | None = None) -> np.ndarray:
    """Render 3D masks/SDFs side by side off screen; returns an RGB image.

    pyvista/VTK where it can be imported, else matplotlib (:func:`choose_renderer`); the
    image names the renderer in its lower-right corner.

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) arrays
    spacing : (3,) floats
        Voxel size in um.
    labels, window, color
        As for :func:`volume_plotter`.
    renderer : {"auto", "pyvista", "matplotlib"}, optional
        None: ``CELLSHAPES_RENDERER``, default ``auto``.

    Returns
    -------
    (H, W, 3) uint8 array
    """
    if choose_renderer(renderer) == "matplotlib":
        return render_volumes_matplotlib(volumes, spacing, labels, window, color)
    plotter = volume_plotter(volumes, spacing, labels=labels, window=window, color=color,
                             caption=True)
    img = plotter.screenshot(return_img=True)
    plotter.close()
    return np.asarray(img)[..., :3]
