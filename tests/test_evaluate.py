"""Evaluation of a run against a dataset: DSC and descriptor KS tests."""
from __future__ import annotations

import json

from cellshapes.cli import main


def test_evaluate_cli_json(trained_run, ellipsoid_dataset, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["evaluate", str(trained_run), str(ellipsoid_dataset), "--json", str(out),
                 "-q"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(out.read_text())
    assert printed["dsc_mean"] == saved["dsc_mean"] > 0.9
    assert set(saved["ks"]) == {"volume_um3", "surface_um2", "sphericity"}
