"""The package's public face: the re-exported API and the layout rules of issue 15.

``cellshapes.__all__`` is importable name by name, ``import cellshapes`` stays light,
no module reaches into another module's private names, every module stays short, and
progress bars go through :func:`cellshapes.progress.track` only.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cellshapes

PACKAGE = Path(cellshapes.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 500


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_all_lists_at_least_12_public_names():
    names = cellshapes.__all__
    assert len(names) >= 12
    assert len(set(names)) == len(names), "duplicate names in __all__"
    assert not [n for n in names if n.startswith("_")]


@pytest.mark.parametrize("name", cellshapes.__all__)
def test_every_public_name_is_importable(name):
    assert getattr(cellshapes, name) is not None
    assert name in dir(cellshapes)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        cellshapes.no_such_name  # noqa: B018


def test_import_cellshapes_does_not_import_torch():
    code = ("import sys, cellshapes; heavy = [m for m in ('torch', 'pyvista', 'vtk') "
            "if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(PACKAGE.parent))
    assert proc.returncode == 0, f"import cellshapes imported {proc.stdout.strip()}"


def test_no_private_name_is_imported_across_modules():
    offences = []
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            if not isinstance(node, ast.ImportFrom):
                continue
            ours = node.level > 0 or (node.module or "").split(".")[0] == "cellshapes"
            if not ours:
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not (
                    alias.name.startswith("__") and alias.name.endswith("__"))
                if private:
                    src = "." * node.level + (node.module or "")
                    offences.append(f"{_rel(path)}:{node.lineno} from {src} import {alias.name}")
    assert not offences, "private names imported across modules:\n" + "\n".join(offences)


def test_every_module_is_at_most_500_lines():
    long = {_rel(p): n for p in MODULES
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules longer than {MAX_LINES} lines: {long}"


def test_tqdm_is_imported_only_by_progress():
    users = []
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "tqdm" for n in names):
                users.append(f"{_rel(path)}:{node.lineno}")
    assert all(u.startswith("cellshapes/progress.py:") for u in users), (
        "use cellshapes.progress.track instead of tqdm: " + ", ".join(users))
