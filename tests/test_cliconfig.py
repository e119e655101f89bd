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


# ------------------------------------------------- the other commands' config dataclasses
def _handler_call(monkeypatch, target: str, argv: list[str]) -> tuple[tuple, dict]:
    """The arguments ``cellshapes ARGV`` passes to the API function ``target``
    (``module.function``), which is replaced by a recorder."""
    import importlib

    module, name = target.rsplit(".", 1)
    seen: dict = {}

    def record(*args, **kwargs):
        seen["call"] = (args, kwargs)
        return {}

    monkeypatch.setattr(importlib.import_module(module), name, record)
    assert main(argv) == 0
    return seen["call"]


@pytest.mark.parametrize("command, cls", [
    ("fit", "cellshapes.config.FitConfig"),
    ("reconstruct", "cellshapes.config.GridOptions"),
    ("generate", "cellshapes.inference.generate.GenerateConfig"),
    ("prepare", "cellshapes.config.PrepareConfig"),
    ("scene", "cellshapes.synthesis.scene_config.SceneConfig"),
    ("model", "cellshapes.pipeline.request.ModelRequest"),
])
def test_help_lists_every_field_of_the_command_config(command, cls):
    """A new field of the config dataclass without an option fails here."""
    config = _config_class(cls)
    text = _help(command)
    missing = [f.name for f in dataclasses.fields(config) if f.name != "inputs"
               and (option_name(f.name) not in text or f.name not in text)]
    assert not missing, f"cellshapes {command} --help lacks {missing}"


def _config_class(path: str) -> type:
    import importlib

    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def test_fit_config_round_trips_through_the_command_line(monkeypatch, capsys):
    from cellshapes.config import FitConfig

    args, kw = _handler_call(monkeypatch, "cellshapes.inference.fit.fit_run", [
        "fit", "r", "d", "--out", "o", "--steps", "5", "--restarts", "2", "--lr", "0.5",
        "--no-fit-codes", "--rotation-init", "principal", "--seed", "7", "--device", "cpu"])
    assert args[3] == FitConfig(steps=5, restarts=2, lr=0.5, fit_codes=False,
                                rotation_init="principal", seed=7)
    assert kw["device"] == "cpu"
    args, _ = _handler_call(monkeypatch, "cellshapes.inference.fit.fit_run",
                            ["fit", "r", "d", "--out", "o"])
    assert args[3] == FitConfig()  # nothing given: the dataclass defaults


def test_grid_options_round_trip_and_dense_is_no_narrow_band(monkeypatch):
    from cellshapes.config import GridOptions

    target = "cellshapes.inference.reconstruct.reconstruct_run"
    base = ["reconstruct", "r", "--out", "o", "--size", "12"]
    _, kw = _handler_call(monkeypatch, target, base + ["--stride", "4", "--safety", "3",
                                                       "--no-check-blocks"])
    assert kw["options"] == GridOptions(stride=4, safety=3.0, check_blocks=False)
    assert kw["size"] == 12
    for flag in ("--dense", "--no-narrow-band"):
        _, kw = _handler_call(monkeypatch, target, base + [flag])
        assert kw["options"] == GridOptions(narrow_band=False)
    _, kw = _handler_call(monkeypatch, target, base)
    assert kw["options"] == GridOptions()


def test_generate_config_round_trips_and_std_is_the_paper_samplers_scale(monkeypatch):
    from cellshapes.inference.generate import GenerateConfig

    target = "cellshapes.inference.generate.generate_run"
    args, kw = _handler_call(monkeypatch, target, [
        "generate", "r", "--out", "o", "--n", "3", "--method", "span", "--scale", "0.3",
        "--seed", "2", "--size", "16", "--frames", "5", "--drop-islands", "4",
        "--max-cells", "2"])
    assert args[2] == GenerateConfig(n=3, method="span", scale=0.3, seed=2, size=16, frames=5,
                                     drop_islands_voxels=4, max_cells=2)
    args, _ = _handler_call(monkeypatch, target, ["generate", "r", "--out", "o"])
    assert args[2] == GenerateConfig()
    args, _ = _handler_call(monkeypatch, target, ["generate", "r", "--out", "o", "--method",
                                                  "near", "--std", "0.002"])
    assert args[2] == GenerateConfig(method="near", scale=0.002)
    # --std belongs to the paper's samplers only: one line, exit 2
    assert main(["generate", "r", "--out", "o", "--method", "local", "--std", "0.1"]) == 2
    from cellshapes.inference.samplers import SAMPLERS

    assert sorted(dataclasses.fields(GenerateConfig)[1].metadata["choices"]) == sorted(SAMPLERS)


