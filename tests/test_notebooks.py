"""The numbered notebooks: editable pairs, stored clean, paths, and each runs at smoke.

Every ``notebooks/NN_*.ipynb`` present is picked up automatically. Its jupytext script
``NN_*.py`` must hold the same cells, and the notebook no outputs. The execution test runs
each notebook with papermill at the ``smoke`` profile (its own figures folder; the phantom
data and trained runs are shared across notebooks, as they are in ``cellshapes
notebooks``). A clean copy of the repository runs notebook 00 with its defaults from two
working directories and must stay ``git status``-clean. The runner itself is tested on
tiny throwaway notebooks.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from cellshapes.cli import main
from cellshapes.errors import InputError
from cellshapes.repro import workflow
from cellshapes.repro.notebooks import (NOTEBOOKS_ENV, find_notebooks, notebook_parameters,
                                        notebooks_folder, run_notebooks, sync_notebooks)
from cellshapes.repro.report import stale_verdicts
from cellshapes.repro.results import read_results
from cellshapes.repro.stats import claim_record, rejudge

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PARAMETERS = {"profile", "device", "seed", "train", "data_dir", "runs_dir", "figures_dir",
              "results_dir"}
PATH_PARAMETERS = ("data_dir", "runs_dir", "figures_dir", "results_dir")


def _ids(path):
    return path.stem


def _image_outputs(nb) -> int:
    return sum("image/png" in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def _assignments(source: str) -> dict[str, object]:
    """name -> literal value of the simple assignments in ``source``."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = ast.literal_eval(node.value)
    return out


def _cells(nb) -> list[tuple[str, str, dict]]:
    return [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]


def test_notebooks_exist_and_generators_are_gone():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"
    assert not sorted((REPO_ROOT / "notebooks").rglob("make_*.py")), "string generators remain"
    config = (REPO_ROOT / "notebooks" / "jupytext.toml").read_text()
    assert 'formats = "ipynb,py:percent"' in config


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_clean_with_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "stored with outputs"
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), "first code cell not tagged"
    values = _assignments(first.source)
    missing = PARAMETERS - set(values)
    assert not missing, f"parameters cell lacks {sorted(missing)}"
    assert values["profile"] == "smoke" and values["device"] == "auto"
    assert {k: values[k] for k in PATH_PARAMETERS} == dict.fromkeys(PATH_PARAMETERS), \
        "path parameters must default to None (resolved by workflow.paths)"
    check = code[1].source  # the one set-up call: device, folders, presets
    assert f'workflow.setup("{path.stem}", profile, device, seed,' in check
    assert "check_device" not in "".join(c.source for c in code)
    assert nb.cells[0].cell_type == "markdown", "first cell must state the claim"
    assert "../" not in "".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_jupytext_pair_in_sync(path):
    import jupytext

    script = path.with_suffix(".py")
    assert script.exists(), f"no jupytext pair {script.name}: run `cellshapes notebooks --sync`"
    stored = nbformat.read(path, as_version=4)
    assert _cells(jupytext.read(script)) == _cells(stored), (
        f"{script.name} and {path.name} differ: run `cellshapes notebooks --sync`")


# --------------------------------------------------------------------------- sync
def _pair(folder: Path) -> tuple[Path, Path]:
    nb = new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 00 toy"),
        new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]}),
        new_code_cell("x = 1\nprint(x)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["jupytext"] = {"notebook_metadata_filter": "kernelspec,-all"}  # as stored
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:02d}"
    shutil.copy(REPO_ROOT / "notebooks" / "jupytext.toml", folder / "jupytext.toml")
    nbformat.write(nb, str(folder / "00_toy.ipynb"))
    return folder / "00_toy.ipynb", folder / "00_toy.py"


