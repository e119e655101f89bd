"""Sphinx configuration of the cellshapes documentation (``docs/``).

Build offline with one command from the repository root (the ``docs`` extra)::

    python -m sphinx -b html docs docs/_build/html

Before Sphinx reads the sources, this file writes ``docs/_generated/`` (git-ignored)
from the committed files: one page per notebook (``notebooks/NN_topic.py``'s title and
claim, its ``results/NN_topic.json`` as a table, its ``figures/NN_*.png``), the command
line reference from the argparse parser, and the API reference (autosummary of the
names in ``cellshapes/__init__.pyi``). Nothing is fetched: no intersphinx, the bundled
alabaster theme, no web fonts.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
sys.path.insert(0, str(ROOT))  # the checkout's cellshapes, installed or not

from cellshapes import __version__  # noqa: E402
from cellshapes.repro.pages import notebook_page  # noqa: E402

project = "cellshapes"
author = "cellshapes contributors"
copyright = "2026, cellshapes contributors"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.autosummary",
              "sphinx.ext.napoleon"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated/paper_table.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.header", "myst.xref_missing"]
autosummary_generate = True
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
html_theme = "alabaster"
html_theme_options = {"show_powered_by": False, "description": "3D+t cell shapes",
                      "page_width": "1240px", "sidebar_width": "250px"}
html_title = f"cellshapes {release}"

#: Module (as the stub names it) -> section of the API reference.
API_SECTIONS = {"config": "Configuration", "model": "Model", "inference": "Inference",
                "io": "Data", "prepare": "Data", "phantoms": "Data", "sdf": "Data",
                "pretrained": "Data", "measure": "Measurement and comparison",
                "errors": "Errors"}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")  # unchanged pages keep their mtime


def notebook_pages() -> list[str]:
    """``_generated/notebooks/NN_topic.md`` for every notebook, its figures copied
    beside them, and the index page; returns the notebooks' stems."""
    figures = GENERATED / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    stems = []
    for script in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        stem = script.stem
        number = stem.split("_", 1)[0]
        shown = []
        for png in sorted((ROOT / "figures").glob(f"{number}_*.png")):
            shutil.copy2(png, figures / png.name)
            shown.append(f"../figures/{png.name}")
        results = ROOT / "results" / f"{stem}.json"
        _write(GENERATED / "notebooks" / f"{stem}.md",
               notebook_page(script, results if results.exists() else None, shown))
        stems.append(stem)
    lines = ["# Notebooks", "",
             "One page per notebook, generated when the docs are built from its script "
             "(`notebooks/NN_topic.py`), its committed results (`results/NN_topic.json`) "
             "and figures (`figures/NN_*.png`). How to run them: [Running the notebooks]"
             "(../../notebooks.md); how the verdicts are reached: [Results](../../results.md).",
             "", "```{toctree}", ":maxdepth: 1", "", *stems, "```", ""]
    _write(GENERATED / "notebooks" / "index.md", "\n".join(lines))
    return stems


def cli_page() -> None:
    """``_generated/cli.md``: ``--help`` of ``cellshapes`` and of every subcommand."""
    from cellshapes.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps help at the terminal width
    parser = build_parser()
    lines = ["# Command line reference", "",
             "Generated from the parser (`cellshapes.cli.build_parser`) when the docs are "
             "built: the `--help` of every command, as `cellshapes COMMAND --help` prints "
             "it. What the commands are for: [Command line](../commands.md).", "",
             "## `cellshapes`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                lines += [f"## `cellshapes {name}`", "", "```text",
                          sub.format_help().rstrip(), "```", ""]
    _write(GENERATED / "cli.md", "\n".join(lines))


def api_page() -> None:
    """``_generated/api.rst``: an autosummary (one page each) of every public name."""
    stub = ast.parse((ROOT / "cellshapes" / "__init__.pyi").read_text(encoding="utf-8"))
    sections: dict[str, list[str]] = {}
    for node in stub.body:
        if isinstance(node, ast.ImportFrom):
            title = API_SECTIONS.get(node.module.split(".")[0], "Other")
            sections.setdefault(title, []).extend(a.name for a in node.names)
    sections["Training"] = ["training.loop.train"]
    lines = ["API reference", "=============", "",
             "Every public name of ``cellshapes`` (``from cellshapes import NAME``; the list "
             "is the stub ``cellshapes/__init__.pyi``), documented from its docstring.", "",
             ".. currentmodule:: cellshapes", ""]
    order = ["Configuration", "Model", "Training", "Inference", "Data",
             "Measurement and comparison", "Errors", "Other"]
    for title in [t for t in order if t in sections]:
        lines += [title, "-" * len(title), "", ".. autosummary::", "   :toctree: api", ""]
        lines += [f"   {name}" for name in sorted(sections[title], key=str.lower)] + [""]
    _write(GENERATED / "api.rst", "\n".join(lines))


def paper_table() -> None:
    """``_generated/paper_table.md``: the paper's numbers from :mod:`cellshapes.repro.paper`,
    the one module the notebooks read them from."""
    from cellshapes.repro.paper import markdown_table

    _write(GENERATED / "paper_table.md", markdown_table())


notebook_pages()
cli_page()
api_page()
paper_table()
