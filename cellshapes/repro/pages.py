"""The documentation page of each notebook, made from its committed files when the docs
are built (``docs/conf.py``): the notebook's title and claim (the first markdown cell of
``notebooks/NN_topic.py``), its ``results/NN_topic.json`` as a table (every claim with the
paper's number, the value per seed, the test and its p-value, the verdict) and its figures.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

from cellshapes.errors import InputError
from cellshapes.repro.report import cell_text, number_text
from cellshapes.repro.results import read_results

__all__ = ["claims_markdown", "notebook_page"]

_ROLE = re.compile(r":(?:func|class|mod|data|meth|attr):`~?([^`]+)`")



def claims_markdown(doc: dict[str, Any]) -> str:
    """A results document's claims as a markdown table for its notebook's docs page:
    claim, paper, the value per seed, mean +- sd, the test with its p-value, verdict.

    Parameters
    ----------
    doc : dict
        :func:`cellshapes.repro.results.read_results` output.

    Returns
    -------
    str
        The table, no trailing newline.
    """
    seeds = ", ".join(str(s) for s in doc["seeds"])
    lines = [f"| claim | paper | per seed ({seeds}) | mean +- sd | test | verdict |",
             "|---|---|---|---|---|---|"]
    for c in doc["claims"]:
        sd = f" +- {number_text(c['sd'])}" if c.get("sd") is not None else ""
        p = f"; p = {float(c['pvalue']):.2g}" if c.get("pvalue") is not None else ""
        test = str(c.get("test", "-")).split(", H0")[0]  # the hypotheses: in the file
        per_seed = ", ".join(number_text(v) for v in c["per_seed"])
        lines.append(f"| {cell_text(c['claim'])} | {cell_text(c['paper'])} | {per_seed} | "
                     f"{number_text(c['mean'])}{sd} | {cell_text(test)}{p} | "
                     f"**{c['verdict']}** |")
    return "\n".join(lines)


def _intro(script: Path) -> list[str]:
    """The first markdown cell of a jupytext percent script, as markdown lines."""
    lines, inside = [], False
    for line in script.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            if inside:
                break
            inside = "[markdown]" in line
            continue
        if inside:
            text = line[2:] if line.startswith("# ") else line.lstrip("#")
            lines.append(_ROLE.sub(r"`\1`", text))  # Sphinx roles of the notebook's text
    if not lines or not lines[0].startswith("# "):
        raise InputError(f"{script}: the first markdown cell must start with a '# ' title")
    return lines


def notebook_page(script: str | os.PathLike, results: str | os.PathLike | None,
                  figures: Sequence[str]) -> str:
    """The documentation page of one notebook, made from its committed files.

    Parameters
    ----------
    script : path-like
        The notebook's jupytext script ``notebooks/NN_topic.py``; its first markdown cell
        (title and claim) opens the page.
    results : path-like or None
        Its ``results/NN_topic.json`` (None: the notebook states no claims).
    figures : sequence of str
        Paths of its committed figures relative to the page, in the order shown.

    Returns
    -------
    str
        MyST markdown: the notebook's title and claim, how to run it, the results table
        (:func:`claims_markdown`, with profile, seeds, date and versions) and every
        figure.

    Raises
    ------
    InputError
        A script without a titled first markdown cell, or an invalid results file.
    """
    script = Path(script)
    stem = script.stem
    number = stem.split("_", 1)[0]
    out = [*_intro(script), "",
           f"Source: `notebooks/{stem}.py` (paired with `{stem}.ipynb`). Run it with "
           f"`cellshapes notebooks --profile study --only {number}` (figures and results "
           f"under `out/study/`; `--publish` updates the committed ones shown here).", ""]
    out += ["## Results", ""]
    if results is None:
        out += ["This notebook states no claim with a verdict (no "
                f"`results/{stem}.json`).", ""]
    else:
        doc = read_results(results)
        v = doc.get("versions", {})
        out += [f"`results/{stem}.json`: profile `{doc['profile']}`, seeds "
                f"{', '.join(str(s) for s in doc['seeds'])}, written {doc['date']} "
                f"(cellshapes {v.get('cellshapes')}, torch {v.get('torch')}). Per seed: "
                "the compared quantity (arm a - arm b, or arm a against a fixed value); "
                "the verdict rule is on the results page.", "", claims_markdown(doc), ""]
    out += ["## Figures", ""]
    if not figures:
        out += ["No committed figure.", ""]
    for f in figures:
        name = Path(f).name
        out += [f"### {name}", "", f"![{name}]({f})", ""]
    return "\n".join(out)
