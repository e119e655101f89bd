"""Interactive 3D in notebooks: static PNG unless a live JupyterLab frontend runs the cell.

The fast tests fake the IPython kernel; the slow test drives a real JupyterLab in headless
Chromium with Playwright and finds the vtk.js canvas of notebook 00's 3D render:

    CELLSHAPES_CHROMIUM=/usr/bin/chromium python -m pytest tests/test_interactive.py -m slow -s

(add CELLSHAPES_UPDATE_SCREENSHOT=1 to refresh docs/img/interactive_3d.png from the run).
"""
from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.plot import interactive

pytest.importorskip("pyvista")
REPO = Path(__file__).resolve().parents[1]


def _ball(n: int = 20, r: float = 0.6) -> np.ndarray:
    g = np.linspace(-1, 1, n)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    return (np.sqrt(x ** 2 + y ** 2 + z ** 2) - r).astype(np.float32)


class _Kernel:
    def __init__(self, metadata):
        self._parent = {"header": {}, "metadata": metadata, "content": {}}

    def get_parent(self, channel=None):
        return self._parent


class _Shell:
    def __init__(self, metadata):
        self.kernel = _Kernel(metadata)


# what JupyterLab 4's notebook sends with execute_request, and what nbclient (papermill,
# nbconvert) sends
JUPYTERLAB_METADATA = {"deletedCells": [], "recordTiming": False, "cellId": "abc"}
NBCLIENT_METADATA = {"cellId": "abc"}


@pytest.fixture
def fake_kernel(monkeypatch):
    """Pretend to run inside an ipykernel; returns a setter for the request metadata."""
    import IPython

    monkeypatch.delenv(interactive.ENV_VAR, raising=False)
    shell = {"obj": None}
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell["obj"])

    def set_metadata(metadata):
        shell["obj"] = _Shell(metadata) if metadata is not None else None

    return set_metadata


def test_wants_interactive_only_for_jupyterlab_requests(fake_kernel, monkeypatch):
    fake_kernel(None)  # plain Python / no IPython shell
    assert not interactive.wants_interactive()
    fake_kernel(NBCLIENT_METADATA)  # papermill / nbconvert
    assert not interactive.wants_interactive()
    fake_kernel(JUPYTERLAB_METADATA)
    assert interactive.wants_interactive()
    monkeypatch.setenv(interactive.ENV_VAR, "0")  # the override wins both ways
    assert not interactive.wants_interactive()
    monkeypatch.setenv(interactive.ENV_VAR, "1")
    fake_kernel(NBCLIENT_METADATA)
    assert interactive.wants_interactive()
    monkeypatch.setenv(interactive.ENV_VAR, "maybe")
    with pytest.raises(InputError, match="CELLSHAPES_INTERACTIVE"):
        interactive.wants_interactive()


