"""The divergence guard of training (training/divergence.py): the rule on known loss
sequences, the restore on a toy model, and a real run whose learning rate jumps 30x."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cellshapes.training.divergence import (FACTOR, LR_FACTOR, MAX_RESTORES, MIN_EPOCHS,
                                            SMOOTH, DivergenceGuard, count_divergences,
                                            diverged)
from cellshapes.training.step import TrainingDivergedError


def _falling(n: int) -> list[float]:
    return [1.0 / (1 + 0.1 * i) for i in range(n)]


def test_rule_on_known_sequences():
    base = _falling(30)
    assert not any(diverged(base[:i]) for i in range(1, 31))
    best = min(base)
    # one noisy epoch 3x above the best: the mean of SMOOTH epochs stays below FACTOR x
    assert not diverged(base + [3 * best])
    # a jump that stays: diverged once SMOOTH epochs are up
    jump = base + [2.2 * best] * SMOOTH
    assert diverged(jump) and not diverged(jump[:-1])
    assert not diverged(jump, since=len(jump) - 1)   # too few epochs since the restore
    assert not diverged([5.0] * MIN_EPOCHS)          # the rule waits for MIN_EPOCHS
    assert count_divergences(jump + [2.2 * best] * SMOOTH) == (2, len(jump) + SMOOTH)


def test_guard_restores_the_best_state_and_lowers_the_lr(tmp_path):
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters())
    guard = DivergenceGuard(model, opt, tmp_path)
    losses, scale = [], 1.0
    states = {}
    for epoch, loss in enumerate(_falling(20) + [2.2 * _falling(20)[-1]] * SMOOTH, start=1):
        states[epoch] = model.weight.detach().clone()  # the state this epoch starts from
        with torch.no_grad():
            model.weight += 1.0  # "training" moves the weights every epoch
        losses.append(loss)  # the epoch's loss, measured on its way
        scale = guard.check(epoch, losses, scale)
        if scale != 1.0:
            break
    assert scale == LR_FACTOR and epoch == 20 + SMOOTH
    assert torch.equal(model.weight, states[20])  # epoch 20 had the lowest loss
    record = json.loads((tmp_path / "divergence.json").read_text())
    assert "restore" in record["rule"] and record["events"][0]["restored_epoch"] == 20
    assert record["events"][0]["epoch"] == 20 + SMOOTH


def test_a_run_that_keeps_diverging_stops_with_one_line(tmp_path):
    model = torch.nn.Linear(2, 1)
    guard = DivergenceGuard(model, torch.optim.Adam(model.parameters()), tmp_path)
    losses, scale = [], 1.0
    with pytest.raises(TrainingDivergedError) as err:
        for epoch, loss in enumerate(_falling(20) + [10.0] * 100, start=1):
            losses.append(loss)
            scale = guard.check(epoch, losses, scale)
    assert len(str(err.value).splitlines()) == 1 and "lower --lr" in str(err.value)
    assert guard.restores == MAX_RESTORES + 1


def _video(t: int = 4) -> np.ndarray:
    zz, yy, xx = np.mgrid[:40, :40, :40]
    lab = np.zeros((t, 40, 40, 40), np.uint16)
    for k in range(t):
        lab[k][((zz - 12) / (1 + .1 * k)) ** 2 / 36 + (yy - 12) ** 2 / 25
               + (xx - 11 - k) ** 2 / 16 <= 1] = 1
        lab[k][((zz - 28) / (1 + .1 * k)) ** 2 / 25 + (yy - 26) ** 2 / 36
               + (xx - 26 + k) ** 2 / 25 <= 1] = 2
    return lab


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from cellshapes.io import write_tiff
    from cellshapes.prepare import prepare_dataset

    tmp = tmp_path_factory.mktemp("div")
    write_tiff(tmp / "v.tif", _video(), (1.0, 1.0, 1.0))
    prepare_dataset([tmp / "v.tif"], tmp / "d.h5", size=24, per_label=True, progress=False)
    return tmp / "d.h5"


def _jumping_run(dataset, out, guard: bool, monkeypatch):
    """60 smoke epochs at lr 3e-4 that jumps 30x at epoch 31 (lr_gamma=30, lr_step=30)."""
    from cellshapes.config import model_config, train_config
    from cellshapes.training import divergence, loop

    if not guard:
        monkeypatch.setattr(divergence, "diverged", lambda *a, **k: False)
    cfg = train_config("smoke", epochs=60, lr=3e-4, lr_step=30, lr_gamma=30.0,
                       checkpoint_every=20)
    hist = loop.train(dataset, out, model_config("smoke"), cfg, device="cpu", progress=False)
    return [r["loss"] for r in hist]


def test_a_learning_rate_that_blows_up_is_caught(dataset, tmp_path, monkeypatch, capsys):
    """Must show: the final epoch loss within 1.5x of the best, the restore recorded."""
    torch.set_num_threads(1)
    losses = _jumping_run(dataset, tmp_path / "run", True, monkeypatch)
    assert len(losses) == 60
    assert losses[-1] <= 1.5 * min(losses), (losses[-1], min(losses))
    events = json.loads((tmp_path / "run" / "divergence.json").read_text())["events"]
    assert events and events[0]["epoch"] > 30  # after the jump, not before
    assert "restored the state of epoch" in capsys.readouterr().err


@pytest.mark.slow
def test_without_the_guard_the_same_run_stays_diverged(dataset, tmp_path, monkeypatch):
    """The contrast: the same run with the rule switched off ends far above its best."""
    torch.set_num_threads(1)
    losses = _jumping_run(dataset, tmp_path / "run", False, monkeypatch)
    assert losses[-1] > FACTOR * min(losses)
    assert not (tmp_path / "run" / "divergence.json").exists()
