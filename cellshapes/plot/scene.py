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
           "choose_renderer", "division_view", "resolve_view", "RENDERERS", "VIEWS"]

#: The renderers :func:`render_volumes` can use, in order of preference.
RENDERERS = ("pyvista", "matplotlib")
_TOLD: list[bool] = []  # the fallback was announced
#: Named cameras besides an explicit direction: ``isometric`` (from (1, 1, 1), the default)
#: and ``division`` (:func:`division_view`: perpendicular to the daughters' axis).
VIEWS = ("isometric", "division")
_ISOMETRIC = np.ones(3) / np.sqrt(3.0)
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


def division_view(volume: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0)
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A camera that shows a division from the side: both daughters next to each other.

    The axis joins the centroids of the two largest 26-connected cells; the camera looks
    along the direction perpendicular to it that is closest to the isometric one (any
    perpendicular if the axis is the isometric direction itself).

    Parameters
    ----------
    volume : (Z, Y, X) array
        Mask or SDF (:func:`cellshapes.measure.mesh.detect_sdf`) holding two cells.
    spacing : (3,) floats
        Voxel size in um, (z, y, x).

    Returns
    -------
    direction : (3,) float array
        Unit vector from the scene's centre towards the camera, (x, y, z) as the meshes'
        vertices (:func:`~cellshapes.measure.mesh.mesh_from_volume`).
    axis : (3,) float array
        Unit vector from the larger daughter's centroid to the other's, (x, y, z).

    Raises
    ------
    InputError
        Fewer than two cells in ``volume``.
    """
    from scipy import ndimage

    from cellshapes.measure.mesh import detect_sdf, foreground

    arr = np.asarray(volume)
    inside = foreground(arr, detect_sdf(arr))
    labels, n = ndimage.label(inside, structure=np.ones((3, 3, 3)))
    if n < 2:
        raise InputError(f"a division view needs two cells in the volume, found {n}")
    sizes = np.bincount(labels.ravel())[1:]
    big = np.argsort(sizes)[::-1][:2] + 1
    centres = np.array(ndimage.center_of_mass(inside, labels, big)) * np.asarray(spacing)
    axis = (centres[1] - centres[0])[::-1]  # (z, y, x) -> (x, y, z)
    axis = axis / np.linalg.norm(axis)
    direction = _ISOMETRIC - (_ISOMETRIC @ axis) * axis
    if np.linalg.norm(direction) < 1e-6:  # the axis is the isometric direction
        direction = np.cross(axis, np.eye(3)[int(np.argmin(np.abs(axis)))])
    return direction / np.linalg.norm(direction), axis


def resolve_view(volumes: Sequence[np.ndarray], spacing: Sequence[float],
                 view: str | Sequence[float] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """One camera for a row of volumes: its direction and (optionally) its up vector.

    Parameters
    ----------
    volumes, spacing
        As for :func:`volume_plotter`.
    view : {"isometric", "division"} or (3,) floats, optional
        None or ``isometric``: from (1, 1, 1). ``division``: :func:`division_view` of the
        last volume that holds two cells, shared by every panel (a time course keeps its
        camera), with the daughters' axis horizontal on screen; where no volume holds
        two cells the isometric camera is kept, with a warning. A direction (x, y, z)
        towards the camera.

    Returns
    -------
    direction : (3,) float array
        Unit vector towards the camera, (x, y, z).
    up : (3,) float array or None
        The screen's up vector (None: the renderer's default).
    """
    import warnings

    if view is None or (isinstance(view, str) and view == "isometric"):
        return _ISOMETRIC.copy(), None
    if isinstance(view, str):
        if view != "division":
            raise InputError(f"view must be one of {VIEWS} or a direction, got {view!r}")
        for vol in reversed(volumes):
            try:
                direction, axis = division_view(vol, spacing)
            except InputError:
                continue
            up = np.cross(direction, axis)
            return direction, up / np.linalg.norm(up)
        warnings.warn("view='division': no volume holds two cells; isometric view kept",
                      stacklevel=2)
        return _ISOMETRIC.copy(), None
    d = np.asarray(view, dtype=float)
    if d.shape != (3,) or not np.all(np.isfinite(d)) or np.linalg.norm(d) == 0:
        raise InputError(f"a view direction must be 3 finite numbers, not all 0, got {view!r}")
    return d / np.linalg.norm(d), None


def volume_plotter(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                   labels: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                   color: str = "#7fb3d5", caption: bool = False,
                   view: str | Sequence[float] | None = None):
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
    view : {"isometric", "division"} or (3,) floats, optional
        The camera of every subplot (:func:`resolve_view`); default isometric.

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
    direction, up = resolve_view(volumes, spacing, view)
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
        if view is None or (isinstance(view, str) and view == "isometric"):
            plotter.view_isometric()
        else:
            plotter.view_vector(direction, viewup=up)
    plotter.set_background("white")
    return plotter


def _shaded_faces(verts: np.ndarray, faces: np.ndarray, color: str,
                  light: np.ndarray = _ISOMETRIC) -> np.ndarray:
    """(F, 4) RGBA per triangle: ``color`` lit by a headlight-like Lambert term from the
    camera's side ``light`` (unit (x, y, z))."""
    from matplotlib.colors import to_rgba

    tri = verts[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    shade = 0.35 + 0.65 * np.clip(normal @ light, 0.0, 1.0)
    rgba = np.tile(np.array(to_rgba(color)), (len(faces), 1))
    rgba[:, :3] *= shade[:, None]
    return rgba


def _roll(direction: np.ndarray, up: np.ndarray | None) -> float:
    """matplotlib's ``roll`` (degrees) that puts ``up`` up on screen for a camera at
    ``direction``; 0 (z up) without one or when looking along z."""
    z = np.array([0.0, 0.0, 1.0])
    u0 = z - (z @ direction) * direction
    if up is None or np.linalg.norm(u0) < 1e-6:
        return 0.0
    u0 /= np.linalg.norm(u0)
    right = np.cross(u0, direction)
    return float(np.degrees(np.arctan2(up @ right, up @ u0)))


def _draw_mesh(ax, volume: np.ndarray, spacing: Sequence[float], label: str,
               color: str, direction: np.ndarray = _ISOMETRIC,
               up: np.ndarray | None = None) -> None:
    """One volume's marching-cubes mesh on a 3D axis, seen from ``direction`` (x, y, z;
    isometric by default) with ``up`` (None: z) up on screen, axes hidden."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    from cellshapes.measure.mesh import mesh_from_volume

    ax.set_axis_off()
    try:
        verts, faces = mesh_from_volume(volume, spacing)
    except InputError:  # empty or all-foreground, as in volume_plotter
        ax.set_title(f"{label}: no surface" if label else "no surface", fontsize=9)
        return
    ax.add_collection3d(Poly3DCollection(verts[faces], facecolors=_shaded_faces(
        verts, faces, color, direction), edgecolors="none"))
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6)
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1), zoom=1.25 if up is None else 1.0)  # side on: wider
    # elevation and azimuth of the direction; (1, 1, 1) is pyvista's view_isometric
    ax.view_init(elev=float(np.degrees(np.arcsin(np.clip(direction[2], -1, 1)))),
                 azim=float(np.degrees(np.arctan2(direction[1], direction[0]))),
                 roll=_roll(direction, up))
    if label:
        ax.set_title(label, fontsize=9)


def matplotlib_scene(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                     labels: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                     color: str = "#7fb3d5", view: str | Sequence[float] | None = None):
    """A matplotlib figure (Agg, not registered with pyplot) of the volumes' meshes.

    Parameters
    ----------
    volumes, spacing, labels, window, color, view
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
    direction, up = resolve_view(volumes, spacing, view)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    for i, vol in enumerate(volumes):
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        _draw_mesh(ax, vol, spacing, labels[i] if labels else "", color, direction, up)
    fig.subplots_adjust(left=0, right=1, bottom=0.04, top=0.9, wspace=0)
    fig.text(0.995, 0.005, _CAPTION["matplotlib"], ha="right", va="bottom", fontsize=6,
             color="gray")
    return fig


def render_volumes_matplotlib(volumes: Sequence[np.ndarray],
                              spacing: Sequence[float] = (1.0, 1.0, 1.0),
                              labels: Sequence[str] | None = None,
                              window: tuple[int, int] | None = None,
                              color: str = "#7fb3d5",
                              view: str | Sequence[float] | None = None) -> np.ndarray:
    """:func:`render_volumes` with matplotlib: the same meshes, flat-shaded, no VTK.

    Parameters
    ----------
    volumes, spacing, labels, window, color, view
        As for :func:`volume_plotter`.

    Returns
    -------
    (H, W, 3) uint8 array
        ``window`` pixels (default ``(300 * len(volumes), 320)``) of
        :func:`matplotlib_scene`.
    """
    fig = matplotlib_scene(volumes, spacing, labels, window, color, view)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def render_volumes(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                   labels: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                   color: str = "#7fb3d5", renderer: str | None = None,
                   view: str | Sequence[float] | None = None) -> np.ndarray:
    """Render 3D masks/SDFs side by side off screen; returns an RGB image.

    pyvista/VTK where it can be imported, else matplotlib (:func:`choose_renderer`); the
    image names the renderer in its lower-right corner.

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) arrays
    spacing : (3,) floats
        Voxel size in um.
    labels, window, color, view
        As for :func:`volume_plotter`.
    renderer : {"auto", "pyvista", "matplotlib"}, optional
        None: ``CELLSHAPES_RENDERER``, default ``auto``.

    Returns
    -------
    (H, W, 3) uint8 array
    """
    if choose_renderer(renderer) == "matplotlib":
        return render_volumes_matplotlib(volumes, spacing, labels, window, color, view)
    plotter = volume_plotter(volumes, spacing, labels=labels, window=window, color=color,
                             caption=True, view=view)
    img = plotter.screenshot(return_img=True)
    plotter.close()
    return np.asarray(img)[..., :3]
