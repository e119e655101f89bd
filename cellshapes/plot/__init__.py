"""Plots and 3D views: matplotlib figures (:mod:`~cellshapes.plot.figures`), 3D scenes
(:mod:`~cellshapes.plot.scene`: pyvista, or matplotlib where VTK is missing) and the
turnable notebook view (:mod:`~cellshapes.plot.interactive`).

``from cellshapes import plot`` gives every public function of the three; none of them
imports matplotlib, pyvista or VTK before it is called.
"""
from cellshapes.plot.figures import (DESCRIPTOR_LABELS, descriptor_curves, save_figure,
                                     show_volumes, slice_grid)
from cellshapes.plot.interactive import show_interactive, trame_available, wants_interactive
from cellshapes.plot.scene import (RENDERERS, choose_renderer, render_volumes,
                                   render_volumes_matplotlib, volume_plotter)

__all__ = ["DESCRIPTOR_LABELS", "descriptor_curves", "save_figure", "show_volumes",
           "slice_grid", "show_interactive", "trame_available", "wants_interactive",
           "render_volumes", "volume_plotter", "render_volumes_matplotlib", "choose_renderer",
           "RENDERERS"]
