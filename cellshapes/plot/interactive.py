"""Interactive 3D views in a live JupyterLab kernel (pyvista's trame ``client`` backend).

:func:`cellshapes.plot.figures.show_volumes` calls this module. What it shows where:

* **Live JupyterLab / Notebook 7 kernel** (a person runs the cell): one output that holds
  an ipywidgets view of pyvista's trame ``client`` viewer -- vtk.js renders the meshes in
  the browser, so one can turn and zoom; nothing is fetched from the internet -- *and* the
  static PNG as a fallback in the same output (JupyterLab shows the widget; a saved
  notebook opened on GitHub or converted by nbconvert shows the PNG).
* **papermill, nbconvert, ``cellshapes notebooks``, plain IPython**: the static PNG only.

"Live" is decided from the request that runs the current cell: JupyterLab's notebook
sends ``deletedCells`` and ``recordTiming`` in the ``execute_request`` metadata;
papermill/nbclient (and nbconvert, which uses nbclient) never do. That holds also for a
papermill run started from inside a JupyterLab kernel, which an environment-variable test
(``JPY_SESSION_NAME``) would get wrong. The environment variable
``CELLSHAPES_INTERACTIVE`` overrides the guess: ``1`` forces the interactive view (e.g. for
VS Code or classic Notebook 6), ``0`` forces the PNG.

The trame server runs inside the kernel and the view's iframe loads
``http://localhost:<port>``, which works when the browser runs on the same machine as the
kernel. On a remote JupyterLab/JupyterHub set ``PYVISTA_TRAME_SERVER_PROXY_PREFIX=/proxy/``
before starting it: pyvista then routes the iframe through ``jupyter-server-proxy``
(installed with the ``notebooks`` extra). Importing this module imports neither pyvista nor
trame.
"""
from __future__ import annotations

import base64
import html
import os
from typing import Sequence

import numpy as np

__all__ = ["ENV_VAR", "wants_interactive", "trame_available", "show_interactive"]

ENV_VAR = "CELLSHAPES_INTERACTIVE"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _env_choice() -> bool | None:
    """The ``CELLSHAPES_INTERACTIVE`` override: True, False or None (not set)."""
    raw = os.environ.get(ENV_VAR)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    from cellshapes.errors import InputError

    raise InputError(f"{ENV_VAR}={raw!r}: use 1 (interactive 3D view) or 0 (static PNG)")


def _live_frontend() -> bool:
    """True when the cell being run was sent by JupyterLab's notebook (not papermill)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "get_parent"):
        return False  # terminal IPython, or no ipykernel
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # very old ipykernel: get_parent() without a channel
        parent = kernel.get_parent()
    metadata = (parent or {}).get("metadata") or {}
    return "recordTiming" in metadata or "deletedCells" in metadata


def trame_available() -> bool:
    """Whether trame, trame-pyvista, ipywidgets and nest_asyncio2 can be imported."""
    import importlib.util

    needed = ("trame", "trame_pyvista", "trame_vtk", "ipywidgets", "nest_asyncio2")
    return all(importlib.util.find_spec(name) is not None for name in needed)


def wants_interactive() -> bool:
    """Whether :func:`cellshapes.plot.figures.show_volumes` should show the interactive view.

    Returns
    -------
    bool
        ``CELLSHAPES_INTERACTIVE`` when set (``1``/``0``); otherwise True only inside a
        cell run from JupyterLab's (or Notebook 7's) notebook UI.

    Raises
    ------
    InputError
        ``CELLSHAPES_INTERACTIVE`` is set to something other than 1/0/true/false/yes/no.
    """
    forced = _env_choice()
    if forced is not None:
        return forced
    return _live_frontend()


def show_interactive(volumes: Sequence[np.ndarray], spacing: Sequence[float],
                     labels: Sequence[str] | None, window: tuple[int, int] | None,
                     png: bytes, view: str | Sequence[float] | None = None) -> bool:
    """Display a turnable vtk.js view of ``volumes`` with ``png`` as its static fallback.

    Parameters
    ----------
    volumes, spacing, labels, window, view
        As for :func:`cellshapes.plot.scene.volume_plotter`.
    png : bytes
        The static render (PNG file contents) stored in the same output.

    Returns
    -------
    bool
        True when the view was displayed; False (after printing why) when trame is not
        installed or the trame server could not start -- the caller then shows the PNG.
    """
    if not trame_available():
        print("interactive 3D view needs trame (pip install 'cellshapes[notebooks]'); "
              "showing the static render")
        return False
    from IPython.display import display

    from cellshapes.plot.scene import volume_plotter

    plotter = volume_plotter(volumes, spacing, labels=labels, window=window, view=view)
    try:
        from trame_pyvista.jupyter import show_trame

        widget = show_trame(plotter, mode="client", collapse_menu=True)
    except Exception as exc:  # noqa: BLE001 -- any trame/VTK failure: fall back, say why
        plotter.close()
        print(f"interactive 3D view unavailable ({type(exc).__name__}: {exc}); "
              "showing the static render")
        return False
    import ipywidgets

    # vtk.js does not draw VTK's 2D text actors: name the panels above the view instead
    names = " | ".join(str(lab) for lab in labels) if labels else ""
    caption = ipywidgets.HTML(
        f"<small>{'left to right: ' + html.escape(names) + ' &middot; ' if names else ''}"
        "drag to turn, scroll to zoom, shift-drag to pan (vtk.js)</small>")
    widget = ipywidgets.VBox([caption, widget])
    bundle = widget._repr_mimebundle_()
    if isinstance(bundle, tuple):  # (data, metadata) form
        bundle = bundle[0]
    data = dict(bundle)
    if WIDGET_MIME not in data:  # pragma: no cover -- ipywidgets without a view model
        plotter.close()
        return False
    data["image/png"] = base64.b64encode(png).decode("ascii")
    data["text/plain"] = "<interactive 3D view (pyvista/trame, vtk.js); static PNG fallback>"
    display(data, raw=True)
    return True
