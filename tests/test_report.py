"""The README results table: generated from results files, checked against README.md."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cellshapes.cli import main
from cellshapes.errors import InputError
from cellshapes.repro import results as stats_results
from cellshapes.repro import stats
from cellshapes.repro.report import (BEGIN, END, marked_documents, quoted_number,
                                     readme_with_numbers, readme_with_table, results_table,
                                     short_claim)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _write(folder, name="08_omega_sweep", a=(0.5, 0.6, 0.7), b=(0.4, 0.5, 0.6)):
    claim = stats.claim_record("w0 = 10 rounder than w0 = 30", "yes (Fig 11b)", list(a),
                               list(b), "greater", labels=("w0=10", "w0=30"))
    return stats_results.write_results(folder / f"{name}.json", name, "study", [0, 1, 2], [claim])


def test_table_rows_come_from_the_files(tmp_path):
    f = _write(tmp_path)
    table = results_table([f]).splitlines()
    assert table == ["| notebook | claims | reproduced | contradicted | not settled | "
                     "profile, seeds |", "|---|---:|---:|---:|---:|---|",
                     "| 08_omega_sweep | 1 | 1 | 0 | 0 | study, seeds 0,1,2 |"]
    g = _write(tmp_path, name="09_x", a=(0.1, 0.2, 0.3), b=(0.4, 0.5, 0.6))  # contradicted
    lines = results_table([f, g]).splitlines()
    assert lines[3] == "| 09_x | 1 | 0 | 1 | 0 | study, seeds 0,1,2 |"
    assert lines[-1] == "| 09 | w0 = 10 rounder than w0 = 30 | -0.3 | contradicted |"
    assert results_table([]) .startswith("No results files yet")


def test_claims_lose_only_their_trailing_details():
    assert short_claim("w0 = 40 brings no DSC gain over w0 = 30 (one-sided (margin 0.01), 300 "
                       "epochs)") == "w0 = 40 brings no DSC gain over w0 = 30"
    claim = "dividing (DS_Cele stand-in), sampler (gaussian): share >= 0.9 (9 of 10)"
    assert short_claim(claim) == "dividing (DS_Cele stand-in), sampler (gaussian): share >= 0.9"
    assert short_claim("short (kept)") == "short (kept)"  # nothing would be left
    assert short_claim("x" * 200) == "x" * 117 + "..."


def test_readme_markers_replace_only_the_block():
    text = f"intro\n{BEGIN}\nold table\n{END}\noutro\n"
    assert readme_with_table(text, "NEW") == f"intro\n{BEGIN}\nNEW\n{END}\noutro\n"
    with pytest.raises(InputError, match="exactly one"):
        readme_with_table("no markers", "NEW")
    with pytest.raises(InputError, match="exactly one"):
        readme_with_table(f"{END}\n{BEGIN}\n", "NEW")


def test_quoted_numbers_come_from_the_files(tmp_path):
    _write(tmp_path)
    assert quoted_number('08 1 arms.w0=10.per_seed range .2f', tmp_path) == "0.50-0.70"
    assert quoted_number('08_omega_sweep "rounder" arms.w0=30.per_seed list .1f',
                         tmp_path) == "0.4, 0.5, 0.6"
    assert quoted_number("08 1 verdict", tmp_path) == "reproduced"
    assert quoted_number("08 1 arms.1.per_seed .1f", tmp_path) == "0.4-0.6"  # second arm
    _write(tmp_path, name="07_x", a=(-0.3, -0.2, 0.1), b=(0.0, 0.0, 0.0))
    assert quoted_number("07 1 per_seed .1f", tmp_path) == "-0.3 to 0.1"
    # a '>' inside the marker (here a right-aligned format) does not end it
    assert readme_with_numbers('<!-- results 08 1 mean >6.2f -->x<!-- /results -->',
                               tmp_path).endswith("-->  0.10<!-- /results -->")
    assert quoted_number("08 1 mean .0%", tmp_path) == "10%"
    assert quoted_number("08 1 effect.ci min .3f", tmp_path) == "0.100"
    for bad, what in (("09 1 mean", "results files match"), ("08 2 mean", "has 1 claims"),
                      ('08 "no such" mean', "0 claims"), ("08 1 arms.nope", "no 'arms.nope'"),
                      ("08 1", "needs FILE"), ('08 "open mean', "marker")):
        with pytest.raises(InputError, match=what):
            quoted_number(bad, tmp_path)
    text = ("w0 = 10: <!-- results 08 1 arms.w0=10.per_seed range .2f -->9.99<!-- /results -->"
            " per seed.")
    assert readme_with_numbers(text, tmp_path) == text.replace("9.99", "0.50-0.70")
    with pytest.raises(InputError, match="no '<!-- /results -->'"):
        readme_with_numbers("<!-- results 08 1 mean -->0.1", tmp_path)


def _readme(tmp_path):
    """A results folder and a README generated from it (table and one quoted number)."""
    res = tmp_path / "results"
    res.mkdir()
    _write(res)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\nw0 = 10 reaches <!-- results 08 1 arms.w0=10.per_seed range .2f"
                      f" -->?<!-- /results --> per seed.\n{BEGIN}\n{END}\n")
    assert main(["results", "--dir", str(res), "--readme", str(readme)]) == 0
    return res, readme


def test_check_catches_a_verdict_edited_by_hand(tmp_path, monkeypatch):
    res, readme = _readme(tmp_path)
    monkeypatch.chdir(tmp_path)  # --check with no other option reads ./README.md
    assert main(["results", "--check"]) == 0
    text = readme.read_text()
    readme.write_text(text.replace("| reproduced |", "| not settled |"))
    assert main(["results", "--check"]) == 1


def test_check_catches_a_quoted_number_edited_by_hand(tmp_path, monkeypatch):
    res, readme = _readme(tmp_path)
    monkeypatch.chdir(tmp_path)
    text = readme.read_text()
    assert "-->0.50-0.70<!--" in text
    readme.write_text(text.replace("-->0.50-0.70<!--", "-->0.50-0.75<!--"))
    assert main(["results", "--check"]) == 1
    readme.write_text(text.replace("range .2f -->", "range .2f --> "))  # a broken marker
    assert main(["results", "--check"]) == 1
    readme.write_text(text)
    assert main(["results", "--check"]) == 0


def test_check_catches_a_verdict_of_an_older_rule(tmp_path, monkeypatch):
    """3 of 3 seeds a > b by a tiny, noisy amount: the old sign rule said reproduced; the
    file keeps that verdict until `--rejudge` applies the current rule."""
    res, readme = _readme(tmp_path)
    monkeypatch.chdir(tmp_path)
    f = _write(res, a=(0.41, 0.9, 0.62))
    doc = json.loads(f.read_text())
    doc["claims"][0]["verdict"] = "reproduced"
    f.write_text(json.dumps(doc))
    assert main(["results", "--readme", "README.md"]) == 0
    assert main(["results", "--check"]) == 1  # the table matches, the verdict is stale
    assert main(["results", "--rejudge", "--readme", "README.md"]) == 0
    assert json.loads(f.read_text())["claims"][0]["verdict"] == "not settled"
    assert "rejudged" in json.loads(f.read_text())
    assert main(["results", "--check"]) == 0


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


def test_repository_readme_matches_its_results_files(monkeypatch):
    files = sorted((REPO_ROOT / "results").glob("[0-9][0-9]_*.json"))
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_table(readme, results_table(files)) == readme, (
        "README results table is stale: run `cellshapes results --readme README.md`")
    assert readme_with_numbers(readme, REPO_ROOT / "results") == readme, (
        "a number quoted in the README differs from its results file: run "
        "`cellshapes results --readme README.md`")
    monkeypatch.chdir(REPO_ROOT)
    assert main(["results", "--check"]) == 0


def test_check_covers_the_numbers_quoted_in_docs_pages(tmp_path, monkeypatch):
    """A marked number in docs/*.md (or a page below docs/) is generated and checked like
    one in the README; pages under docs/_build or docs/_generated are the build's."""
    res, readme = _readme(tmp_path)
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "docs" / "results.md"
    page.parent.mkdir()
    page.write_text("w0 = 10: <!-- results 08 1 arms.w0=10.per_seed range .2f -->?"
                    "<!-- /results --> per seed, <!-- results 08 1 verdict -->?<!-- /results -->")
    (tmp_path / "docs" / "_build").mkdir()
    (tmp_path / "docs" / "_build" / "copy.md").write_text(page.read_text())
    assert main(["results", "--check"]) == 1  # the page is not generated yet
    assert main(["results", "--readme", "README.md"]) == 0
    assert page.read_text() == ("w0 = 10: <!-- results 08 1 arms.w0=10.per_seed range .2f -->"
                                "0.50-0.70<!-- /results --> per seed, <!-- results 08 1 "
                                "verdict -->reproduced<!-- /results -->")
    assert "?" in (tmp_path / "docs" / "_build" / "copy.md").read_text()  # not touched
    assert main(["results", "--check"]) == 0
    page.write_text(page.read_text().replace("-->reproduced<", "-->contradicted<"))
    assert main(["results", "--check"]) == 1
    ((p, text, generated),) = marked_documents(tmp_path, res)
    assert p == page and "contradicted" in text and "contradicted" not in generated
    page.write_text("<!-- results 08 7 mean -->0<!-- /results -->")  # no such claim
    with pytest.raises(InputError, match="results.md.*has 1 claims"):
        marked_documents(tmp_path, res)


def test_repository_docs_numbers_match_their_results_files():
    stale = [p.name for p, text, generated in marked_documents(REPO_ROOT, REPO_ROOT / "results")
             if text != generated]
    assert stale == [], "run `cellshapes results --readme README.md`"
