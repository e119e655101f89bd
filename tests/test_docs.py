"""The documentation site: built offline by the README's one command, a page per notebook
made from its committed files, and the rendered pages as a browser shows them (headless
Chromium: the front page and a notebook page's DOM, and a screenshot)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def _need(found: bool, what: str) -> None:
    """CI installs the docs extra and Chromium (.ci/run): there a missing one fails."""
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing on CI")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    try:
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
        found = True
    except ImportError:
        found = False
    _need(found, "the docs extra (sphinx, myst-parser)")
    out = tmp_path_factory.mktemp("docs") / "html"
    # the README's command, with the output folder of this test; no network needed
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "docs", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _title(script: Path) -> str:
    first = next(ln for ln in script.read_text(encoding="utf-8").splitlines()
                 if ln.startswith("# # "))
    return first[4:].strip()


@pytest.mark.slow
def test_build_writes_a_page_per_notebook_from_its_files(html):
    for script in NOTEBOOKS:
        page = html / "_generated" / "notebooks" / f"{script.stem}.html"
        assert page.is_file(), page
        text = page.read_text(encoding="utf-8")
        results = ROOT / "results" / f"{script.stem}.json"
        if results.exists():  # every claim's verdict is on the page, once per claim
            claims = json.loads(results.read_text())["claims"]
            for verdict in ("reproduced", "contradicted", "not settled"):
                assert text.count(f"<strong>{verdict}</strong>") == sum(
                    c["verdict"] == verdict for c in claims), (script.stem, verdict)
        number = script.stem[:2]
        for png in sorted((ROOT / "figures").glob(f"{number}_*.png")):
            assert f'src="../../_images/{png.name}"' in text, png.name
            assert (html / "_images" / png.name).is_file()
    assert (html / "_generated" / "cli.html").is_file()
    api = (html / "_generated" / "api.html").read_text(encoding="utf-8")
    import cellshapes

    for name in cellshapes.__all__:
        assert (html / "_generated" / "api" / f"cellshapes.{name}.html").is_file(), name
        assert f"cellshapes.{name}.html" in api, name
    # offline: nothing on any page is loaded from the network
    remote = [f"{p.name}: {m}" for p in html.rglob("*.html") for m in re.findall(
        r'<(?:link|script|img)[^>]+(?:src|href)="(https?://[^"]+)"', p.read_text("utf-8"))]
    assert remote == []
    assert not [p.name for p in (html / "_static").rglob("*.css")
                if re.search(r"@import\s+url\(['\"]?https?:", p.read_text("utf-8"))]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    _need(exe is not None, "chromium (apt-get install chromium)")
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--window-size=1280,1600", *args], capture_output=True, text=True,
                          timeout=180)


@pytest.mark.slow
def test_front_page_and_a_notebook_page_render_in_chromium(html, tmp_path):
    front = _chromium("--dump-dom", (html / "index.html").as_uri()).stdout
    assert "<h1>cellshapes" in front
    assert 'href="_generated/notebooks/index.html"' in front
    assert re.search(r'<img[^>]+src="_images/02_reconstruction_filopodial_render\.png"', front)
    script = ROOT / "notebooks" / "08_omega_sweep.py"
    page = (html / "_generated" / "notebooks" / "08_omega_sweep.html").as_uri()
    dom = _chromium("--dump-dom", page).stdout
    assert _title(script) in dom.replace("&amp;", "&")
    assert re.search(r'<img[^>]+src="\.\./\.\./_images/08_omega_sweep_[a-z0-9_]+\.png"', dom)
    assert "<strong>reproduced</strong>" in dom
    shot = tmp_path / "08.png"
    _chromium(f"--screenshot={shot}", page)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    keep = os.environ.get("CELLSHAPES_DOCS_SCREENSHOT")  # to look at it
    if keep:
        shutil.copy(shot, keep)
