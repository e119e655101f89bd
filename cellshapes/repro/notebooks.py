"""Execute the numbered notebooks headlessly with papermill (``cellshapes notebooks``).

The notebooks ship with the source repository (``<repo>/notebooks/NN_topic.ipynb``), not
inside the wheel: they are found next to the package folder, or passed explicitly. Every
executed copy goes to the output folder; the clean sources are never written.

Where the data, runs and figures go depends on the profile:

``smoke``
    everything under the output folder (``out/data``, ``out/runs``, ``out/figures``), so a
    CI run never touches the committed quick-profile figures;
``quick`` / ``paper``
    the repository's ``figures/`` and its git-ignored ``data/generated`` and ``runs``.

Example
-------
>>> from cellshapes.repro.notebooks import run_notebooks
>>> results = run_notebooks("smoke", out="/tmp/nb", only=["00"])   # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError

__all__ = ["REPO_ROOT", "find_notebooks", "notebook_parameters", "run_notebooks",
           "notebooks_from_cli", "PROFILES"]

#: The repository root when ``cellshapes`` is used from a checkout (the package's parent).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Profiles a notebook understands.
PROFILES = ("smoke", "quick", "paper")
_PATTERN = "[0-9][0-9]_*.ipynb"


# ------------------------------------------------------------ helpers the notebooks call
def _notebooks_dir(notebooks_dir: str | os.PathLike | None) -> Path:
    """The folder holding ``NN_*.ipynb``; a clear error when it is not there."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else REPO_ROOT / "notebooks"
    if not folder.is_dir() or not any(folder.glob(_PATTERN)):
        raise InputError(
            f"no notebooks found in {folder}: the notebooks ship with the source repository, "
            "not the installed package; run from a git checkout (pip install -e .) or pass "
            "the folder that holds NN_topic.ipynb")
    return folder.resolve()


def _matches(token: str, path: Path) -> bool:
    """``00``, ``0``, ``00_quickstart``, ``00_quickstart.ipynb`` or ``quickstart``."""
    stem = path.stem
    number, _, topic = stem.partition("_")
    token = token.strip()
    if token.endswith(".ipynb"):
        token = token[:-len(".ipynb")]
    if token.isdigit():
        return int(token) == int(number)
    return token in (stem, topic)


def find_notebooks(notebooks_dir: str | os.PathLike | None = None,
                   only: str | Sequence[str] | None = None) -> list[Path]:
    """The numbered notebooks, sorted, optionally restricted to ``only``.

    Parameters
    ----------
    notebooks_dir : path, optional
        Default: ``<repo>/notebooks``.
    only : str or sequence of str, optional
        Numbers or names (``"00,02"``, ``["quickstart", "02_reconstruction"]``).

    Raises
    ------
    InputError
        No notebook folder, or a name in ``only`` that matches no notebook.
    """
    folder = _notebooks_dir(notebooks_dir)
    books = sorted(folder.glob(_PATTERN))
    if only is None:
        return books
    tokens = [t for t in (only.split(",") if isinstance(only, str) else only) if str(t).strip()]
    if not tokens:
        raise InputError("--only names no notebook")
    chosen: list[Path] = []
    for token in tokens:
        hits = [b for b in books if _matches(str(token), b)]
        if not hits:
            raise InputError(f"--only: no notebook matches {str(token).strip()!r}; available: "
                             f"{', '.join(b.stem for b in books)}")
        chosen.extend(h for h in hits if h not in chosen)
    return sorted(chosen)


def notebook_parameters(profile: str, out: Path, device: str = "auto") -> dict[str, Any]:
    """The papermill parameters of every notebook for ``profile`` (absolute paths)."""
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r}; choose one of {list(PROFILES)}")
    if profile == "smoke":
        base = {"data_dir": out / "data", "runs_dir": out / "runs",
                "figures_dir": out / "figures"}
    else:
        base = {"data_dir": REPO_ROOT / "data" / "generated", "runs_dir": REPO_ROOT / "runs",
                "figures_dir": REPO_ROOT / "figures"}
    return {"profile": profile, "device": device,
            **{k: str(Path(v).resolve()) for k, v in base.items()}}