def test_sync_creates_script_then_carries_script_edits_keeping_ids(tmp_path):
    import jupytext

    ipynb, py = _pair(tmp_path)
    assert sync_notebooks(tmp_path) == [py]
    assert '# %% tags=["parameters"]\nprofile = "smoke"' in py.read_text()
    assert sync_notebooks(tmp_path) == [], "a second sync must change nothing"
    py.write_text(py.read_text().replace("x = 1", "x = 2") + "\n# %%\ny = 3\n")
    os.utime(py, (ipynb.stat().st_mtime + 5,) * 2)
    assert sync_notebooks(tmp_path) == [ipynb]
    nb = nbformat.read(ipynb, as_version=4)
    assert [c.id for c in nb.cells[:3]] == ["c00", "c01", "c02"], "ids of kept cells changed"
    assert nb.cells[2].source == "x = 2\nprint(x)" and nb.cells[3].source == "y = 3"
    assert _cells(jupytext.read(py)) == _cells(nb)


def test_sync_strips_outputs_and_takes_a_newer_notebook(tmp_path):
    import jupytext

    ipynb, py = _pair(tmp_path)
    sync_notebooks(tmp_path)
    nb = nbformat.read(ipynb, as_version=4)
    nb.cells[2].source = "x = 5\nprint(x)"  # edited and run in JupyterLab without pairing
    nb.cells[2].outputs = [new_output("stream", name="stdout", text="5\n")]
    nb.cells[2].execution_count = 1
    nbformat.write(nb, str(ipynb))
    os.utime(ipynb, (py.stat().st_mtime + 5,) * 2)
    assert sorted(sync_notebooks(tmp_path)) == sorted([ipynb, py])
    stored = nbformat.read(ipynb, as_version=4)
    assert stored.cells[2].outputs == [] and stored.cells[2].execution_count is None
    assert "x = 5" in py.read_text()
    assert _cells(jupytext.read(py)) == _cells(stored)


def test_jupyterlab_save_writes_both_halves(tmp_path):
    """JupyterLab's jupytext contents manager pairs an edit into the script."""
    from jupyter_server.services.contents.largefilemanager import LargeFileManager
    from jupytext.sync_contentsmanager import build_sync_jupytext_contents_manager_class

    src = NOTEBOOKS[0]
    for f in (src, src.with_suffix(".py"), src.parent / "jupytext.toml"):
        shutil.copy(f, tmp_path)
    manager = build_sync_jupytext_contents_manager_class(LargeFileManager)(
        root_dir=str(tmp_path))
    nb = manager.get(src.name)["content"]
    [c for c in nb.cells if c.cell_type == "code"][-1].source += "\nprint('edited in lab')"
    manager.save({"type": "notebook", "content": nb}, src.name)
    assert "print('edited in lab')" in (tmp_path / f"{src.stem}.py").read_text()
    assert sync_notebooks(tmp_path) == [], "a JupyterLab save left the pair out of sync"


def test_cli_sync(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _, py = _pair(folder)
    monkeypatch.chdir(tmp_path)  # found from the working directory
    assert main(["notebooks", "--sync"]) == 0
    assert "1 file(s) written: 00_toy.py" in capsys.readouterr().out
    assert py.exists()


# --------------------------------------------------------------------------- paths
def test_paths_default_to_ignored_folders_from_any_cwd(monkeypatch):
    expected = workflow.NotebookPaths(*(REPO_ROOT / "out" / "quick" / k
                                        for k in ("data", "runs", "figures", "results")))
    for cwd in (REPO_ROOT, REPO_ROOT / "notebooks", Path("/")):
        monkeypatch.chdir(cwd)
        assert workflow.paths("quick") == expected
    ignored = subprocess.run(["git", "check-ignore", "-q", "out/quick/figures/x.png"],
                             cwd=REPO_ROOT, check=False)
    if (REPO_ROOT / ".git").exists():
        assert ignored.returncode == 0, "out/ is not git-ignored"


def test_paths_publish_explicit_and_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pub = workflow.paths("quick", publish=True)
    assert (pub.figures, pub.results) == (REPO_ROOT / "figures", REPO_ROOT / "results")
    assert pub.runs == REPO_ROOT / "out" / "quick" / "runs"
    mine = workflow.paths("smoke", str(tmp_path / "d"), "rel/runs", figures_dir=tmp_path)
    assert mine.data == tmp_path / "d" and mine.figures == tmp_path
    assert mine.runs == REPO_ROOT / "rel" / "runs", "relative paths are from the repo root"
    assert workflow.paths("smoke", root=tmp_path / "o").results == tmp_path / "o" / "results"
    with pytest.raises(InputError, match="unknown profile 'huge'"):
        workflow.paths("huge")


def test_repo_root_from_cwd_when_package_is_installed_elsewhere(tmp_path, monkeypatch):
    from cellshapes.repro import paths as paths_module

    fake = tmp_path / "site-packages" / "cellshapes" / "repro" / "paths.py"
    monkeypatch.setattr(paths_module, "__file__", str(fake))
    monkeypatch.chdir(REPO_ROOT / "notebooks")
    assert workflow.repo_root() == REPO_ROOT
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="cannot find the cellshapes repository"):
        workflow.paths("smoke")


