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



def _two_balls(n: int, a, b, r: float) -> np.ndarray:
    """A mask of two balls of radius ``r`` voxels centred at (z, y, x) voxels ``a``, ``b``."""
    z, y, x = np.indices((n, n, n))
    return np.logical_or(*[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r
                           for c in (a, b)]).astype(np.uint8)


def _blobs(img: np.ndarray) -> list[tuple[float, float]]:
    """(row, column) centroids of the non-white regions of a render (caption left out)."""
    from scipy import ndimage

    ink = img.min(axis=2) < 200
    ink[int(img.shape[0] * 0.9):] = False  # the renderer's caption
    labels, n = ndimage.label(ink)
    return ndimage.center_of_mass(ink, labels, range(1, n + 1))


def test_division_view_is_perpendicular_to_the_daughters_axis():
    # balls apart along x: the camera is the isometric direction without its x part
    d, axis = scene.division_view(_two_balls(32, (16, 16, 8), (16, 16, 24), 5))
    np.testing.assert_allclose(np.abs(axis), [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(d, [0, 1 / np.sqrt(2), 1 / np.sqrt(2)], atol=1e-6)
    # apart along a tilted axis in anisotropic voxels (z 2 um, y and x 1 um)
    spacing = (2.0, 1.0, 1.0)
    d, axis = scene.division_view(_two_balls(40, (10, 8, 30), (20, 30, 12), 4), spacing)
    true = np.array([12 - 30, 30 - 8, (20 - 10) * 2.0])  # (x, y, z) in um
    np.testing.assert_allclose(np.abs(axis @ true), np.linalg.norm(true), rtol=1e-6)
    assert abs(d @ true) < 1e-6 and np.linalg.norm(d) == pytest.approx(1.0)
    # along the isometric direction itself: still a unit vector perpendicular to it
    d, axis = scene.division_view(_two_balls(40, (10, 10, 10), (30, 30, 30), 5))
    assert abs(d @ axis) < 1e-6 and np.linalg.norm(d) == pytest.approx(1.0)
    with pytest.raises(InputError, match="two cells"):
        scene.division_view(_two_balls(32, (16, 16, 16), (16, 16, 16), 5))


def test_resolve_view_shares_the_last_division_and_checks_input():
    one, two = (_two_balls(32, (16, 16, 16), (16, 16, 16), 6),
                _two_balls(32, (16, 8, 16), (16, 24, 16), 5))  # apart along y
    d, up = scene.resolve_view([one, two], (1.0,) * 3, "division")
    assert abs(d[1]) < 1e-6 and abs(up[1]) < 1e-6  # the axis lies across the screen
    assert abs(d @ up) < 1e-6
    np.testing.assert_allclose(scene.resolve_view([one], (1.0,) * 3, None)[0],
                               np.ones(3) / np.sqrt(3))
    with pytest.warns(UserWarning, match="no volume holds two cells"):
        d, up = scene.resolve_view([one], (1.0,) * 3, "division")
    assert up is None
    np.testing.assert_allclose(scene.resolve_view([one], (1.0,) * 3, (0, 0, 2))[0], [0, 0, 1])
    for bad in ("side", (0, 0, 0), (1, 2)):
        with pytest.raises(InputError):
            scene.resolve_view([one], (1.0,) * 3, bad)


def test_division_view_shows_both_daughters_where_isometric_hides_one(no_pyvista):
    # daughters apart along (1, 1, 1): the isometric camera looks down their axis
    vol = _two_balls(40, (10, 10, 10), (30, 30, 30), 6)
    iso = scene.render_volumes([vol], window=(240, 240))
    assert len(_blobs(iso)) == 1
    for a, b in [((10, 10, 10), (30, 30, 30)), ((8, 20, 20), (32, 20, 20)),
                 ((10, 30, 12), (30, 10, 28))]:
        side = _blobs(scene.render_volumes([_two_balls(40, a, b, 6)], window=(240, 240),
                                           view="division"))
        assert len(side) == 2 and abs(side[0][0] - side[1][0]) < 3  # side by side, level


def test_pyvista_division_view_points_the_camera_across_the_axis():
    pytest.importorskip("pyvista")
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    vol = _two_balls(40, (10, 10, 10), (30, 30, 30), 6)
    plotter = scene.volume_plotter([vol], view="division")
    try:
        cam = plotter.renderer.camera
        look = np.subtract(cam.position, cam.focal_point)
        img = plotter.screenshot(return_img=True)
    finally:
        plotter.close()
    look /= np.linalg.norm(look)
    assert abs(look @ (np.ones(3) / np.sqrt(3))) < 1e-6
    side = _blobs(np.asarray(img)[..., :3])
    assert len(side) == 2 and abs(side[0][0] - side[1][0]) < 3

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