def test_show_volumes_static_under_papermill(fake_kernel, monkeypatch, tmp_path):
    """Non-interactive context: PNG on disk, the same PNG displayed, no trame server."""
    import IPython.display

    from cellshapes import plot as plots

    fake_kernel(NBCLIENT_METADATA)
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))

    def no_trame(*a, **k):
        raise AssertionError("show_interactive must not run under papermill")

    monkeypatch.setattr(interactive, "show_interactive", no_trame)
    out = tmp_path / "render.png"
    img = plots.show_volumes([_ball(), _ball(r=0.4)], (0.5,) * 3, labels=["a", "b"],
                             path=out, window=(200, 120))
    assert img.shape == (120, 200, 3) and img.dtype == np.uint8
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 10  # shaded meshes, not blank
    import matplotlib.pyplot as plt

    on_disk = (plt.imread(out)[..., :3] * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(on_disk, img)
    assert len(shown) == 1
    (obj,), _ = shown[0]
    assert isinstance(obj, IPython.display.Image) and obj.data == out.read_bytes()
    assert "trame_pyvista.jupyter" not in sys.modules or not _trame_server_running()


def _trame_server_running() -> bool:
    import pyvista as pv
    from trame_pyvista.widgets import get_server

    return bool(get_server(pv.global_theme.trame.jupyter_server_name).running)


def test_show_volumes_interactive_bundle_keeps_png(fake_kernel, monkeypatch, tmp_path):
    """Live-kernel path: one output with the widget view *and* the PNG fallback."""
    pytest.importorskip("ipywidgets")
    import IPython.display

    from cellshapes import plot as plots

    if not interactive.trame_available():
        pytest.skip("trame / trame-pyvista not installed (pip install 'cellshapes[notebooks]')")
    import ipywidgets
    import trame_pyvista.jupyter as tj

    fake_kernel(JUPYTERLAB_METADATA)
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    calls = []

    def fake_show_trame(plotter, mode=None, **kw):  # no server in a unit test
        calls.append((mode, len(plotter.renderers)))
        return ipywidgets.HTML("<iframe class='pyvista'></iframe>")

    monkeypatch.setattr(tj, "show_trame", fake_show_trame)
    boxes = []

    class RecordingVBox(ipywidgets.VBox):
        def __init__(self, children, **kw):
            super().__init__(children, **kw)
            boxes.append(self)

    monkeypatch.setattr(ipywidgets, "VBox", RecordingVBox)
    img = plots.show_volumes([_ball(), _ball(r=0.4)], (0.5,) * 3, path=tmp_path / "r.png",
                             labels=["real", "<rec>"], window=(200, 120))
    assert calls == [("client", 2)]
    (box,) = boxes
    assert box.children[1].value.startswith("<iframe")
    assert "real | &lt;rec&gt;" in box.children[0].value  # panel names, escaped
    (data,), kw = shown[0]
    assert kw == {"raw": True}
    assert data[interactive.WIDGET_MIME]["model_id"] == box.model_id
    png = base64.b64decode(data["image/png"])
    assert png == (tmp_path / "r.png").read_bytes()
    import matplotlib.pyplot as plt

    np.testing.assert_array_equal(
        (plt.imread(io.BytesIO(png))[..., :3] * 255).round().astype(np.uint8), img)


# --------------------------------------------------------------------------- slow: browser

def _chromium() -> str | None:
    for cand in (os.environ.get("CELLSHAPES_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook_copy(dest: Path, out: Path, name: str = "00_quickstart") -> Path:
    """notebooks/``name`` with its parameters pointed at ``out`` (the browser saves the copy)."""
    import nbformat

    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source += "".join(f"\n{k} = {str(out / k)!r}" for k in
                                   ("data_dir", "runs_dir", "figures_dir", "results_dir"))
            break
    else:
        raise AssertionError(f"notebook {name} has no parameters cell")
    path = dest / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _needs_browser():
    """Playwright's sync API, or skip when the browser stack is not installed."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if _chromium() is None:
        pytest.skip("no Chromium (apt-get install chromium, or set CELLSHAPES_CHROMIUM)")
    if not interactive.trame_available():
        pytest.skip("trame not installed (pip install 'cellshapes[notebooks]')")
    if shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("jupyterlab not installed in this environment")
    return sync_api


@contextlib.contextmanager
def _lab_page(sync_api, work: Path, tmp_path: Path, notebook: str):
    """A JupyterLab server on ``work`` and a headless Chromium page with ``notebook`` open."""
    port, token = _free_port(), "cellshapes-test"
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"),
               VTK_DEFAULT_OPENGL_WINDOW="vtkEGLRenderWindow")
    env.pop(interactive.ENV_VAR, None)  # the automatic choice is what is tested
    log = open(tmp_path / "lab.log", "w")
    lab = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
         f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.token={token}",
         f"--ServerApp.root_dir={work}", "--allow-root", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if lab.poll() is not None:
                raise AssertionError("jupyter lab exited: "
                                     + (tmp_path / "lab.log").read_text()[-2000:])
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=_chromium(), headless=True,
                args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                      "--ignore-gpu-blocklist", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=120_000)
            yield page
            browser.close()
    finally:
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
        log.close()


def _run_all(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()


@pytest.mark.slow
def test_jupyterlab_shows_turnable_canvas_in_notebook_00(tmp_path):
    """JupyterLab + headless Chromium: notebook 00's render is a vtk.js canvas that turns."""
    sync_api = _needs_browser()
    work = tmp_path / "lab"
    work.mkdir()
    _notebook_copy(work, tmp_path / "out")
    # the screenshot goes to tmp_path; CELLSHAPES_UPDATE_SCREENSHOT=1 also refreshes the
    # committed docs/img/interactive_3d.png (so a plain run leaves git status clean)
    shot = tmp_path / "interactive_3d.png"
    with _lab_page(sync_api, work, tmp_path, "00_quickstart.ipynb") as page:
        _run_all(page)
        t0 = time.time()
        frame = page.frame_locator("iframe.pyvista")
        canvas = frame.locator("canvas").first
        canvas.wait_for(state="visible", timeout=600_000)
        print(f"\nvtk.js canvas in notebook 00 after {time.time() - t0:.0f} s of Run All")
        time.sleep(3)  # let vtk.js draw the scene
        box = canvas.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, box
        before = canvas.screenshot()
        cx, cy = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5
        page.mouse.move(cx, cy)
        page.mouse.down()
        for k in range(1, 11):
            page.mouse.move(cx + 8 * k, cy + 3 * k)
        page.mouse.up()
        time.sleep(1)
        after = canvas.screenshot()
        changed = _pixel_change(before, after)
        print(f"canvas {box['width']:.0f}x{box['height']:.0f} px; dragging it changed "
              f"{changed:.1%} of the pixels")
        assert changed > 0.005, "the view did not turn when dragged"
        cell = page.locator(".jp-CodeCell", has=page.locator("iframe.pyvista")).first
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=str(shot))
        print(f"screenshot {shot} ({shot.stat().st_size // 1024} KB)")
        if os.environ.get("CELLSHAPES_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, REPO / "docs" / "img" / "interactive_3d.png")
            print("copied to docs/img/interactive_3d.png")


@pytest.mark.slow
def test_jupyterlab_explorer_slider_changes_the_cell(tmp_path):
    """Notebook 12 in JupyterLab: moving the PC 1 slider re-evaluates the model, changes
    the vtk.js view's pixels and the displayed volume."""
    sync_api = _needs_browser()
    work = tmp_path / "lab"
    work.mkdir()
    _notebook_copy(work, tmp_path / "out", "12_explorer")
    with _lab_page(sync_api, work, tmp_path, "12_explorer.ipynb") as page:
        _run_all(page)
        slider = page.locator(".widget-slider", has_text="PC 1").first
        slider.wait_for(timeout=300_000)
        slider.scroll_into_view_if_needed()  # an iframe out of view may never load
        canvas = page.frame_locator("iframe.pyvista").locator("canvas").first
        canvas.wait_for(state="visible", timeout=120_000)
        readout = page.locator(".widget-html-content", has_text="volume").first
        readout.wait_for(timeout=60_000)
        time.sleep(3)
        before, text_before = canvas.screenshot(), readout.inner_text()
        value = slider.locator(".widget-readout").first
        value.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("2.5")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "([el, old]) => el.innerText !== old",
            arg=[readout.element_handle(), text_before], timeout=60_000)
        time.sleep(3)  # the trame view pushes the new mesh to vtk.js
        after, text_after = canvas.screenshot(), readout.inner_text()
        changed = _pixel_change(before, after)
        print(f"\nreadout before: {text_before}\nreadout after:  {text_after}\n"
              f"pixels changed: {changed:.1%}")
        assert "PC1 +2.5" in text_after
        assert changed > 0.005, "the 3D view did not change with the slider"


def _pixel_change(png_a: bytes, png_b: bytes) -> float:
    """Fraction of pixels whose RGB differs by more than 10 (of 255)."""
    import matplotlib.pyplot as plt

    a = plt.imread(io.BytesIO(png_a))[..., :3]
    b = plt.imread(io.BytesIO(png_b))[..., :3]
    if a.shape != b.shape:
        return 1.0
    return float((np.abs(a - b).max(axis=-1) > 10 / 255).mean())
