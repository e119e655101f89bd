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


def test_evaluate_a_model_that_rebuilds_nothing(trained_run, ellipsoid_dataset, tmp_path):
    """An under-trained model may rebuild empty frames: DSC 0 there, named, no crash."""
    import shutil

    import torch

    from cellshapes.inference.evaluate import evaluate_run

    run = tmp_path / "empty_run"
    shutil.copytree(trained_run, run)
    for path in (run / "checkpoints").glob("*.pt"):
        state = torch.load(path, weights_only=True)
        state["model"]["decoder.out.bias"] += 1e3  # positive everywhere: no inside
        torch.save(state, path)
    report = evaluate_run(run, ellipsoid_dataset, device="cpu", progress=False)
    assert report["dsc_mean"] == 0.0
    n_frames = sum(len(v) for v in report["per_sequence"].values())
    assert len(report["empty_reconstructed_frames"]) == n_frames
    assert all(v != v for v in report["descriptors"]["reconstructed"].values())  # NaN