def test_figure_path_has_no_cwd_default(tmp_path):
    assert workflow.figure_path("00_x", "y", tmp_path / "f") == tmp_path / "f" / "00_x_y.png"
    assert (tmp_path / "f").is_dir()
    with pytest.raises(TypeError):
        workflow.figure_path("00_x", "y")  # pylint: disable=no-value-for-parameter


# ----------------------------------------------------------------------- execution
@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Data and runs shared by all notebooks of the session (as the runner shares them)."""
    return tmp_path_factory.mktemp("nb_shared")


#: Notebooks the fast suite executes; the others run under ``pytest -m slow`` (CI runs both).
FAST_NOTEBOOKS = ("00_quickstart",)


@pytest.mark.parametrize("path", [p if p.stem in FAST_NOTEBOOKS else
                                  pytest.param(p, marks=pytest.mark.slow)
                                  for p in NOTEBOOKS], ids=_ids)
def test_executes_at_smoke(path, tmp_path, shared, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    params = {**notebook_parameters("smoke", tmp_path, "cpu"),
              "data_dir": str(shared / "data"), "runs_dir": str(shared / "runs")}
    out = tmp_path / path.name
    before = path.read_bytes()
    cwd = tmp_path / "cwd"  # nothing may be written relative to the working directory
    cwd.mkdir()
    pm.execute_notebook(str(path), str(out), parameters=params, kernel_name="python3",
                        cwd=str(cwd), progress_bar=False)
    assert sorted(p.name for p in cwd.iterdir()) == [], "wrote into the working directory"
    nb = nbformat.read(out, as_version=4)
    assert _image_outputs(nb) >= 1, "no image output"
    number = path.stem.split("_")[0]
    figures = sorted((tmp_path / "figures").glob(f"{number}_*.png"))
    assert figures, f"no figures/{number}_*.png written"
    assert path.read_bytes() == before, "the source notebook was modified"
    assert "IProgress not found" not in out.read_text()
    if "write_claims" in path.read_text(encoding="utf-8"):
        doc = read_results(tmp_path / "results" / f"{path.stem}.json")
        assert doc["profile"] == "smoke" and doc["notebook"] == path.stem and doc["claims"]
        for c in doc["claims"]:  # each record is the verdict rule's on its own arms
            again = rejudge(c)
            assert {k: again[k] for k in ("verdict", "reason", "test")} == {
                k: c[k] for k in ("verdict", "reason", "test")}, c["claim"]
            assert again["per_seed"] == pytest.approx(c["per_seed"], nan_ok=True)


def test_written_verdicts_follow_the_rule_on_constructed_values(tmp_path):
    """What a notebook writes (workflow.write_claims of stats.claim_record) on values whose
    verdict is known: a clear gain over 3 seeds is reproduced, a clear loss contradicted,
    one seed not settled; a verdict edited by hand in the file is caught as stale."""
    gain, same = [0.90, 0.92, 0.91], [0.80, 0.81, 0.79]
    claims = [claim_record("a beats b", "-", gain, same, "greater"),
              claim_record("b beats a", "-", same, gain, "greater"),
              claim_record("a beats b, one seed", "-", gain[:1], same[:1], "greater")]
    workflow.write_claims("99_test", "study", [0, 1, 2], claims[:2], tmp_path)
    workflow.write_claims("98_test", "smoke", [0], claims[2:], tmp_path)
    files = sorted(tmp_path.glob("*.json"))
    verdicts = {c["claim"]: c["verdict"] for f in files for c in read_results(f)["claims"]}
    assert verdicts == {"a beats b": "reproduced", "b beats a": "contradicted",
                        "a beats b, one seed": "not settled"}
    assert stale_verdicts(files) == []
    path = tmp_path / "99_test.json"
    path.write_text(path.read_text().replace('"contradicted"', '"reproduced"'))
    (line,) = stale_verdicts(files)
    assert "b beats a" in line and "stored 'reproduced'" in line


def _claims(path):
    return [{k: c[k] for k in ("claim", "per_seed", "mean", "arms")}
            for c in read_results(path)["claims"]]


@pytest.mark.slow
def test_rerun_from_scratch_reproduces_the_results_file(tmp_path, monkeypatch):
    """Same seeds, same machine, nothing cached: the same numbers in results/NN.json."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    docs = []
    for name in ("a", "b"):
        res = run_notebooks("smoke", out=tmp_path / name, only="08", device="cpu",
                            progress=False)
        assert res[0]["ok"], res[0]["error"]
        docs.append(_claims(tmp_path / name / "results" / "08_omega_sweep.json"))
    assert docs[0] == docs[1]


