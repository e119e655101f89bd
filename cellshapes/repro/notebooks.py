"""Execute the numbered notebooks headlessly with papermill (``cellshapes notebooks``).

The notebooks ship with the source repository (``<repo>/notebooks/NN_topic.ipynb``, each
paired with the jupytext script ``NN_topic.py`` that is edited and reviewed), not inside
the wheel. Their folder is found by :func:`notebooks_folder`: the ``notebooks_dir``
argument, else the environment variable :data:`NOTEBOOKS_ENV`, else ``notebooks/`` in the
working directory or a folder above it, else the checkout the package is imported from
(an editable install); otherwise a clear error. Every executed copy goes to an output
folder; the sources are never written.

Where data, runs and figures go (:func:`cellshapes.repro.workflow.paths`): by default
everything under the git-ignored ``<repo>/out/<profile>/`` (``data``, ``runs``,
``figures``, ``results``, and the executed copies in ``notebooks``), or under ``--out``.
Only ``publish=True`` (``cellshapes notebooks --profile P --publish``) writes figures and
results to the committed ``<repo>/figures`` and ``<repo>/results``.

While a notebook runs, one line per code cell goes to stderr (``cell n/N``, elapsed
seconds), so a long notebook is never silent.

Example
-------
>>> from cellshapes.repro.notebooks import run_notebooks
>>> results = run_notebooks("smoke", out="/tmp/nb", only=["00"])   # doctest: +SKIP
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence, TextIO

from cellshapes.config import PROFILES as _PROFILE_SETTINGS
from cellshapes.errors import InputError
from cellshapes.repro.workflow import paths

__all__ = ["NOTEBOOKS_ENV", "notebooks_folder", "find_notebooks", "notebook_parameters",
           "run_notebooks", "sync_notebooks", "PROFILES"]

#: Environment variable naming the folder that holds ``NN_topic.ipynb``.
NOTEBOOKS_ENV = "CELLSHAPES_NOTEBOOKS"
#: Profiles a notebook understands.
PROFILES = tuple(_PROFILE_SETTINGS)
_PATTERN = "[0-9][0-9]_*.ipynb"


# ------------------------------------------------------------ helpers the notebooks call
def _has_notebooks(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob(_PATTERN))


def notebooks_folder(notebooks_dir: str | os.PathLike | None = None) -> Path:
    """The folder that holds the numbered notebooks ``NN_topic.ipynb``.

    Looked for in this order: ``notebooks_dir``; the environment variable
    :data:`NOTEBOOKS_ENV`; ``notebooks/`` in the working directory or the nearest folder
    above it that has one; ``notebooks/`` beside the imported package (a source checkout).

    Raises
    ------
    InputError
        An explicit folder (argument or environment variable) without notebooks, or none
        found: the notebooks ship with the source repository, not the installed package.
    """
    explicit = notebooks_dir if notebooks_dir is not None else os.environ.get(NOTEBOOKS_ENV)
    if explicit:
        folder = Path(explicit)
        if not _has_notebooks(folder):
            raise InputError(
                f"no notebooks found in {folder}: pass the folder that holds NN_topic.ipynb "
                "(the notebooks ship with the source repository, not the installed package)")
        return folder.resolve()
    cwd = Path.cwd().resolve()
    package_checkout = Path(__file__).resolve().parents[2]
    for root in (cwd, *cwd.parents, package_checkout):
        if _has_notebooks(root / "notebooks"):
            return (root / "notebooks").resolve()
    raise InputError(
        "no notebooks folder found: the notebooks ship with the source repository, not the "
        "installed package; run from inside a clone, set "
        f"{NOTEBOOKS_ENV}=<clone>/notebooks, or pass the folder that holds NN_topic.ipynb")


def _notebooks_dir(notebooks_dir: str | os.PathLike | None) -> Path:
    return notebooks_folder(notebooks_dir)


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
        Default: :func:`notebooks_folder`.
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


def notebook_parameters(profile: str, out: str | os.PathLike | None = None,
                        device: str = "auto", publish: bool = False) -> dict[str, Any]:
    """The papermill parameters of every notebook (absolute paths).

    Parameters
    ----------
    profile : str
        A profile of :data:`PROFILES`.
    out : path, optional
        Folder for data, runs, figures and results; default ``<repo>/out/<profile>``.
    device : str
        ``auto``, ``cpu``, ``cuda``...
    publish : bool
        Figures and results to the committed ``<repo>/figures`` and ``<repo>/results``.

    Raises
    ------
    InputError
        Unknown profile, or ``publish`` with the ``smoke`` profile (its numbers mean
        nothing and would replace the committed ones).
    """
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r}; choose one of {list(PROFILES)}")
    if publish and profile == "smoke":
        raise InputError("--publish with profile smoke: smoke numbers mean nothing and "
                         "would replace the committed figures; publish a larger profile")
    where = paths(profile, publish=publish, root=out)
    return {"profile": profile, "device": device,
            **{f"{k}_dir": str(v) for k, v in where._asdict().items()}}


def _first_line(exc: BaseException) -> str:
    """One line describing a failure (papermill's ``ename: evalue`` when it has them)."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def _cell_reporter(name: str, nb: Any, stream: TextIO):
    """``cell_start`` hook printing ``  <name>: cell n/N, t s elapsed`` per code cell."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    rank = {index: k for k, index in enumerate(code, start=1)}
    t0 = time.perf_counter()

    def report(cell_index: int | None) -> None:
        if cell_index in rank:
            print(f"  {name}: cell {rank[cell_index]}/{len(code)}, "
                  f"{time.perf_counter() - t0:.0f} s elapsed", file=stream, flush=True)
    return report


def _progress_engine() -> str:
    """Register papermill's nbclient engine with a per-cell progress line; its name."""
    from papermill.engines import NBClientEngine, papermill_engines

    class CellProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, progress_name="notebook",
                                     progress_stream=None, **kwargs):
            if progress_stream is not None:
                # nb_man.nb already holds papermill's injected-parameters cell
                report = _cell_reporter(progress_name, nb_man.nb, progress_stream)
                start = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    report(cell_index)
                    return start(cell, cell_index, **kw)
                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register("cellshapes-progress", CellProgressEngine)
    return "cellshapes-progress"