def test_prepare_config_round_trips_through_the_command_line(monkeypatch):
    from cellshapes.config import PrepareConfig

    target = "cellshapes.prepare.prepare_dataset"
    args, kw = _handler_call(monkeypatch, target, [
        "prepare", "a.tif", "b.tif", "--out", "d.h5", "--size", "32", "--spacing", "2", "0.5",
        "0.5", "--cell-type", "dividing", "--per-label", "--keep-border", "--link",
        "--margin", "1.5", "--axes", "TZYX", "--channel", "1", "--overwrite"])
    assert args[2] == PrepareConfig(size=32, spacing=(2.0, 0.5, 0.5), cell_type="dividing",
                                    per_label=True, keep_border=True, link=True, margin=1.5,
                                    axes="TZYX", channel=1)
    assert [str(p) for p in args[0]] == ["a.tif", "b.tif"] and kw["overwrite"] is True
    args, _ = _handler_call(monkeypatch, target, ["prepare", "a.tif", "--out", "d.h5"])
    assert args[2] == PrepareConfig()


def test_scene_config_round_trips_through_the_command_line(monkeypatch, tmp_path):
    from cellshapes.errors import InputError
    from cellshapes.synthesis import scene as scene_module
    from cellshapes.synthesis.scene_config import SceneConfig

    seen = []

    def record(run, cfg, **kw):
        seen.append(cfg)
        raise InputError("recorded")

    monkeypatch.setattr(scene_module, "scene_from_run", record)
    base = ["scene", "growing_study", "--out", str(tmp_path / "o"), "--shape", "8", "9", "10",
            "--spacing", "1", "0.5", "0.5", "-q"]
    assert main(base + ["--gap", "2", "--drift-um", "0.5", "--no-band", "--divides",
                        "--tries", "10", "--cells", "3"]) == 2
    assert seen[-1] == SceneConfig(cells=3, frames=5, shape=(8, 9, 10),
                                   spacing=(1.0, 0.5, 0.5), gap_um=2.0, drift_um=0.5,
                                   band=False, divides=True, tries=10)
    assert main(base) == 2
    assert seen[-1] == SceneConfig(cells=6, frames=5, shape=(8, 9, 10),
                                   spacing=(1.0, 0.5, 0.5))


def test_model_request_round_trips_through_the_command_line(monkeypatch, tmp_path):
    from cellshapes.pipeline import stages
    from cellshapes.pipeline.request import ModelRequest

    seen = []
    monkeypatch.setattr(stages, "_open_folder", lambda out, request, overwrite: (
        seen.append(request), (_ for _ in ()).throw(KeyboardInterrupt)))
    monkeypatch.setattr(stages, "_read_labels", lambda request: [])
    video, tracks = tmp_path / "v.tif", tmp_path / "man_track.txt"
    argv = ["model", str(video), "--out", str(tmp_path / "m"), "--profile", "smoke",
            "--synthesize", "2", "--scene", "3", "--no-link", "--keep-border", "--seed", "4",
            "--spacing", "2", "1", "1", "--axes", "tzyx", "--tracks", str(tracks), "-q"]
    assert main(argv) == 130  # stopped where the request is complete
    assert seen[-1] == ModelRequest((str(video.resolve()),), spacing=(2.0, 1.0, 1.0),
                                    profile="smoke", synthesize=2, scene=3, link=False,
                                    keep_border=True, seed=4, axes="TZYX",
                                    tracks=str(tracks.resolve()))
    assert main(["model", str(video), "--out", str(tmp_path / "m")]) == 130
    assert seen[-1] == ModelRequest((str(video.resolve()),))


@pytest.mark.parametrize("argv, needle", [
    (["fit", "r", "d", "--out", "o", "--rotation-init", "nope"], "invalid choice"),
    (["fit", "r", "d", "--out", "o", "--restarts", "0"], "restarts must be >= 1"),
    (["generate", "r", "--out", "o", "--method", "nope"], "invalid choice"),
    (["generate", "r", "--out", "o", "--n", "0"], "argument --n"),
    (["prepare", "a.tif", "--out", "d.h5", "--margin", "0.5"], "margin must be >= 1"),
    (["scene", "m", "--out", "o", "--shape", "8", "8", "--spacing", "1", "1", "1"],
     "--shape"),
    (["model", "v.tif", "--out", "m", "--profile", "nope"], "invalid choice"),
    (["model", "v.tif", "--out", "m", "--synthesize", "-1"], "synthesize must be >= 0"),
])
def test_bad_command_config_value_is_one_line_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and needle in err and len(err.strip().splitlines()) == 1
