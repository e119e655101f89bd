"""The package's public face: the re-exported API and the layout rules.

Every name of ``cellshapes.__all__`` is the object the stub ``cellshapes/__init__.pyi``
says it is, ``import cellshapes`` stays light, no module reaches into another module's
private names, every module stays short, no import cycle exists among the modules, the
old flat module paths of 0.1 are gone, the layout table of the docs
(``docs/layout.md``) names every module, and progress bars go through
:func:`cellshapes.progress.track` only.
"""
from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cellshapes

PACKAGE = Path(cellshapes.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_all_lists_at_least_12_public_names():
    names = cellshapes.__all__
    assert len(names) >= 12
    assert len(set(names)) == len(names), "duplicate names in __all__"
    assert not [n for n in names if n.startswith("_")]


def stub_names() -> dict[str, str]:
    """Public name -> the module the stub ``cellshapes/__init__.pyi`` imports it from."""
    out = {}
    for node in _tree(PACKAGE / "__init__.pyi").body:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1, "the stub imports only from cellshapes' own modules"
            out.update({a.name: f"cellshapes.{node.module}" for a in node.names})
    return out


def test_all_is_exactly_the_stub():
    stub_all = next(ast.literal_eval(n.value) for n in _tree(PACKAGE / "__init__.pyi").body
                    if isinstance(n, ast.Assign) and n.targets[0].id == "__all__")
    assert sorted(cellshapes.__all__) == sorted(stub_names()) == sorted(stub_all)
    assert set(cellshapes.__all__) <= set(dir(cellshapes))


@pytest.mark.parametrize("name", cellshapes.__all__)
def test_public_name_is_the_object_of_its_module(name):
    """``cellshapes.X`` is the very object of the module the stub names, defined in
    cellshapes (not a stand-in, not a third-party object re-exported by accident)."""
    module = stub_names()[name]
    value = getattr(cellshapes, name)
    assert value is getattr(importlib.import_module(module), name)
    if callable(value):
        assert value.__module__.startswith("cellshapes."), value.__module__
        assert value.__doc__ and value.__doc__.strip(), f"{name} has no docstring"


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


def test_every_module_is_at_most_400_lines():
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the cellshapes modules it imports, at module level or inside functions
    (``from cellshapes.x import y`` counts ``cellshapes.x.y`` if that is a module, else
    ``cellshapes.x``)."""
    names = {_module_name(p): p for p in MODULES}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    head = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(head + ([base] if base else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    deps.add(target if target in names else base)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in names and d != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_cycle_finder_finds_a_planted_cycle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_modules():
    graph = import_graph()
    assert graph["cellshapes.measure.compare"] >= {"cellshapes.measure.surface",
                                                    "cellshapes.measure.protrusion"}
    cycles = import_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("old", ["metrics", "train", "grid", "plots"])
def test_old_flat_module_paths_are_gone(old):
    """0.2 removed the import hook of the 0.1 paths (CHANGELOG.md): an old path is an
    ordinary ModuleNotFoundError, not a warning."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"cellshapes.{old}")
    assert not (PACKAGE / "moved.py").exists()


def test_docs_layout_table_lists_every_module():
    """docs/layout.md holds the package layout table; it names every module."""
    page = (PACKAGE.parent / "docs" / "layout.md").read_text(encoding="utf-8")
    table = page.split("## Package layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([\w./]+)`", table))
    missing = []
    for path in MODULES:
        rel = path.relative_to(PACKAGE)
        if path.name == "__init__.py" and rel.parent != Path("."):
            continue  # a package is listed by its modules
        if rel.name in ("__init__.py", "__main__.py"):
            continue
        if rel.with_suffix("").as_posix() not in listed:
            missing.append(rel.with_suffix("").as_posix())
    assert not missing, f"docs/layout.md package layout table does not name: {missing}"