def _execute(src: Path, dest: Path, parameters: dict[str, Any],
             stream: TextIO | None = None) -> str | None:
    """Run one notebook; None on success, else the first line of the error."""
    import papermill as pm

    extra = {} if stream is None else dict(engine_name=_progress_engine(),
                                           progress_name=src.stem, progress_stream=stream)
    try:
        pm.execute_notebook(str(src), str(dest), parameters=parameters, kernel_name="python3",
                            cwd=str(src.parent), progress_bar=False, log_output=False,
                            **extra)
    except Exception as exc:  # a notebook failure is reported, the run goes on
        return _first_line(exc)
    return None


def run_notebooks(profile: str = "smoke", out: str | os.PathLike | None = None,
                  only: str | Sequence[str] | None = None, device: str = "auto",
                  notebooks_dir: str | os.PathLike | None = None,
                  progress: bool = True, publish: bool = False) -> list[dict[str, Any]]:
    """Execute the numbered notebooks with papermill, one after the other.

    Parameters
    ----------
    profile : str
        One of :data:`PROFILES`; passed to every notebook.
    out : path, optional
        Folder for the outputs: executed copies in ``out/notebooks/NN_topic.ipynb``,
        data, runs, figures and results beside them. Default ``<repo>/out/<profile>``
        (git-ignored).
    only : str or sequence of str, optional
        Numbers or names to run (default: all).
    device : str
        ``auto``, ``cpu``, ``cuda``...
    notebooks_dir : path, optional
        Default: :func:`notebooks_folder`.
    progress : bool
        Print one line per notebook and a summary (stdout), and one line per code cell
        while a notebook runs (stderr).
    publish : bool
        Write figures and results to the committed ``<repo>/figures`` and
        ``<repo>/results`` (not for ``smoke``).

    Returns
    -------
    list of dict
        Per notebook: ``name``, ``source``, ``output``, ``seconds``, ``ok``, ``error``
        (first line, or None), ``figures_dir``.

    Raises
    ------
    InputError
        Unknown profile, missing notebooks, an ``only`` name that matches nothing,
        ``out`` equal to the notebooks folder, or ``publish`` at smoke.
    """
    books = find_notebooks(notebooks_dir, only)
    params = notebook_parameters(profile, out, device, publish)
    executed = Path(params["data_dir"]).parent / "notebooks"
    if books[0].parent in (executed, Path(out or executed).resolve()):
        raise InputError(f"--out {out} is the notebooks folder; the sources must stay clean")
    executed.mkdir(parents=True, exist_ok=True)
    results = []
    for i, src in enumerate(books, start=1):
        if progress:
            print(f"[{i}/{len(books)}] {src.stem} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        error = _execute(src, executed / src.name, params, sys.stderr if progress else None)
        res = {"name": src.stem, "source": str(src), "output": str(executed / src.name),
               "seconds": round(time.perf_counter() - t0, 1), "ok": error is None,
               "error": error, "figures_dir": params["figures_dir"]}
        results.append(res)
        if progress:
            status = "ok" if res["ok"] else f"FAILED  {error}"
            print(f"[{i}/{len(books)}] {src.stem:<28} {res['seconds']:7.1f} s  {status}",
                  flush=True)
    if progress:
        _summary(results, profile, executed)
    return results


def _summary(results: list[dict[str, Any]], profile: str, out: Path) -> None:
    failed = [r["name"] for r in results if not r["ok"]]
    total = sum(r["seconds"] for r in results)
    line = (f"{len(results)} notebook(s) at profile {profile} in {total:.0f} s; "
            f"{len(failed)} failed")
    print(line + (f": {', '.join(failed)}" if failed else ""), flush=True)
    print(f"executed copies in {out}; figures in {results[0]['figures_dir']}", flush=True)
    if failed:
        print("open the executed copy of a failed notebook to see its traceback",
              file=sys.stderr, flush=True)


# ------------------------------------------------------------ jupytext pairs
#: Notebook metadata of a stored notebook (no kernel versions, papermill or widget state).
_NOTEBOOK_METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                     "name": "python3"},
                      "language_info": {"name": "python"}}


