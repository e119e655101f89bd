"""Tiny nbformat helpers shared by the notebook generator scripts in this folder."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

PARAMETERS = '''profile = "smoke"          # smoke | quick | paper
device = "auto"
seed = 0
train = True               # False: use shipped pretrained models where available
data_dir = "../data/generated"
runs_dir = "../runs"
figures_dir = "../figures"'''


def md(text: str):
    """A markdown cell (leading/trailing blank lines stripped)."""
    return new_markdown_cell(text.strip("\n"))


def code(text: str, tags: list[str] | None = None):
    """A code cell without outputs."""
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = tags
    return cell


def params(extra: str = ""):
    """The ``parameters``-tagged first code cell (conventional names, then extras)."""
    return code(PARAMETERS + ("\n" + extra.strip("\n") if extra else ""), tags=["parameters"])


def write(cells: list, path: Path) -> None:
    """Write a python3 notebook without outputs."""
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:02d}"
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
