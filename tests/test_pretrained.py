"""cellshapes.pretrained: export, checksum-checked load, tamper refusal, reconstruction.

The registry tests export the session's smoke run into a temporary registry; the shipped
models (``cellshapes/pretrained/<name>/``) are checked one by one when present.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cellshapes import pretrained
from cellshapes.errors import CheckpointError, InputError

SHIPPED = sorted(pretrained.available())


@pytest.fixture()
def registry(trained_run, tmp_path, monkeypatch):
    """A temporary registry holding the smoke run as ``toy_smoke``."""
    root = tmp_path / "registry"
    pretrained.export(trained_run, "toy_smoke", "smoke run on ellipsoids",
                      "pytest fixture trained_run", root=root)
    monkeypatch.setattr(pretrained, "ROOT", root)
    return root


def test_export_keeps_weights_only_and_records_provenance(registry):
    dest = registry / "toy_smoke"
    meta = json.loads((dest / "model.json").read_text())
    assert meta["command"] == "pytest fixture trained_run" and meta["profile"] == "smoke"
    assert meta["seed"] == 0 and meta["size_bytes"] < 1_000_000
    state = torch.load(dest / "checkpoints" / "latest.pt", weights_only=True)
    assert set(state) == {"epoch", "model"}  # no optimiser, no RNG state
    assert json.loads((dest / "config.json").read_text())["command"] == meta["command"]
    assert pretrained.available() == {"toy_smoke": meta}


def test_load_checks_the_checksum(registry):
    assert pretrained.load("toy_smoke") == registry / "toy_smoke"
    ckpt = registry / "toy_smoke" / "checkpoints" / "latest.pt"
    data = bytearray(ckpt.read_bytes())
    data[-10] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        pretrained.load("toy_smoke")


def test_unknown_name_lists_the_available_ones(registry):
    with pytest.raises(InputError, match="toy_smoke"):
        pretrained.load("nope")


def test_reconstruct_from_pretrained_equals_original(registry, trained_run, tmp_path):
    from cellshapes.inference.reconstruct import reconstruct_run
    from cellshapes.io import read_dataset

    reconstruct_run(pretrained.load("toy_smoke"), tmp_path / "a", device="cpu", progress=False)
    reconstruct_run(trained_run, tmp_path / "b", device="cpu", progress=False)
    a, b = read_dataset(tmp_path / "a" / "sdf.h5"), read_dataset(tmp_path / "b" / "sdf.h5")
    assert [s.name for s in a] == [s.name for s in b]
    for x, y in zip(a, b):
        assert (x.sdf <= 0).any()
        np.testing.assert_array_equal(x.sdf, y.sdf)


def _profile_model(registry, name: str = "growing_smoke", **changes) -> None:
    """Export the toy run as ``name``, recorded as trained with the smoke profile's settings
    (changed by ``changes``): the fixture itself trained 150 epochs, not the profile's 20."""
    from cellshapes.config import to_dict, train_config

    pretrained.export(registry / "toy_smoke", name, "stand-in", "test", root=registry)
    path = registry / name / "config.json"
    config = json.loads(path.read_text())
    config["train"] = to_dict(train_config("smoke", seed=0, **changes))
    path.write_text(json.dumps(config))


def _recorder(trained):
    """A stand-in for workflow.train_or_load: records the folder it would train in."""
    from cellshapes.repro.spec import RunSpec

    def fake(dataset, runs_dir, profile, device, seed, progress=False, model=None,
             rebuild=False, **train):
        run = RunSpec.of(dataset, profile, seed, model, **train).dir(runs_dir)
        trained.append(run)
        return run
    return fake


