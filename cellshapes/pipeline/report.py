"""The verdict and the one-page report of ``cellshapes model``.

:func:`verdict` reads the per-cell, per-frame scores of the reconstructions (the table of
:func:`cellshapes.measure.compare.compare_path`) against stated thresholds
(:data:`THRESHOLDS`); :func:`write_report` writes ``report.html`` with the verdict line,
the score tables and the figures beside it.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

__all__ = ["THRESHOLDS", "verdict", "write_report"]

#: Thresholds of "good enough to synthesize", applied to the reconstructions of the
#: training cells: the mean DSC over all cells and frames, the lowest mean DSC of one cell,
#: and the mean island fraction (share of the reconstructed foreground outside the
#: component that matches the cell, :mod:`cellshapes.measure.topology`).
THRESHOLDS: dict[str, float] = {"dsc_mean": 0.90, "dsc_cell_min": 0.80,
                                "island_fraction_max": 0.01}


def verdict(scores: pd.DataFrame, thresholds: Mapping[str, float] = THRESHOLDS
            ) -> dict[str, Any]:
    """Is the model good enough to synthesize from? Stated thresholds, no hidden ones.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per sequence and frame with ``sequence``, ``dsc`` and ``island_fraction``.
    thresholds : mapping
        Keys as in :data:`THRESHOLDS`.

    Returns
    -------
    dict
        ``good`` (bool), ``line`` (one sentence naming every failed threshold), the
        measured ``dsc_mean``, ``dsc_cell_min``, ``island_fraction`` and the ``thresholds``.
    """
    per_cell = scores.groupby("sequence")["dsc"].mean()
    got = {"dsc_mean": float(scores["dsc"].mean()), "dsc_cell_min": float(per_cell.min()),
           "island_fraction": float(scores["island_fraction"].mean())}
    failed = []
    if got["dsc_mean"] < thresholds["dsc_mean"]:
        failed.append(f"mean DSC {got['dsc_mean']:.3f} < {thresholds['dsc_mean']}")
    if got["dsc_cell_min"] < thresholds["dsc_cell_min"]:
        failed.append(f"cell {per_cell.idxmin()} has mean DSC {got['dsc_cell_min']:.3f} < "
                      f"{thresholds['dsc_cell_min']}")
    if got["island_fraction"] > thresholds["island_fraction_max"]:
        failed.append(f"island fraction {got['island_fraction']:.3f} > "
                      f"{thresholds['island_fraction_max']}")
    line = ("good enough to synthesize (" + ", ".join(
        [f"mean DSC {got['dsc_mean']:.3f} >= {thresholds['dsc_mean']}",
         f"every cell >= {thresholds['dsc_cell_min']}",
         f"island fraction {got['island_fraction']:.3f} <= "
         f"{thresholds['island_fraction_max']}"]) + ")") if not failed else (
        "NOT good enough to synthesize: " + "; ".join(failed)
        + " (train longer: a larger --profile, or --from-pretrained)")
    return {"good": not failed, "line": line, **got, "thresholds": dict(thresholds)}


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0,
                      classes="scores")


def _ids_section(ids: Sequence[Mapping[str, Any]]) -> list[str]:
    """HTML: per input, the id jumps found and the links made (tables of both)."""
    from cellshapes.prepare.linking import JUMP_IOU

    parts = ["<h2>Cell ids over time</h2>"]
    for entry in ids:
        jumps, links = entry.get("jumps", []), entry.get("links", [])
        line = (f"{entry['source']}: {len(jumps)} id jump(s) found (an id whose masks in "
                f"consecutive frames overlap with IoU < {JUMP_IOU} or whose centroid moves more "
                "than its radius); ")
        line += (f"{entry['rule']}; {len(links)} cell-frame(s) renumbered; tracks: "
                 f"{entry.get('track_file')}" if entry.get("track_file")
                 else (entry.get("rule") or "ids used as given (not linked)"))
        parts.append(f"<p>{html.escape(line)}</p>")
        for title, rows in (("Jumps found", jumps), ("Links made", links)):
            if rows:
                parts += [f"<h3>{title}</h3>", _table(pd.DataFrame(rows))]
    return parts


def write_report(path: Path, title: str, facts: Sequence[tuple[str, str]],
                 judged: Mapping[str, Any], scores: pd.DataFrame,
                 figures: Sequence[tuple[str, str]],
                 synthesis: pd.DataFrame | None = None,
                 ids: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Write the one-page HTML report.

    Parameters
    ----------
    path : Path
        ``report.html``; figure paths are written relative to its folder.
    title : str
    facts : sequence of (name, value)
        What was run (inputs, profile, epochs, times), shown as a list.
    judged : mapping
        :func:`verdict`'s result.
    scores : pandas.DataFrame
        Per sequence and frame scores.
    figures : sequence of (caption, path)
        PNG files (absolute or relative to ``path``'s folder).
    synthesis : pandas.DataFrame, optional
        Per generated sequence: components and island fraction.
    ids : sequence of mapping
        Per input, the ids over time (``labels/ids.json`` of ``cellshapes model``):
        ``source``, ``jumps``, ``links``, ``rule``, ``track_file``.
    """
    per_cell = scores.groupby("sequence", as_index=False).mean(numeric_only=True)
    per_cell = per_cell.drop(columns=[c for c in ("frame", "cell") if c in per_cell])
    colour = "#1b7837" if judged["good"] else "#b2182b"
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table.scores{border-collapse:collapse;font-size:90%}"
             "table.scores td,table.scores th{padding:2px 8px;border-bottom:1px solid #ddd}"
             "img{max-width:100%}</style>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p style='font-size:120%;color:{colour}'><b>Verdict:</b> "
             f"{html.escape(judged['line'])}</p>",
             "<ul>" + "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>"
                              for k, v in facts) + "</ul>",
             *_ids_section(ids),
             "<h2>Reconstruction of each cell (mean over frames)</h2>", _table(per_cell)]
    for caption, fig in figures:
        rel = Path(fig)
        rel = rel.relative_to(path.parent) if rel.is_absolute() else rel
        parts += [f"<h2>{html.escape(caption)}</h2>", f"<img src='{html.escape(str(rel))}'>"]
    if synthesis is not None:
        parts += ["<h2>Synthesized sequences</h2>"]
        if not judged["good"]:
            parts += ["<p><b>Made although the verdict above is negative</b>: these cells come "
                      "from a model that does not yet rebuild its training cells well.</p>"]
        parts += [_table(synthesis)]
    parts += ["<h2>Every frame</h2>", _table(scores)]
    path.write_text("\n".join(parts) + "\n")
    return path
