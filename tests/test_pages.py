"""The notebooks' documentation pages (cellshapes.repro.pages): made from the notebook's
script, results file and figures, with nothing typed by hand."""
from __future__ import annotations

import pytest

from cellshapes.errors import InputError
from cellshapes.repro import results as stats_results
from cellshapes.repro import stats
from cellshapes.repro.pages import claims_markdown, notebook_page


def _write(folder, name="08_omega_sweep", a=(0.5, 0.6, 0.7), b=(0.4, 0.5, 0.6)):
    claim = stats.claim_record("w0 = 10 rounder than w0 = 30", "yes (Fig 11b)", list(a),
                               list(b), "greater", labels=("w0=10", "w0=30"))
    return stats_results.write_results(folder / f"{name}.json", name, "study", [0, 1, 2],
                                       [claim])


def test_notebook_page_is_made_from_the_files(tmp_path):
    script = tmp_path / "08_omega_sweep.py"
    script.write_text("# ---\n# jupyter: x\n# ---\n\n# %% [markdown]\n# # 08 · w0 sweep\n#\n"
                      "# **Claim:** rounder, by :func:`~cellshapes.repro.stats.claim_record`.\n\n"
                      "# %%\nx = 1\n\n# %% [markdown]\n# later\n")
    f = _write(tmp_path)
    page = notebook_page(script, f, ["../figures/08_omega_sweep_a.png"]).splitlines()
    assert page[:3] == ["# 08 · w0 sweep", "",
                        "**Claim:** rounder, by `cellshapes.repro.stats.claim_record`."]
    assert "later" not in page and "x = 1" not in page
    table = claims_markdown(stats_results.read_results(f)).splitlines()
    assert table[0].startswith("| claim | paper | per seed (0, 1, 2) |")
    assert table[2].startswith("| w0 = 10 rounder than w0 = 30 | yes (Fig 11b) | 0.1, 0.1, 0.1 |")
    assert table[2].endswith("| **reproduced** |")
    assert all(line in page for line in table)
    assert "![08_omega_sweep_a.png](../figures/08_omega_sweep_a.png)" in page
    no_claims = notebook_page(script, None, [])
    assert "states no claim" in no_claims and "No committed figure." in no_claims
    script.write_text("# %%\nx = 1\n")
    with pytest.raises(InputError, match="title"):
        notebook_page(script, None, [])
