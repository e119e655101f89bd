"""Command-line options generated from the config dataclasses (cellshapes.cli.options).

One source of truth: every config field is an option of ``cellshapes train``, its help
is the field's docstring entry, an explicit option overrides the profile and reaches the
run's ``config.json``, and a bad value is one line on stderr with exit code 2.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json

import pytest

from cellshapes.cli import main
from cellshapes.cli.options import add_config_options, config_overrides, field_docs, option_name
from cellshapes.config import ModelConfig, TrainConfig, model_config, train_config

from .conftest import write_ellipsoid_dataset


def _help(command: str) -> str:
    """``cellshapes <command> --help`` as printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("cls", [TrainConfig, ModelConfig])
def test_train_help_names_every_config_field(cls):
    text = _help("train")
    missing = [f.name for f in dataclasses.fields(cls)
               if option_name(f.name) not in text or f.name not in text]
    assert not missing, f"cellshapes train --help lacks {missing}"


def test_every_config_field_is_documented():
    from cellshapes.synthesis.texture import TextureConfig

    for cls in (TrainConfig, ModelConfig, TextureConfig):
        docs = field_docs(cls)
        assert [f.name for f in dataclasses.fields(cls) if not docs.get(f.name, ("", ""))[1]] \
            == [], cls.__name__


def test_help_text_comes_from_the_docstring_with_profile_values():
    text = " ".join(_help("train").split())
    assert "Passes over all training frames (paper: 2000)." in text
    assert "[train.epochs; smoke 20, quick 100, study 100, gpu 400, paper 2000]" in text
    assert "--no-equivariant" in text and "--points" in text  # old spellings still work


def test_adapter_types_flags_tuples_and_none_defaults():
    p = argparse.ArgumentParser()
    add_config_options(p, ModelConfig)
    add_config_options(p, TrainConfig)
    a = p.parse_args([])
    assert config_overrides(a, TrainConfig) == {} and config_overrides(a, ModelConfig) == {}
    a = p.parse_args(["--latent-layers", "0", "2", "--no-equivariant", "--amp",
                      "--arch", "deepsdf", "--lr", "3e-4"])
    assert config_overrides(a, ModelConfig) == dict(latent_layers=[0, 2], equivariant=False,
                                                    arch="deepsdf")
    assert config_overrides(a, TrainConfig) == dict(lr=3e-4, amp=True)
    assert model_config("smoke", **config_overrides(a, ModelConfig)).latent_layers == (0, 2)


def test_explicit_options_override_the_profile_in_config_json(tmp_path):
    data = write_ellipsoid_dataset(tmp_path / "d.h5", n=2, size=12, frames=2)
    run = tmp_path / "run"
    rc = main(["train", str(data), "--out", str(run), "--profile", "smoke", "--epochs", "2",
               "--points", "128", "--lr-gamma", "0.25", "--near-fraction", "0.5",
               "--keep-checkpoints", "1", "--hidden", "16", "--layers", "3",
               "--latent-layers", "0", "2", "--no-coords-every-layer", "--no-equivariant",
               "--angle-init-std", "0.1", "--device", "cpu", "-q"])
    assert rc == 0
    stored = json.loads((run / "config.json").read_text())
    t, m = stored["train"], stored["model"]
    assert (t["epochs"], t["points_per_frame"], t["lr_gamma"], t["near_fraction"],
            t["keep_checkpoints"]) == (2, 128, 0.25, 0.5, 1)
    assert (m["hidden"], m["layers"], m["latent_layers"], m["coords_every_layer"],
            m["equivariant"], m["angle_init_std"]) == (16, 3, [0, 2], False, False, 0.1)
    smoke_t, smoke_m = train_config("smoke"), model_config("smoke")
    assert t["lr"] == smoke_t.lr and t["code_reg_warmup"] == smoke_t.code_reg_warmup
    assert m["latent_dim"] == smoke_m.latent_dim  # not given: the profile's value


@pytest.mark.parametrize("args,needle", [
    (["--epochs", "0"], "--epochs"),
    (["--points", "-3"], "--points"),
    (["--lr", "abc"], "--lr"),
    (["--near-fraction", "1.5"], "near_fraction"),
    (["--arch", "mlp"], "--arch"),
    (["--latent-layers", "x"], "--latent-layers"),
    (["--layers", "2"], "latent_layers"),  # valid alone, not with the profile's layers
])
def test_bad_value_exits_2_with_one_line(args, needle, tmp_path, capsys):
    argv = ["train", str(tmp_path / "nope.h5"), "--out", str(tmp_path / "r"), "--profile",
            "smoke", *args]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage error
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cellshapes: error:"), err
    assert needle in lines[0]
    assert not (tmp_path / "r").exists()


def test_quickstart_epochs_is_the_config_field():
    text = " ".join(_help("quickstart").split())
    assert "--epochs N Passes over all training frames" in text
