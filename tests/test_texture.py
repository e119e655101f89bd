"""Texture GAN: shapes, learning, checkpoints (weights only), resume, synthesis."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cellshapes.errors import DatasetFormatError, InputError, OutputExistsError
from cellshapes.phantoms import make_sequence
from cellshapes.synthesis.microscopy import simulate
from cellshapes.synthesis.texture import (PatchDiscriminator, UNetGenerator, condition,
                                          image_distances, load_texture_run, noise_field,
                                          synthesize, texture_config)
from cellshapes.synthesis.texture_train import train_texture
from cellshapes.training.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def pairs():
    out = []
    for i in range(2):
        m, meta = make_sequence("dividing", 4, 16, i)
        _, mip = simulate(m, meta["spacing_um"], seed=i)
        out.append({"name": f"s{i}", "image": mip, "masks": m})
    return out


def _cfg(**kw):
    return texture_config("smoke", **{"epochs": 2, "batch_size": 4, **kw})


def test_network_shapes():
    g, d = UNetGenerator(base=4, depth=2), PatchDiscriminator(base=4)
    x = torch.zeros(3, 4, 16, 16)
    y = g(x)
    assert y.shape == (3, 1, 16, 16) and y.abs().max() <= 1
    assert d(x, y).shape == (3, 1, 4, 4)


def test_condition_channels():
    m, _ = make_sequence("growing", 2, 16, 0)
    c = condition(m, noise_field((16, 16), 0))
    assert c.shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(c[:, 0] > 0, m.max(axis=1) > 0)
    assert c[:, 1].max() == pytest.approx(1.0)


def test_training_reduces_l1_and_beats_untrained(pairs, tmp_path):
    run = train_texture(pairs[:1], tmp_path / "run", _cfg(epochs=10), device="cpu",
                        progress=False)
    log = np.genfromtxt(run / "log.csv", delimiter=",", names=True)
    assert log["l1"][-1] < 0.8 * log["l1"][0]
    real = pairs[1]
    trained = image_distances(synthesize(run, real["masks"], device="cpu"), real["image"])
    untrained = image_distances(synthesize(run, real["masks"], device="cpu", untrained=True),
                                real["image"])
    assert trained["l1"] < untrained["l1"]


def test_checkpoint_round_trip_and_resume(pairs, tmp_path):
    run = train_texture(pairs[:1], tmp_path / "run", _cfg(epochs=2), device="cpu", progress=False)
    state = load_checkpoint(run)  # torch.load(weights_only=True) inside
    assert state["epoch"] == 2 and "disc" in state and "opt_g" in state
    g, config = load_texture_run(run, "cpu")
    for k, v in g.state_dict().items():
        torch.testing.assert_close(v, state["model"][k])
    with pytest.raises(OutputExistsError):
        train_texture(pairs, run, _cfg(), device="cpu", progress=False)
    train_texture(pairs[:1], run, _cfg(epochs=3), device="cpu", resume=True, progress=False)
    assert load_checkpoint(run)["epoch"] == 3
    lines = (run / "log.csv").read_text().strip().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == ["1", "2", "3"]
    img = synthesize(run, pairs[0]["masks"], device="cpu")
    assert img.shape == pairs[0]["image"].shape and img.dtype == np.float32
    np.testing.assert_array_equal(img, synthesize(run, pairs[0]["masks"], device="cpu"))
    # an unknown key (a typo, or a newer version's option) and a missing section are
    # clear errors (config.from_dict is strict)
    import json

    cfg_path = run / "config.json"
    config = json.loads(cfg_path.read_text())
    config["train"]["future_option"] = 1
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(DatasetFormatError, match="unknown key 'future_option'"):
        load_texture_run(run, "cpu")
    del config["train"]["future_option"], config["model"]
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(DatasetFormatError, match="model"):
        load_texture_run(run, "cpu")


def test_signal_stops_after_the_epoch_with_a_checkpoint(pairs, tmp_path, monkeypatch):
    import os
    import signal

    from cellshapes.synthesis import texture_train

    step, calls = texture_train._step, []

    def step_then_sigterm(*args):
        calls.append(1)
        if len(calls) == 1:  # during epoch 1 of 3 (checkpoints every 2)
            os.kill(os.getpid(), signal.SIGTERM)
        return step(*args)

    monkeypatch.setattr(texture_train, "_step", step_then_sigterm)
    run = train_texture(pairs[:1], tmp_path / "run", _cfg(epochs=3), device="cpu",
                        progress=False)
    assert load_checkpoint(run)["epoch"] == 1
    monkeypatch.setattr(texture_train, "_step", step)
    train_texture(pairs[:1], run, None, device="cpu", resume=True, progress=False)
    assert load_checkpoint(run)["epoch"] == 3
    lines = (run / "log.csv").read_text().strip().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == ["1", "2", "3"]


def test_bad_inputs(pairs, tmp_path):
    with pytest.raises(InputError):
        texture_config("smoke", colour=True)
    other = dict(pairs[0], image=pairs[0]["image"][:, :8], masks=pairs[0]["masks"][:, :, :8])
    with pytest.raises(InputError):
        train_texture([pairs[0], other], tmp_path / "r", _cfg(), device="cpu", progress=False)
    (tmp_path / "notarun").mkdir()
    (tmp_path / "notarun" / "config.json").write_text(
        '{"model": {}, "train": {}, "data": {"names": [], "frames": [], "size": 4}}')
    with pytest.raises(DatasetFormatError):
        load_texture_run(tmp_path / "notarun", "cpu")
