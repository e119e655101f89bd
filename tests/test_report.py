"""The README results table: generated from results files, checked against README.md."""
from __future__ import annotations

import pytest

from cellshapes.cli import main
from cellshapes.errors import InputError
from cellshapes.repro import results as stats_results
from cellshapes.repro import stats
from cellshapes.repro.notebooks import REPO_ROOT
from cellshapes.repro.report import BEGIN, END, readme_with_table, results_table


def _write(folder, name="08_omega_sweep", a=(0.5, 0.6, 0.7), b=(0.4, 0.5, 0.6)):
    claim = stats.claim_record("w0 = 10 rounder than w0 = 30", "yes (Fig 11b)", list(a),
                               list(b), "greater", labels=("w0=10", "w0=30"))
    return stats_results.write_results(folder / f"{name}.json", name, "study", [0, 1, 2], [claim])


def test_table_rows_come_from_the_files(tmp_path):
    f = _write(tmp_path)
    table = results_table([f]).splitlines()
    assert len(table) == 3  # header, rule, one claim
    row = table[2]
    assert row.startswith("| 08_omega_sweep | w0 = 10 rounder than w0 = 30 | yes (Fig 11b) |")
    assert "0.1 +- 0 (0.1, 0.1, 0.1)" in row and "| reproduced |" in row
    assert row.endswith("| study, seeds 0,1,2 |")
    assert results_table([]) .startswith("No results files yet")


def test_readme_markers_replace_only_the_block():
    text = f"intro\n{BEGIN}\nold table\n{END}\noutro\n"
    assert readme_with_table(text, "NEW") == f"intro\n{BEGIN}\nNEW\n{END}\noutro\n"
    with pytest.raises(InputError, match="exactly one"):
        readme_with_table("no markers", "NEW")
    with pytest.raises(InputError, match="exactly one"):
        readme_with_table(f"{END}\n{BEGIN}\n", "NEW")


def test_cli_check_update_and_bad_input(tmp_path, capsys):
    res = tmp_path / "results"
    res.mkdir()
    _write(res)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{BEGIN}\nstale\n{END}\n")
    args = ["results", "--dir", str(res), "--readme", str(readme)]
    assert main([*args, "--check"]) == 1
    assert "stale" in readme.read_text()  # --check never writes
    assert main(args) == 0
    assert "| reproduced |" in readme.read_text()
    assert main([*args, "--check"]) == 0
    # a claim changes: the check fails again
    _write(res, a=(0.3, 0.6, 0.7))
    assert main([*args, "--check"]) == 1
    capsys.readouterr()
    assert main(["results", "--dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cellshapes: error:")
    (res / "09_bad.json").write_text("{}")
    assert main(["results", "--dir", str(res)]) == 2


def test_repository_readme_matches_its_results_files():
    files = sorted((REPO_ROOT / "results").glob("[0-9][0-9]_*.json"))
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_table(readme, results_table(files)) == readme, (
        "README results table is stale: run `cellshapes results --readme README.md`")