def _inputs(nb: Any) -> list[tuple[str, str, dict]]:
    """What a pair must agree on: each cell's type, source and metadata."""
    return [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]


def _stored(nb_inputs: Any, old: Any | None, metadata_filter: str | None) -> Any:
    """The notebook to store: the inputs of ``nb_inputs``, no outputs, cell ids kept.

    Cells matched by jupytext to a cell of ``old`` keep its id, so a diff of the stored
    notebook shows only the cells that changed. The notebook metadata is fixed, plus the
    ``jupytext`` entry JupyterLab adds on save (so a save there changes only the edited
    cells).
    """
    import nbformat
    from jupytext.combine import combine_inputs_with_outputs

    nb = combine_inputs_with_outputs(nb_inputs, old) if old is not None else nb_inputs
    nb.metadata = nbformat.from_dict(_NOTEBOOK_METADATA)
    if metadata_filter:
        nb.metadata["jupytext"] = {"notebook_metadata_filter": metadata_filter}
    for cell, source in zip(nb.cells, nb_inputs.cells):
        cell.metadata = source.metadata
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def sync_notebooks(notebooks_dir: str | os.PathLike | None = None) -> list[Path]:
    """Bring every ``NN_topic.ipynb`` / ``NN_topic.py`` pair into agreement.

    Where the two differ in their cells, the file modified last wins (jupytext's rule;
    the script on a tie); a missing half is created. The notebook is stored without
    outputs or execution counts and with the cell ids it had. The same as ``jupytext
    --sync`` plus the stripping of outputs.

    Parameters
    ----------
    notebooks_dir : path, optional
        Default: :func:`notebooks_folder`.

    Returns
    -------
    list of Path
        The files written (empty when all pairs were in sync and clean).
    """
    import jupytext
    import nbformat
    from jupytext.config import load_jupytext_config

    folder = _notebooks_dir(notebooks_dir)
    config = load_jupytext_config(str(folder))
    stems = sorted({p.stem for p in folder.glob(_PATTERN)}
                   | {p.stem for p in folder.glob(_PATTERN[:-len("ipynb")] + "py")})
    written = []
    for stem in stems:
        ipynb, py = folder / f"{stem}.ipynb", folder / f"{stem}.py"
        old = nbformat.read(str(ipynb), as_version=4) if ipynb.exists() else None
        script = jupytext.read(str(py), fmt="py:percent") if py.exists() else None
        if script is None or (old is not None and _inputs(old) != _inputs(script)
                              and ipynb.stat().st_mtime > py.stat().st_mtime):
            source = old
        else:
            source = script
        text = jupytext.writes(source, fmt="py:percent", config=config)
        # the notebook is made from the script's text, so the two agree exactly
        canonical = jupytext.reads(text, fmt="py:percent")
        texts = {py: text, ipynb: nbformat.writes(
            _stored(canonical, old, config and config.notebook_metadata_filter)) + "\n"}
        for path, content in texts.items():
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                path.write_text(content, encoding="utf-8")
                written.append(path)
    return written
