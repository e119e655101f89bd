"""Run configs: strict keys (a typo is an error naming the key), legacy keys, shipped runs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cellshapes
from cellshapes import config as C
from cellshapes.cli import main
from cellshapes.training.checkpoint import read_config

PRETRAINED = sorted(p.parent for p in
                    (Path(cellshapes.__file__).parent / "pretrained").glob("*/config.json"))


@pytest.fixture()
def run(tmp_path):
    """A copy of a shipped run directory (config.json + checkpoint), ready to edit."""
    out = tmp_path / "run"
    shutil.copytree(PRETRAINED[0], out)
    return out


def _edit(run: Path, section: str, **items) -> None:
    path = run / "config.json"
    cfg = json.loads(path.read_text())
    cfg[section].update(items)
    path.write_text(json.dumps(cfg))


@pytest.mark.parametrize("section", ["model", "train"])
def test_unknown_key_is_refused_naming_it(run, section):
    _edit(run, section, xyz=1)
    with pytest.raises(C.UnknownConfigKeyError, match="unknown key 'xyz'") as info:
        read_config(run)
    assert info.value.keys == ["xyz"]
    assert f"'{section}' section" in str(info.value) and "config.json" in str(info.value)


def test_reconstruct_with_unknown_key_exits_2_with_one_line(run, tmp_path, capsys):
    _edit(run, "model", hiden=128)  # a typo of "hidden"
    assert main(["reconstruct", str(run), "--out", str(tmp_path / "rec"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("cellshapes: error: ") and "unknown key 'hiden'" in err[0]
    assert not (tmp_path / "rec").exists()


def test_resume_with_unknown_key_exits_2(run, tmp_path, capsys):
    _edit(run, "train", lr_decay=0.5)
    code = main(["train", str(tmp_path / "unused.h5"), "--out", str(run), "--resume",
                 "--profile", "smoke", "--device", "cpu", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "unknown key 'lr_decay'" in err[0], err


@pytest.mark.parametrize("run_dir", PRETRAINED, ids=lambda p: p.name)
def test_shipped_runs_still_load(run_dir):
    cfg = read_config(run_dir)
    model = C.from_dict(C.ModelConfig, cfg["model"])
    train = C.from_dict(C.TrainConfig, cfg["train"])
    # every stored field round-trips; fields added since take their defaults here (the
    # DeepSDF-only dropout / weight_norm / output_tanh: off; near_set, storage_dtype: and
    # train --resume maps a missing near_set to the old band rule)
    stored_model = C.to_dict(model)
    assert {k: stored_model[k] for k in cfg["model"]} == cfg["model"]
    assert not (model.dropout or model.weight_norm or model.output_tanh)
    stored = C.to_dict(train)
    assert {k: stored[k] for k in cfg["train"]} == cfg["train"]


def test_from_dict_refuses_unknown_and_maps_legacy_keys(monkeypatch):
    base = C.to_dict(C.TrainConfig())
    with pytest.raises(C.UnknownConfigKeyError, match="unknown keys 'a', 'b'"):
        C.from_dict(C.TrainConfig, {**base, "b": 1, "a": 2})
    monkeypatch.setitem(C.LEGACY_KEYS, "TrainConfig", {"old_lr": "lr", "gone": None})
    cfg = C.from_dict(C.TrainConfig, {"old_lr": 0.5, "gone": "anything", "seed": 3})
    assert (cfg.lr, cfg.seed) == (0.5, 3)
    both = C.from_dict(C.TrainConfig, {"old_lr": 0.5, "lr": 0.25})  # the new name wins
    assert both.lr == 0.25
    with pytest.raises(C.UnknownConfigKeyError, match="'other'"):
        C.from_dict(C.TrainConfig, {"old_lr": 0.5, "other": 1})


def test_unknown_key_error_is_an_input_and_format_error():
    from cellshapes.errors import CellshapesError, DatasetFormatError, InputError

    with pytest.raises(C.UnknownConfigKeyError) as info:
        C.from_dict(C.ModelConfig, {"xyz": 1})
    assert isinstance(info.value, InputError) and isinstance(info.value, DatasetFormatError)
    assert isinstance(info.value, CellshapesError)
