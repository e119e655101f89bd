"""The paper's numbers (cellshapes.repro.paper): one module, read by every notebook."""
from __future__ import annotations

from pathlib import Path

from cellshapes.repro import paper

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_reported_text_and_ks_words():
    assert paper.DSC_FILO.text() == "0.950 +- 0.007"
    assert paper.DSC_PLAT.text("±") == "0.958 ± 0.012"
    assert paper.Reported(0.5).text() == "0.500"  # no spread where the paper gives none
    assert paper.ks_words("dividing") == "0.077 / 0.472 / < 0.001"


def test_markdown_table_holds_every_number():
    table = paper.markdown_table()
    for value in (paper.DSC_PLAT, paper.DSC_FILO, paper.DSC_DEEPSDF_2000,
                  paper.DSC_DEEPSDF_4000, paper.TEMPORAL_LOWEST_DSC,
                  *paper.SPHERICITY_FILO.values()):
        assert value.text() in table
    for arm in paper.TAB2_DSC.values():
        assert all(f"{v:.3f}" in table for v in arm.values())
    assert "99.9 % / 61.2 %" in table and "168.5k" in table


def _code_lines(path: Path) -> list[str]:
    """The code of a percent script without comments and markdown cells."""
    out, markdown = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            markdown = "[markdown]" in line
            continue
        if not markdown and not line.lstrip().startswith("#"):
            out.append(line.split("  #")[0])
    return out


def test_notebooks_take_the_papers_numbers_from_the_module():
    numbers = {paper.DSC_PLAT.text(), paper.DSC_FILO.text(), paper.DSC_DEEPSDF_2000.text(),
               paper.DSC_DEEPSDF_4000.text(), paper.TEMPORAL_LOWEST_DSC.text(),
               *(v.text() for v in paper.SPHERICITY_FILO.values()), "0.958", "0.959",
               "0.634", "0.472", "99.9"}
    scripts = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    assert scripts
    for script in scripts:
        code = "\n".join(_code_lines(script))
        found = sorted(n for n in numbers if n in code)
        assert not found, f"{script.name} writes the paper's {found} itself"
