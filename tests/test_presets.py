"""The notebooks' presets (cellshapes.repro.presets): typed, outside the library's config.

The installed library must not know the paper's notebooks: no notebook name appears in
``cellshapes/config/``; every preset is a frozen dataclass whose ``epochs`` is a count.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import cellshapes
from cellshapes.errors import InputError
from cellshapes.repro.presets import (BASE_RUNS, GPU_NOTEBOOKS, NOTEBOOK_PRESETS, base_settings,
                                      base_stop_rule, notebook_preset)

PACKAGE = Path(cellshapes.__file__).resolve().parent
NOTEBOOK_NAME = re.compile(r"\b\d\d_[a-z]+(?:_[a-z]+)*\b")


def test_no_notebook_name_in_the_config_package():
    names = {n for n in NOTEBOOK_PRESETS} | set(GPU_NOTEBOOKS)
    for path in sorted((PACKAGE / "config").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        found = sorted(set(NOTEBOOK_NAME.findall(text)))
        assert not found, f"{path.name} names notebooks {found}"
        assert not [n for n in names if n in text]
    import cellshapes.config as config

    assert not hasattr(config, "NOTEBOOK_PRESETS") and not hasattr(config, "BASE_RUNS")


def test_the_pattern_finds_a_notebook_name():  # the grep above can fail
    assert NOTEBOOK_NAME.findall('x = "13_segmentation_benefit"') == ["13_segmentation_benefit"]


def test_presets_are_typed_frozen_and_epochs_is_a_count():
    books = {p.stem for p in (PACKAGE.parent / "notebooks").glob("[0-9][0-9]_*.py")}
    for notebook, per_profile in NOTEBOOK_PRESETS.items():
        if books:
            assert notebook in books, f"preset of a notebook that does not exist: {notebook}"
        kinds = {type(p) for p in per_profile.values()}
        assert len(kinds) == 1, f"{notebook}: one preset class for every profile, got {kinds}"
        for profile, preset in per_profile.items():
            assert dataclasses.is_dataclass(preset), notebook
            with pytest.raises(dataclasses.FrozenInstanceError):
                preset.frames = 1  # type: ignore[misc]
            epochs = getattr(preset, "epochs", 0)
            assert isinstance(epochs, int), f"{notebook}/{profile}: epochs {epochs!r}"


def test_spatial_preset_has_epochs_for_each_training_grid():
    for preset in NOTEBOOK_PRESETS["07_spatial_interpolation"].values():
        assert set(preset.grid_epochs) == set(preset.train_grids)
        assert all(isinstance(preset.epochs_at(g), int) for g in preset.train_grids)


def test_preset_lookup_copies_and_refuses_a_missing_profile():
    a = notebook_preset("08_omega_sweep", "study")
    a.train["points_per_frame"] = 1  # a copy: the table stays as it is
    assert notebook_preset("08_omega_sweep", "study").train == {"points_per_frame": 2048}
    assert notebook_preset("00_quickstart", "smoke") is None  # the profile alone decides
    with pytest.raises(InputError, match="no 'gpu' preset"):
        notebook_preset("08_omega_sweep", "gpu")


def test_base_settings_and_stop_rule():
    assert base_settings("smoke").sequences is None and base_settings("smoke").train == {}
    study = base_settings("study")
    assert (study.sequences, study.frames, study.train["epochs"]) == (4, 5, 400)
    assert base_stop_rule("study") == {"plateau_epochs": 50, "plateau_tol": 0.01}
    assert base_stop_rule("quick") == {}
    assert BASE_RUNS["study"] == study
