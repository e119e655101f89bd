"""The numbered notebooks: stored clean, conventional parameters, and each runs at smoke.

Every ``notebooks/NN_*.ipynb`` present is picked up automatically. The execution test runs
each notebook with papermill at the ``smoke`` profile (its own output folder and
figures folder; the phantom data and trained runs are shared across notebooks, as they
are in ``cellshapes notebooks``) and checks that it showed at least one image and wrote at
least one ``NN_*.png``. The runner itself is tested on tiny throwaway notebooks.
"""
from __future__ import annotations

import ast
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cellshapes.cli import main
from cellshapes.errors import InputError
from cellshapes.repro.notebooks import REPO_ROOT, find_notebooks, notebook_parameters, run_notebooks

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PARAMETERS = {"profile", "device", "seed", "train", "data_dir", "runs_dir", "figures_dir"}


def _ids(path):
    return path.stem


def _image_outputs(nb) -> int:
    return sum("image/png" in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def _assigned_names(source: str) -> set[str]:
    return {t.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_clean_with_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cell"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "stored with outputs"
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), "first code cell not tagged"
    missing = PARAMETERS - _assigned_names(first.source)
    assert not missing, f"parameters cell lacks {sorted(missing)}"
    assert nb.cells[0].cell_type == "markdown", "first cell must state the claim"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Data and runs shared by all notebooks of the session (as the runner shares them)."""
    return tmp_path_factory.mktemp("nb_shared")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_executes_at_smoke(path, tmp_path, shared, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    params = {**notebook_parameters("smoke", tmp_path, "cpu"),
              "data_dir": str(shared / "data"), "runs_dir": str(shared / "runs")}
    out = tmp_path / path.name
    before = path.read_bytes()
    pm.execute_notebook(str(path), str(out), parameters=params, kernel_name="python3",
                        cwd=str(path.parent), progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    assert _image_outputs(nb) >= 1, "no image output"
    number = path.stem.split("_")[0]
    figures = sorted((tmp_path / "figures").glob(f"{number}_*.png"))
    assert figures, f"no figures/{number}_*.png written"
    assert path.read_bytes() == before, "the source notebook was modified"


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


def test_runner_reports_failures_and_keeps_sources_clean(toys, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = {p.name: p.read_bytes() for p in toys.iterdir()}
    res = run_notebooks("smoke", out=tmp_path / "out", notebooks_dir=toys)
    text = capsys.readouterr().out
    assert [r["name"] for r in res] == ["00_ok", "01_bad"]
    assert res[0]["ok"] and not res[1]["ok"]
    assert res[1]["error"] == "ValueError: broken on purpose"
    assert "[1/2] 00_ok" in text and "ok" in text
    assert "[2/2] 01_bad" in text and "FAILED  ValueError: broken on purpose" in text
    assert "1 failed: 01_bad" in text
    assert (tmp_path / "out" / "00_ok.ipynb").exists()
    assert (tmp_path / "out" / "figures" / "00_ok_x.png").exists()  # smoke: inside out
    assert {p.name: p.read_bytes() for p in toys.iterdir()} == before
    executed = nbformat.read(tmp_path / "out" / "00_ok.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == "smoke"


def test_runner_only_selection(toys, tmp_path):
    assert [p.name for p in find_notebooks(toys, "1")] == ["01_bad.ipynb"]
    assert [p.name for p in find_notebooks(toys, ["ok", "01_bad.ipynb"])] == \
        ["00_ok.ipynb", "01_bad.ipynb"]
    with pytest.raises(InputError, match="no notebook matches 'nope'"):
        find_notebooks(toys, "00,nope")
    with pytest.raises(InputError, match="notebooks folder"):
        run_notebooks("smoke", out=toys, notebooks_dir=toys)


def test_runner_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="ship with the source repository"):
        find_notebooks(tmp_path / "nowhere")


def test_parameters_per_profile(tmp_path):
    smoke = notebook_parameters("smoke", tmp_path)
    for key in ("data_dir", "runs_dir", "figures_dir"):
        assert smoke[key].startswith(str(tmp_path.resolve())) and os.path.isabs(smoke[key])
    quick = notebook_parameters("quick", tmp_path, "cpu")
    assert quick["figures_dir"] == str(REPO_ROOT / "figures")
    assert quick["device"] == "cpu" and quick["profile"] == "quick"
    with pytest.raises(InputError, match="unknown profile"):
        notebook_parameters("huge", tmp_path)


def test_cli_exit_codes(toys, tmp_path, capsys, monkeypatch):
    assert main(["notebooks", "--only", "99", "--out", str(tmp_path / "o")]) == 2
    assert "no notebook matches '99'" in capsys.readouterr().err
    monkeypatch.setattr("cellshapes.repro.notebooks.REPO_ROOT", toys.parent)
    toys.rename(toys.parent / "notebooks")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert main(["notebooks", "--only", "01", "--out", str(tmp_path / "o")]) == 1
    assert main(["notebooks", "--only", "00", "--out", str(tmp_path / "o")]) == 0
