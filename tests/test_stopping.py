"""Training to convergence: the plateau rule, its record in the run, exact resume."""
from __future__ import annotations

import json

import pytest

from cellshapes.config import model_config, train_config
from cellshapes.repro.runs import epochs_trained, run_is_complete, stopped_on_plateau
from cellshapes.training.loop import train
from cellshapes.training.stopping import plateau_epoch, plateau_reached


@pytest.mark.parametrize("losses,window,tol,stop", [
    ([1.0, 0.8, 0.6, 0.5, 0.4, 0.3], 2, 0.01, False),      # still improving
    ([1.0, 0.5, 0.5, 0.5, 0.5, 0.5], 2, 0.01, True),       # flat for 2 epochs
    ([1.0, 0.5, 0.5, 0.5, 0.5, 0.49], 2, 0.01, False),     # 2 % better than before: progress
    ([1.0, 0.5, 0.5, 0.5, 0.5, 0.49], 2, 0.05, True),      # 2 % < 5 %: plateau
    ([1.0, 0.5, 0.5], 2, 0.01, False),                     # too short a history
    ([1.0, 1.0, 1.0, 1.0], 0, 0.01, False),                # rule off
])
def test_plateau_rule(losses, window, tol, stop):
    assert plateau_reached(losses, window, tol) is stop


def test_plateau_epoch_applies_the_rule_afterwards():
    # n = 6: best before 7.0 (epoch 4), best of the last 2 is 7.0, not 1 % below
    assert plateau_epoch([10, 9, 8, 7, 7, 7, 7, 7], 2, 0.01) == 6
    assert plateau_epoch([1.0, 0.8, 0.6, 0.5, 0.4, 0.3], 2, 0.01) is None
    assert plateau_epoch([1.0, 1.0, 1.0, 1.0], 0, 0.01) is None


def test_training_stops_on_a_plateau_and_records_it(ellipsoid_dataset, tmp_path):
    out = tmp_path / "run"
    tcfg = train_config("smoke", epochs=300, seed=0, plateau_epochs=3, plateau_tol=0.5)
    history = train(ellipsoid_dataset, out, model_config("smoke"), tcfg, device="cpu",
                    progress=False, profile="smoke")
    record = json.loads((out / "converged.json").read_text())
    assert record["stopped_at_epoch"] == len(history) < 300
    assert record["cap_epochs"] == 300
    assert record["best_recent"] > 0.5 * record["best_before"]
    assert plateau_reached([r["loss"] for r in history], 3, 0.5)
    assert not plateau_reached([r["loss"] for r in history[:-1]], 3, 0.5)  # first epoch it holds
    assert plateau_epoch([r["loss"] for r in history], 3, 0.5) == len(history)
    assert run_is_complete(out)
    assert stopped_on_plateau(out) and epochs_trained(out) == len(history)
    log = (out / "log.csv").read_text()
    assert len(log.strip().splitlines()) - 1 == len(history)
    again = train(ellipsoid_dataset, out, device="cpu", resume=True, progress=False)
    assert len(again) == len(history) and (out / "log.csv").read_text() == log


def test_a_run_to_its_cap_did_not_stop_on_a_plateau(ellipsoid_dataset, tmp_path):
    out = tmp_path / "run"
    train(ellipsoid_dataset, out, model_config("smoke"), train_config("smoke", epochs=3, seed=0),
          device="cpu", progress=False, profile="smoke")
    assert epochs_trained(out) == 3 and not stopped_on_plateau(out)