def test_cuda_parameter_on_a_cpu_machine_fails_in_the_first_cell(tmp_path):
    import papermill as pm
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    src = REPO_ROOT / "notebooks" / "00_quickstart.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(src), str(tmp_path / "x.ipynb"), kernel_name="python3",
                            parameters={"device": "cuda", "runs_dir": str(tmp_path / "r"),
                                        "data_dir": str(tmp_path / "d"),
                                        "figures_dir": str(tmp_path / "f")},
                            cwd=str(src.parent), progress_bar=False)
    assert info.value.evalue == ("device='cuda' but CUDA is not available; set the notebook "
                                 "parameter device='cpu' or 'auto'")
    nb = nbformat.read(tmp_path / "x.ipynb", as_version=4)
    ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count]
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    # parameters, injected parameters, then the check: nothing after it ran
    assert ran == code[:3]
    assert not (tmp_path / "d").exists()


def _clean_copy(dest: Path) -> Path:
    """The repository's tracked and unignored files, committed in a fresh git repo."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO_ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO_ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], cwd=dest, check=True)
    return dest


def _status(repo: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                          cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_defaults_leave_a_clean_clone_clean(tmp_path, tmp_path_factory):
    """``papermill notebooks/00_quickstart.ipynb OUT`` from the root and from notebooks/.

    Slow (two kernels, one smoke training: ~40 s of CPU, minutes on a loaded machine);
    the fast checks of the same contract: :func:`test_executes_at_smoke` (nothing written
    to the working directory) and the ``workflow.paths`` tests (defaults ignored, the same
    from any working directory).
    """
    if not (REPO_ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    clone = _clean_copy(tmp_path / "clone")
    outside = tmp_path_factory.mktemp("executed")
    env = {**os.environ, "PYTHONPATH": str(clone), "OMP_NUM_THREADS": "1"}
    runs = [(clone, "notebooks/00_quickstart.ipynb", outside / "from_root.ipynb"),
            (clone / "notebooks", "00_quickstart.ipynb", outside / "from_notebooks.ipynb")]
    for cwd, src, out in runs:
        proc = subprocess.run([sys.executable, "-m", "papermill", src, str(out),
                               "--no-progress-bar"], cwd=cwd, env=env, capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert _status(clone) == "", f"papermill from {cwd} changed the clone"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["clone"], \
            f"papermill from {cwd} wrote beside the clone"
    figures = clone / "out" / "smoke" / "figures"
    assert sorted(p.name for p in figures.glob("00_quickstart_*.png"))
    first = (outside / "from_root.ipynb").read_text()
    assert "IProgress not found" not in first
    assert "application/vnd.jupyter.widget-view+json" in first, "no tqdm widget rendered"
    assert f"figures go to {figures}" in first


# ------------------------------------------------------------------------- the runner
def _toy(folder, name, source):
    nb = new_notebook(cells=[new_code_cell('profile = "smoke"\nfigures_dir = "."',
                                           metadata={"tags": ["parameters"]}),
                             new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(folder / name))


@pytest.fixture()
def toys(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    _toy(src, "00_ok.ipynb", "from pathlib import Path\n"
                             "Path(figures_dir).mkdir(parents=True, exist_ok=True)\n"
                             "(Path(figures_dir) / '00_ok_x.png').write_bytes(b'')\n"
                             "print(profile)")
    _toy(src, "01_bad.ipynb", "raise ValueError('broken on purpose')\n# second line")
    return src


def test_runner_reports_failures_progress_and_keeps_sources_clean(toys, tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = {p.name: p.read_bytes() for p in toys.iterdir()}
    res = run_notebooks("smoke", out=tmp_path / "out", notebooks_dir=toys)
    captured = capsys.readouterr()
    text, err = captured.out, captured.err
    assert [r["name"] for r in res] == ["00_ok", "01_bad"]
    assert res[0]["ok"] and not res[1]["ok"]
    assert res[1]["error"] == "ValueError: broken on purpose"
    assert "[1/2] 00_ok" in text and "ok" in text
    assert "[2/2] 01_bad" in text and "FAILED  ValueError: broken on purpose" in text
    assert "1 failed: 01_bad" in text
    # parameters, injected parameters, the cell: one line each while the notebook runs
    lines = [ln.split(",")[0].strip() for ln in err.splitlines() if ": cell " in ln]
    assert lines == ["00_ok: cell 1/3", "00_ok: cell 2/3", "00_ok: cell 3/3",
                     "01_bad: cell 1/3", "01_bad: cell 2/3", "01_bad: cell 3/3"]
    assert (tmp_path / "out" / "notebooks" / "00_ok.ipynb").exists()
    assert (tmp_path / "out" / "figures" / "00_ok_x.png").exists()
    assert {p.name: p.read_bytes() for p in toys.iterdir()} == before
    executed = nbformat.read(tmp_path / "out" / "notebooks" / "00_ok.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == "smoke"


def test_runner_quiet_prints_nothing(toys, tmp_path, capsys):
    run_notebooks("smoke", out=tmp_path / "out", notebooks_dir=toys, only="00",
                  progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and ": cell " not in captured.err


def test_runner_only_selection(toys, tmp_path):
    assert [p.name for p in find_notebooks(toys, "1")] == ["01_bad.ipynb"]
    assert [p.name for p in find_notebooks(toys, ["ok", "01_bad.ipynb"])] == \
        ["00_ok.ipynb", "01_bad.ipynb"]
    with pytest.raises(InputError, match="no notebook matches 'nope'"):
        find_notebooks(toys, "00,nope")
    with pytest.raises(InputError, match="notebooks folder"):
        run_notebooks("smoke", out=toys, notebooks_dir=toys)
    books = tmp_path / "repo" / "notebooks"
    books.mkdir(parents=True)
    _toy(books, "00_a.ipynb", "pass")
    with pytest.raises(InputError, match="notebooks folder"):  # out/notebooks = the sources
        run_notebooks("smoke", out=books.parent, notebooks_dir=books)


def test_runner_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="ship with the source repository"):
        find_notebooks(tmp_path / "nowhere")


def test_notebooks_folder_from_argument_environment_or_working_directory(toys, tmp_path,
                                                                          monkeypatch):
    """No source checkout is assumed: an installed package finds the clone's notebooks
    from an argument, the environment, or the working directory, else says how."""
    import cellshapes.repro.notebooks as runner

    monkeypatch.setattr(runner, "__file__", str(tmp_path / "site" / "cellshapes" / "repro"
                                                  / "notebooks.py"))  # an installed wheel
    monkeypatch.delenv(NOTEBOOKS_ENV, raising=False)
    clone = tmp_path / "clone"
    (clone / "sub").mkdir(parents=True)
    toys.rename(clone / "notebooks")
    assert notebooks_folder(clone / "notebooks") == (clone / "notebooks").resolve()
    monkeypatch.chdir(clone / "sub")
    assert notebooks_folder() == (clone / "notebooks").resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=NOTEBOOKS_ENV):
        notebooks_folder()
    monkeypatch.setenv(NOTEBOOKS_ENV, str(clone / "notebooks"))
    assert [p.name for p in find_notebooks()] == ["00_ok.ipynb", "01_bad.ipynb"]
    monkeypatch.setenv(NOTEBOOKS_ENV, str(tmp_path))
    with pytest.raises(InputError, match="no notebooks found in"):
        notebooks_folder()


def test_parameters_per_profile(tmp_path):
    smoke = notebook_parameters("smoke", tmp_path)
    assert {k: smoke[k] for k in PATH_PARAMETERS} == {
        k: str(tmp_path.resolve() / k.removesuffix("_dir")) for k in PATH_PARAMETERS}
    default = notebook_parameters("quick", device="cpu")
    assert default["figures_dir"] == str(REPO_ROOT / "out" / "quick" / "figures")
    assert default["device"] == "cpu" and default["profile"] == "quick"
    published = notebook_parameters("quick", tmp_path, publish=True)
    assert published["figures_dir"] == str(REPO_ROOT / "figures")
    assert published["results_dir"] == str(REPO_ROOT / "results")
    assert published["runs_dir"] == str(tmp_path.resolve() / "runs")
    with pytest.raises(InputError, match="unknown profile"):
        notebook_parameters("huge", tmp_path)
    with pytest.raises(InputError, match="--publish with profile smoke"):
        notebook_parameters("smoke", tmp_path, publish=True)


def test_cli_exit_codes(toys, tmp_path, capsys, monkeypatch):
    assert main(["notebooks", "--only", "99", "--out", str(tmp_path / "o")]) == 2
    assert "no notebook matches '99'" in capsys.readouterr().err
    assert main(["notebooks", "--publish", "--out", str(tmp_path / "o")]) == 2
    assert "--publish with profile smoke" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert main(["notebooks", "--device", "cuda", "--out", str(tmp_path / "o")]) == 2
        assert capsys.readouterr().err.strip() == (
            "cellshapes: error: device='cuda' but CUDA is not available; "
            "use --device cpu or --device auto")
    toys.rename(toys.parent / "notebooks")
    monkeypatch.setenv(NOTEBOOKS_ENV, str(toys.parent / "notebooks"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert main(["notebooks", "--only", "01", "-q", "--out", str(tmp_path / "o")]) == 1
    assert main(["notebooks", "--only", "00", "-q", "--out", str(tmp_path / "o")]) == 0
    executed = sorted(p.name for p in (tmp_path / "o" / "notebooks").iterdir())
    assert executed == ["00_ok.ipynb", "01_bad.ipynb"]


def test_setup_checks_first_and_returns_the_preset(tmp_path, capsys, monkeypatch):
    nb = workflow.setup("08_omega_sweep", "smoke", "cpu", 3, data_dir=tmp_path / "d",
                        runs_dir=tmp_path / "r", figures_dir=tmp_path / "f",
                        results_dir=tmp_path / "x")
    assert nb.dirs == ((tmp_path / "d").resolve(), (tmp_path / "r").resolve(),
                       (tmp_path / "f").resolve(), (tmp_path / "x").resolve())
    assert nb.seeds == [3] and nb.settings.omegas == (1, 10, 20, 30, 40, 60)
    assert nb.figure("render") == (tmp_path / "f").resolve() / "08_omega_sweep_render.png"
    assert "08_omega_sweep at smoke: device cpu" in capsys.readouterr().out
    from cellshapes.repro import presets

    monkeypatch.setitem(presets.NOTEBOOK_PRESETS, "10_classification",
                        {"smoke": {}, "quick": {}})  # a notebook without a study preset
    with pytest.raises(InputError, match="no 'study' preset"):
        workflow.setup("10_classification", "study", "cpu", verbose=False)
    with pytest.raises(InputError, match="unknown profile"):
        workflow.setup("00_quickstart", "huge", "cpu", verbose=False)