def test_base_run_uses_a_matching_pretrained_model(registry, tmp_path):
    from cellshapes.repro.workflow import base_run

    _profile_model(registry)
    assert pretrained.train_settings("growing_smoke")["epochs"] == 20
    _, run, how = base_run("growing", tmp_path / "data", tmp_path / "runs", "smoke",
                           "cpu", seed=0, train=False)
    assert run == registry / "growing_smoke" and "pretrained" in how
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_base_run_matches_the_shipped_models_recorded_phantoms(registry, tmp_path,
                                                             monkeypatch):
    """A shipped model that learnt phantoms of data seed 3 serves data seed 3, not 0."""
    from cellshapes.repro import workflow

    _profile_model(registry)
    meta = registry / "growing_smoke" / "model.json"
    record = json.loads(meta.read_text())
    record["phantoms"] = {"generator_version": 2, "kind": "growing", "seed": 3}
    meta.write_text(json.dumps(record))
    trained = []
    monkeypatch.setattr(workflow, "train_or_load", _recorder(trained))
    _, run, how = workflow.base_run("growing", tmp_path / "data", tmp_path / "runs", "smoke",
                                    "cpu", seed=3, train_seed=0, train=False)
    assert run == registry / "growing_smoke" and how.startswith("pretrained") and not trained
    _, run0, how0 = workflow.base_run("growing", tmp_path / "data", tmp_path / "runs",
                                      "smoke", "cpu", seed=0, train=False)
    assert trained == [run0] and not how0.startswith("pretrained")


def test_base_run_uses_a_model_trained_before_a_field_was_added(registry, tmp_path):
    """A shipped model whose config lacks a field added since (so it trained with that
    field's default) still serves: only the settings it changed are compared."""
    from cellshapes.repro import workflow

    _profile_model(registry)
    path = registry / "growing_smoke" / "config.json"
    config = json.loads(path.read_text())
    del config["train"]["freeze_angles"]
    path.write_text(json.dumps(config))
    assert workflow.shipped_base_model("growing", "smoke", 0) == "growing_smoke"
    assert workflow.shipped_base_model("growing", "smoke", 0, train_seed=1) is None


@pytest.mark.skipif(not {"growing_study", "dividing_study", "filopodial_study"} <= set(SHIPPED),
                    reason="the shipped study models are not in this checkout")
@pytest.mark.parametrize("kind", ["growing", "dividing", "filopodial"])
def test_base_run_picks_the_shipped_study_models(kind):
    """The shipped models were trained before TrainConfig grew rotation-search fields; they
    must still be the study profile's base models (notebooks 02, 03, 05 use them)."""
    from cellshapes.repro.workflow import shipped_base_model

    assert shipped_base_model(kind, "study", seed=0) == f"{kind}_study"
    assert shipped_base_model(kind, "study", seed=0, train_seed=1) is None  # trained seed 0
    assert shipped_base_model(kind, "quick", seed=0) is None  # no quick model shipped


@pytest.mark.parametrize("changes", [dict(near_set="paper"), dict(epochs=21)])
def test_base_run_trains_instead_of_a_model_of_other_settings(registry, tmp_path, monkeypatch,
                                                              changes):
    """A shipped model made before a profile default changed (or with any other training
    setting) is not passed off as the profile's model."""
    from cellshapes.repro import workflow

    _profile_model(registry, **changes)
    trained = []
    monkeypatch.setattr(workflow, "train_or_load", _recorder(trained))
    _, run, how = workflow.base_run("growing", tmp_path / "data", tmp_path / "runs", "smoke",
                                    "cpu", seed=0, train=False)
    assert trained == [run] and "base settings, so trained" in how
    with pytest.raises(InputError, match="growing_smoke"):
        pretrained.train_settings("nope")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model(name, tmp_path):
    from cellshapes.inference.reconstruct import load_run

    run = pretrained.load(name)
    meta = pretrained.available()[name]
    assert (run / "checkpoints" / "latest.pt").stat().st_size < 1_000_000
    assert meta["command"] and meta["profile"] and meta["seed"] is not None
    model, config = load_run(run, "cpu")
    assert model.n_sequences == len(config["data"]["names"])


def test_at_least_one_model_per_kind_is_shipped():
    from cellshapes.phantoms import KINDS

    assert {n.rsplit("_", 1)[0] for n in SHIPPED} >= set(KINDS)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_learnt_todays_phantoms(name):
    """The run recorded the phantom generator it learnt; it is the current one."""
    from cellshapes.phantoms import GENERATOR_VERSION

    config = json.loads((pretrained.load(name) / "config.json").read_text())
    assert config["phantoms"]["generator_version"] == GENERATOR_VERSION
    assert config["phantoms"] == pretrained.available()[name]["phantoms"]
    assert config["phantoms"]["kind"] == name.rsplit("_", 1)[0]


def test_phantom_record_of_a_run_not_trained_on_phantoms(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    assert pretrained.phantom_record(config) is None
