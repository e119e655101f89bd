"""Figures: matplotlib slices and descriptor curves, and 3D renders shown in a notebook.

Nothing here is on the training or inference path. The 3D scenes are built in
:mod:`cellshapes.plot.scene` (VTK imported only there, inside the functions, with a
matplotlib renderer where VTK is missing, so a GPU box without VTK can train and run the
notebooks); the turnable notebook view is :mod:`cellshapes.plot.interactive`.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["slice_grid", "descriptor_curves", "show_volumes", "save_figure"]

DESCRIPTOR_LABELS = {"volume_um3": "volume [um$^3$]", "surface_um2": "surface [um$^2$]",
                     "sphericity": "sphericity (36$\\pi$V$^2$/A$^3$)",
                     "sphericity_wadell": "Wadell sphericity"}


def slice_grid(volumes: Mapping[str, np.ndarray], frames: Sequence[int] | None = None,
               axis: int = 0, title: str | None = None):
    """Central slices of several (T, Z, Y, X) masks or SDFs, one row per entry.

    Parameters
    ----------
    volumes : mapping name -> (T, Z, Y, X) array
        Masks (shown in grey) or SDFs (float with negatives: shown with the zero contour).
    frames : sequence of int, optional
        Frames to show (default: up to 5 spread over the first entry's frames).
    axis : int
        Spatial axis normal to the slice (0 = z).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    first = next(iter(volumes.values()))
    if frames is None:
        frames = np.unique(np.linspace(0, first.shape[0] - 1, min(5, first.shape[0])).astype(int))
    rows, cols = len(volumes), len(frames)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.2 * rows), squeeze=False)
    for r, (name, vol) in enumerate(volumes.items()):
        for c, f in enumerate(frames):
            ax = axes[r, c]
            f_ = min(int(round(f * (vol.shape[0] - 1) / max(first.shape[0] - 1, 1))),
                     vol.shape[0] - 1)
            img = np.take(vol[f_], vol.shape[axis + 1] // 2, axis=axis)
            if np.issubdtype(img.dtype, np.floating) and (img < 0).any():
                ax.imshow(img, cmap="RdBu_r", vmin=-np.abs(img).max(), vmax=np.abs(img).max())
                ax.contour(img, levels=[0.0], colors="k", linewidths=0.8)
            else:
                ax.imshow(img > 0, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {f}", fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def descriptor_curves(tables: Mapping[str, Any],
                      columns: Sequence[str] = ("surface_um2", "volume_um3", "sphericity"),
                      by: str = "frame", title: str | None = None):
    """Mean and interquartile range of descriptors per time point (the paper's Fig 4-5).

    Parameters
    ----------
    tables : mapping label -> pandas.DataFrame
        Output of :func:`cellshapes.measure.metrics.describe_sequence` for one population each
        (e.g. "real", "reconstructed", "synthesized"), with a ``frame`` column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from cellshapes.measure.metrics import summarise_per_time

    fig, axes = plt.subplots(1, len(columns), figsize=(4.0 * len(columns), 3.2), squeeze=False)
    for ax, col in zip(axes[0], columns):
        for label, df in tables.items():
            s = summarise_per_time(df, col, by=by)
            line, = ax.plot(s[by], s["mean"], label=label)
            ax.fill_between(s[by], s["q25"], s["q75"], color=line.get_color(), alpha=0.25)
        ax.set_xlabel("time point")
        ax.set_ylabel(DESCRIPTOR_LABELS.get(col, col))
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_volumes(volumes: Sequence[np.ndarray], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                 labels: Sequence[str] | None = None, path: str | os.PathLike | None = None,
                 window: tuple[int, int] | None = None,
                 interactive: bool | None = None,
                 view: str | Sequence[float] | None = None) -> np.ndarray:
    """Render 3D masks/SDFs and show them in a notebook: turnable when live.

    The static PNG (pyvista, or matplotlib where pyvista/VTK cannot be imported:
    :func:`cellshapes.plot.scene.render_volumes`; the image names its renderer) is always
    rendered, written to ``path`` (if given) and put in the notebook output, so papermill,
    nbconvert and GitHub show the picture. In a live JupyterLab (or Notebook 7) kernel the
    same output also carries an interactive view
    (pyvista's trame ``client`` backend: vtk.js renders in the browser, no internet
    needed) that one can turn and zoom; JupyterLab shows that view, other readers of the
    notebook fall back to the PNG. See :func:`cellshapes.plot.interactive.wants_interactive`
    for how "live" is decided and how ``CELLSHAPES_INTERACTIVE`` overrides it.

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) arrays
    spacing : (3,) floats
        Voxel size in um.
    labels : sequence of str, optional
    path : path, optional
        Where to write the PNG.
    window : (width, height) ints, optional
        Pixels.
    interactive : bool, optional
        None (default): decide automatically; True/False force it. True still shows the
        PNG (with a printed reason) when trame or pyvista is missing; outside IPython
        nothing is displayed either way.
    view : {"isometric", "division"} or (3,) floats, optional
        The camera (:func:`cellshapes.plot.scene.resolve_view`): isometric by default;
        ``division`` looks perpendicular to the axis joining two daughters, so both show.

    Returns
    -------
    (H, W, 3) uint8 array
        The static render.
    """
    import io as _io

    import matplotlib.pyplot as plt

    from cellshapes.plot.scene import choose_renderer, render_volumes

    renderer = choose_renderer()
    img = render_volumes(volumes, spacing, labels=labels, window=window, renderer=renderer,
                         view=view)
    buf = _io.BytesIO()
    plt.imsave(buf, img, format="png")
    png = buf.getvalue()
    if path is not None:
        from cellshapes.atomic import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(png)
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:  # no IPython: plain scripts just get the array
        return img
    if get_ipython() is None:
        return img
    from cellshapes.plot import interactive as _interactive

    if interactive is None:
        interactive = _interactive.wants_interactive()
    if interactive and renderer != "pyvista":
        print("interactive 3D view needs pyvista/VTK; showing the matplotlib render")
        interactive = False
    if interactive and _interactive.show_interactive(volumes, spacing, labels, window, png,
                                                        view):
        return img
    display(Image(data=png, format="png"))
    return img


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 120, close: bool = False) -> None:
    """Save a matplotlib figure atomically (format by suffix).

    The figure stays open by default so that a notebook still shows it inline; scripts
    that make many figures pass ``close=True``.
    """
    import matplotlib.pyplot as plt

    from cellshapes.atomic import atomic_path

    path = os.fspath(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=os.path.splitext(path)[1][1:] or "png",
                    bbox_inches="tight")
    if close:
        plt.close(fig)