def _first_line(exc: BaseException) -> str:
    """One line describing a failure (papermill's ``ename: evalue`` when it has them)."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def _execute(src: Path, dest: Path, parameters: dict[str, Any]) -> str | None:
    """Run one notebook; None on success, else the first line of the error."""
    import papermill as pm

    try:
        pm.execute_notebook(str(src), str(dest), parameters=parameters, kernel_name="python3",
                            cwd=str(src.parent), progress_bar=False, log_output=False)
    except Exception as exc:  # a notebook failure is reported, the run goes on
        return _first_line(exc)
    return None


def run_notebooks(profile: str = "smoke", out: str | os.PathLike = "notebooks/_out",
                  only: str | Sequence[str] | None = None, device: str = "auto",
                  notebooks_dir: str | os.PathLike | None = None,
                  progress: bool = True) -> list[dict[str, Any]]:
    """Execute the numbered notebooks with papermill, one after the other.

    Parameters
    ----------
    profile : {"smoke", "quick", "paper"}
        Passed to every notebook; also decides where data, runs and figures go (module
        docstring).
    out : path
        Folder for the executed copies (``out/NN_topic.ipynb``); must not be the
        notebooks folder itself.
    only : str or sequence of str, optional
        Numbers or names to run (default: all).
    device : str
        ``auto``, ``cpu``, ``cuda``...
    notebooks_dir : path, optional
        Default: ``<repo>/notebooks``.
    progress : bool
        Print one line per notebook and a summary.

    Returns
    -------
    list of dict
        Per notebook: ``name``, ``source``, ``output``, ``seconds``, ``ok``, ``error``
        (first line, or None), ``figures_dir``.

    Raises
    ------
    InputError
        Unknown profile, missing notebooks, an ``only`` name that matches nothing, or
        ``out`` equal to the notebooks folder.
    """
    books = find_notebooks(notebooks_dir, only)
    out = Path(out).resolve()
    if out == books[0].parent:
        raise InputError(f"--out {out} is the notebooks folder; the sources must stay clean")
    params = notebook_parameters(profile, out, device)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for i, src in enumerate(books, start=1):
        t0 = time.perf_counter()
        error = _execute(src, out / src.name, params)
        res = {"name": src.stem, "source": str(src), "output": str(out / src.name),
               "seconds": round(time.perf_counter() - t0, 1), "ok": error is None,
               "error": error, "figures_dir": params["figures_dir"]}
        results.append(res)
        if progress:
            status = "ok" if res["ok"] else f"FAILED  {error}"
            print(f"[{i}/{len(books)}] {src.stem:<28} {res['seconds']:7.1f} s  {status}",
                  flush=True)
    if progress:
        _summary(results, profile, out)
    return results


def _summary(results: list[dict[str, Any]], profile: str, out: Path) -> None:
    failed = [r["name"] for r in results if not r["ok"]]
    total = sum(r["seconds"] for r in results)
    line = (f"{len(results)} notebook(s) at profile {profile} in {total:.0f} s; "
            f"{len(failed)} failed")
    print(line + (f": {', '.join(failed)}" if failed else ""), flush=True)
    print(f"executed copies in {out}", flush=True)
    if failed:
        print("open the executed copy of a failed notebook to see its traceback",
              file=sys.stderr, flush=True)


def notebooks_from_cli(args: argparse.Namespace) -> int:
    """``cellshapes notebooks``: 0 if all ran, 1 if any failed, 2 for bad arguments."""
    try:
        results = run_notebooks(profile=args.profile, out=args.out, only=args.only,
                                device=getattr(args, "device", "auto"))
    except InputError as exc:
        print(f"cellshapes: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0 if all(r["ok"] for r in results) else 1
