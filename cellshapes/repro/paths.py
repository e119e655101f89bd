"""Where a notebook writes: the repository root and the four output folders.

Defaults are git-ignored (``<repo>/out/<profile>/{data,runs,figures,results}``); only
``cellshapes notebooks --publish`` sends figures and results to the committed folders.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from cellshapes.errors import InputError

__all__ = ["repo_root", "NotebookPaths", "paths", "figure_path"]


def _is_repo(folder: Path) -> bool:
    return (folder / "notebooks").is_dir() and (folder / "cellshapes" / "__init__.py").is_file()


def repo_root() -> Path:
    """The root of the cellshapes source repository in use.

    The checkout the package is imported from (``pip install -e .`` or ``PYTHONPATH``);
    else the nearest folder at or above the working directory that holds ``notebooks/``
    and ``cellshapes/`` (a wheel installed next to a clone).

    Raises
    ------
    InputError
        Neither is a cellshapes repository.
    """
    package_parent = Path(__file__).resolve().parents[2]
    cwd = Path.cwd().resolve()
    for folder in (package_parent, cwd, *cwd.parents):
        if _is_repo(folder):
            return folder
    raise InputError(
        "cannot find the cellshapes repository (a folder with notebooks/ and cellshapes/): "
        "run from inside a clone, or pass data_dir, runs_dir, figures_dir and results_dir")


class NotebookPaths(NamedTuple):
    """Where a notebook writes (absolute paths), unpacked in the notebooks' first cell as
    ``data_dir, runs_dir, figures_dir, results_dir = workflow.paths(...)``."""

    data: Path
    """Phantom and prepared datasets (shared by the notebooks of a profile)."""
    runs: Path
    """Trained run directories (``runs/<profile>/<name>``, shared likewise)."""
    figures: Path
    """Saved figures ``NN_topic_<what>.png``."""
    results: Path
    """Machine-readable results ``NN_topic.json``."""


def paths(profile: str, data_dir: str | os.PathLike | None = None,
          runs_dir: str | os.PathLike | None = None,
          figures_dir: str | os.PathLike | None = None,
          results_dir: str | os.PathLike | None = None, *, publish: bool = False,
          root: str | os.PathLike | None = None) -> NotebookPaths:
    """The folders a notebook writes to, resolved from the repository root.

    Defaults are git-ignored: ``<repo>/out/<profile>/{data,runs,figures,results}``, so
    running a notebook with its defaults (JupyterLab, or papermill from any working
    directory) never changes a committed file. Only ``publish=True`` (``cellshapes
    notebooks --publish``) sends figures and results to the committed ``<repo>/figures``
    and ``<repo>/results``. An explicit folder wins; a relative one is taken from the
    repository root, not the working directory.

    Parameters
    ----------
    profile : str
        A profile of :data:`cellshapes.config.PROFILES` (names the default folder).
    data_dir, runs_dir, figures_dir, results_dir : path or None
        Explicit folders (the notebook parameters); None: the default.
    publish : bool
        Figures and results to the committed folders (data and runs stay ignored).
    root : path, optional
        Folder for the ignored outputs instead of ``<repo>/out/<profile>``.

    Returns
    -------
    NotebookPaths
        Absolute ``data``, ``runs``, ``figures``, ``results`` (not created).

    Raises
    ------
    InputError
        Unknown profile, or no repository to resolve from (:func:`repo_root`).

    Examples
    --------
    >>> p = paths("smoke")                                        # doctest: +SKIP
    >>> p.figures.relative_to(repo_root()).as_posix()             # doctest: +SKIP
    'out/smoke/figures'
    """
    from cellshapes.config import PROFILES, profile_entry

    profile_entry(PROFILES, profile)
    explicit = (data_dir, runs_dir, figures_dir, results_dir)
    relative = [p for p in (root, *explicit) if p is not None
                and not Path(p).expanduser().is_absolute()]
    repo = repo_root() if root is None or publish or relative else None
    base = repo / "out" / profile if root is None else Path(root).expanduser()
    if not base.is_absolute():
        base = repo / base
    default = {"data": base / "data", "runs": base / "runs",
               "figures": repo / "figures" if publish else base / "figures",
               "results": repo / "results" if publish else base / "results"}
    chosen = {}
    for (key, fallback), given in zip(default.items(), explicit):
        path = fallback if given is None else Path(given).expanduser()
        chosen[key] = (path if path.is_absolute() else repo / path).resolve()
    return NotebookPaths(**chosen)


def figure_path(notebook: str, name: str, root: str | os.PathLike) -> Path:
    """``root/<notebook>_<name>.png`` (folder created).

    ``root`` is the notebook's ``figures_dir`` as resolved by :func:`paths`; there is no
    default, so no figure lands in the working directory by accident.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{notebook}_{name}.png"
