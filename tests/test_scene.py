"""3D renders: pyvista where it imports, else matplotlib of the same mesh, named in the image.

The fast tests hide pyvista in this process (``sys.modules['pyvista'] = None``); the slow
test hides pyvista and VTK from a whole ``cellshapes notebooks`` run, its papermill kernel
included, through a ``sitecustomize`` on PYTHONPATH.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.measure.mesh import mesh_from_volume
from cellshapes.plot import scene

REPO = Path(__file__).resolve().parents[1]

#: Put first on PYTHONPATH, this makes ``import pyvista`` and ``import vtk*`` fail in every
#: Python process that starts with it (the notebook kernel inherits the environment).
HIDE_VTK = '''import sys


class _HideVTK:
    """A meta-path finder refusing pyvista and VTK, as on a GPU box without them."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pyvista", "vtk", "vtkmodules"):
            raise ImportError(f"{name} hidden by the test's sitecustomize")
        return None


sys.meta_path.insert(0, _HideVTK())
'''


def _ellipsoid(n: int = 24, axes=(0.7, 0.4, 0.5)) -> np.ndarray:
    g = np.linspace(-1, 1, n)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    return (np.sqrt((x / axes[0]) ** 2 + (y / axes[1]) ** 2 + (z / axes[2]) ** 2) - 1
            ).astype(np.float32)


@pytest.fixture
def no_pyvista(monkeypatch):
    """pyvista cannot be imported in this process (``import pyvista`` raises ImportError)."""
    monkeypatch.setitem(sys.modules, "pyvista", None)
    monkeypatch.delenv("CELLSHAPES_RENDERER", raising=False)
    monkeypatch.setattr(scene, "_TOLD", [])


def test_choose_renderer_falls_back_once_and_obeys_the_variable(no_pyvista, monkeypatch,
                                                                capsys):
    assert scene.choose_renderer() == "matplotlib"
    assert scene.choose_renderer("auto") == "matplotlib"
    assert "rendering with matplotlib" in capsys.readouterr().out
    scene.choose_renderer()
    assert capsys.readouterr().out == ""  # said once per process
    monkeypatch.setenv("CELLSHAPES_RENDERER", "pyvista")
    assert scene.choose_renderer() == "pyvista"  # forced: the caller gets the ImportError
    with pytest.raises(ImportError):
        scene.render_volumes([_ellipsoid()])
    monkeypatch.setenv("CELLSHAPES_RENDERER", "blender")
    with pytest.raises(InputError, match="CELLSHAPES_RENDERER"):
        scene.choose_renderer()


def test_matplotlib_scene_draws_the_same_mesh_and_names_its_renderer():
    vol = _ellipsoid()
    fig = scene.matplotlib_scene([vol, np.ones_like(vol)], (0.5,) * 3,
                                 labels=["cell", "full"], window=(400, 200))
    verts, faces = mesh_from_volume(vol, (0.5,) * 3)
    first, second = fig.axes
    (coll,) = first.collections
    fig.canvas.draw()  # projects the 3D triangles to the paths drawn
    assert len(coll.get_paths()) == len(faces)  # one triangle per face of the mesh
    assert first.get_title() == "cell" and second.get_title() == "full: no surface"
    assert not second.collections
    assert [t.get_text() for t in fig.texts] == [
        "rendered with matplotlib (pyvista/VTK not used)"]
    lo, hi = first.get_xlim3d()
    assert lo <= verts[:, 0].min() + 1e-4 and hi >= verts[:, 0].max() - 1e-4


def test_render_without_pyvista_is_a_shaded_image_of_the_window(no_pyvista):
    img = scene.render_volumes([_ellipsoid(), _ellipsoid(axes=(0.3, 0.3, 0.8))], (0.5,) * 3,
                               labels=["a", "b"], window=(300, 160))
    assert img.shape == (160, 300, 3) and img.dtype == np.uint8
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 20  # shaded meshes, not blank
    blank = scene.render_volumes([np.ones((8, 8, 8), np.float32)], window=(300, 160))
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > len(
        np.unique(blank.reshape(-1, 3), axis=0))


def test_show_volumes_without_pyvista_writes_the_png(no_pyvista, tmp_path):
    from cellshapes import plot

    out = tmp_path / "render.png"
    img = plot.show_volumes([_ellipsoid()], (0.5,) * 3, labels=["a"], path=out,
                            window=(200, 150), interactive=True)
    import matplotlib.pyplot as plt

    on_disk = (plt.imread(out)[..., :3] * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(on_disk, img)


def test_pyvista_render_names_its_renderer():
    pytest.importorskip("pyvista")
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    plotter = scene.volume_plotter([_ellipsoid()], (0.5,) * 3, caption=True)
    try:
        texts = [a.get_text(i) for a in plotter.renderer.actors.values()
                 if hasattr(a, "get_text") for i in range(4)]
    finally:
        plotter.close()
    assert "rendered with pyvista (VTK)" in texts


@pytest.mark.slow
def test_notebook_02_at_smoke_without_pyvista(tmp_path):
    """``cellshapes notebooks --profile smoke --only 02`` with pyvista and VTK unimportable."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_VTK)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(hide), str(REPO),
                                          os.environ.get("PYTHONPATH", "")])}
    env.pop("CELLSHAPES_RENDERER", None)
    check = subprocess.run([sys.executable, "-c", "import pyvista"], env=env,
                           capture_output=True, text=True)
    assert check.returncode != 0 and "hidden by the test" in check.stderr
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "cellshapes.cli", "notebooks", "--profile",
                           "smoke", "--only", "02", "--device", "cpu", "--out", str(out)],
                          env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    renders = sorted(p.name for p in (out / "figures").glob("02_*_render.png"))
    assert renders == [f"02_reconstruction_{k}_render.png"
                       for k in ("dividing", "filopodial", "growing")]
    executed = nbformat.read(out / "notebooks" / "02_reconstruction.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "rendering with matplotlib" in text  # the kernel could not import pyvista
