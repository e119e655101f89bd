"""The run specification (cellshapes.repro.spec): one record names and keys a run.

The must-show: adding a field with a default to TrainConfig (or ModelConfig) leaves the
folder and the key of an existing run unchanged, while changing a setting changes both.
"""
from __future__ import annotations

import dataclasses

import pytest

from cellshapes.config import ModelConfig, TrainConfig
from cellshapes.repro.runs import run_dir, run_key
from cellshapes.repro.spec import RunSpec, stored_overrides


@pytest.fixture()
def data(tmp_path):
    path = tmp_path / "filopodial_quick_n4_t4_s48_seed0_g2.h5"
    path.write_bytes(b"x")
    return path


def _with_extra_field(monkeypatch, cls, module_attr):
    """Replace ``cls`` where the config builders find it by a subclass with one more field."""
    import cellshapes.config.profiles as profiles

    extra = dataclasses.make_dataclass(cls.__name__, [("new_knob", int, 3)], bases=(cls,),
                                       frozen=cls.__dataclass_params__.frozen)
    monkeypatch.setattr(profiles, module_attr, extra)
    return extra


@pytest.mark.parametrize("cls, attr", [(TrainConfig, "TrainConfig"), (ModelConfig, "ModelConfig")])
def test_a_new_defaulted_field_changes_no_existing_key(monkeypatch, data, tmp_path, cls, attr):
    from cellshapes.config import to_dict, train_config

    args = (data, "quick", 1, {"omega0": 10.0})
    before_key, before_dir = run_key(*args, epochs=60), run_dir(tmp_path, *args, epochs=60)
    extra = _with_extra_field(monkeypatch, cls, attr)
    if cls is TrainConfig:  # the patch reaches the builders: the full config has the field
        assert type(train_config("quick")) is extra
        assert to_dict(train_config("quick"))["new_knob"] == 3
    assert run_key(*args, epochs=60) == before_key
    assert run_dir(tmp_path, *args, epochs=60) == before_dir
    if cls is TrainConfig:  # the new field set to a non-default value is a new run
        assert run_key(*args, epochs=60, new_knob=4)["train"] == {"epochs": 60, "new_knob": 4}
        assert run_dir(tmp_path, *args, epochs=60, new_knob=4) != before_dir


def test_changing_a_setting_changes_key_and_folder(data, tmp_path):
    base = RunSpec.of(data, "quick", 0)
    assert base.train == () and base.model == () and base.name() == "base_seed0"
    assert base.dir(tmp_path) == tmp_path / "quick" / data.stem / "base_seed0"
    for other in (RunSpec.of(data, "quick", 0, epochs=60),
                  RunSpec.of(data, "quick", 0, {"omega0": 10}),
                  RunSpec.of(data, "quick", 1)):
        assert other.key() != base.key() and other.dir(tmp_path) != base.dir(tmp_path)
    # a value equal to the profile's default is no change at all
    from cellshapes.config import train_config

    assert RunSpec.of(data, "quick", 0, epochs=train_config("quick").epochs) == base
    named = RunSpec.of(data, "quick", 0, {"arch": "deepsdf", "hidden": 128}, frames_every=4)
    assert named.name() == "arch-deepsdf_hidden-128_frames_every-4_seed0"
    assert named.train_overrides() == {"frames_every": 4}


def test_key_holds_versions_and_data_identity(data, monkeypatch):
    import cellshapes
    from cellshapes import phantoms

    key = RunSpec.of(data, "quick", 0).key()
    assert key["package_version"] == cellshapes.__version__
    assert key["generator_version"] == phantoms.GENERATOR_VERSION
    assert key["data"]["path"] == str(data.resolve())
    monkeypatch.setattr(phantoms, "GENERATOR_VERSION", phantoms.GENERATOR_VERSION + 1)
    assert RunSpec.of(data, "quick", 0).key() != key
    monkeypatch.setattr(cellshapes, "__version__", "9.9.9")
    assert RunSpec.of(data, "quick", 0).key()["package_version"] == "9.9.9"


def test_long_names_are_cut_with_a_digest(data, tmp_path):
    model = dict(hidden=64, layers=5, latent_layers=(0, 3), angle_init="principal",
                 equivariant=False, latent_dim=4)
    a = RunSpec.of(data, "study", 0, model, epochs=40, rotation_search=[0], amp=False)
    b = RunSpec.of(data, "study", 0, model, epochs=41, rotation_search=[0], amp=False)
    assert len(a.name()) <= 130 and a.name() != b.name() and a.name().endswith("_seed0")
    assert hash(a) != hash(b)  # frozen and hashable: a dict key of the runs


def test_stored_overrides_of_a_run_trained_before_a_field_existed():
    from cellshapes.config import model_config, to_dict, train_config

    train = to_dict(train_config("study", epochs=400, seed=2))
    del train["freeze_angles"]  # written by a version without this field
    config = {"model": to_dict(model_config("study")), "train": train}
    assert stored_overrides(config, "study") == ({}, {"epochs": 400})
    config["train"]["retired_option"] = 1  # a field this version no longer has: a change
    assert stored_overrides(config, "study")[1] == {"epochs": 400, "retired_option": 1}


def test_notebooks_name_runs_only_through_the_spec():
    """No notebook builds a run folder itself: runs come from train_or_load / base_run,
    which put them where their RunSpec says."""
    import re
    from pathlib import Path

    books = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))
    assert books
    hand_made = re.compile(r"run_dir\(|nb\.run\(|with_name\(run\.name|_nb0\d|_base\b")
    for book in books:
        text = book.read_text(encoding="utf-8")
        assert not hand_made.findall(text), f"{book.name} names a run folder itself"
        for call in re.finditer(r"train_or_load\(\s*[\w\[\], \"']+?,\s*([\w.]+)", text):
            assert call.group(1) == "nb.runs", f"{book.name}: train_or_load into {call.group(1)}"
