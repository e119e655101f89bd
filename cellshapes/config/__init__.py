"""Configuration: the dataclasses, their named profiles and their JSON form.

========================  =================================================================
:mod:`.schema`            :class:`ModelConfig`, :class:`TrainConfig`, :class:`FitConfig`,
                          :class:`GridOptions`, :class:`PrepareConfig`,
                          :data:`DEEPSDF_DEFAULTS`
:mod:`.profiles`          :data:`PROFILES` (``smoke``, ``quick``, ``study``, ``gpu``, ``paper``),
                          :func:`model_config`, :func:`train_config`, seeds, data sizes
:mod:`.presets`           :data:`NOTEBOOK_PRESETS`: each notebook's sizes per profile;
                          :data:`BASE_RUNS`: the shared base model's;
                          :data:`GPU_NOTEBOOKS`: those sized for ``gpu``
:mod:`.fields`            bounds (:func:`bounded`) and ``Literal`` choices of the fields
:mod:`.serial`            :func:`to_dict`, :func:`from_dict` (strict about unknown keys)
========================  =================================================================

Everything is importable from here: ``from cellshapes.config import train_config``.
"""
from __future__ import annotations

from cellshapes.config.fields import (AngleInit, Arch, NearSet, StorageDtype, bound_error, bounded,
                                      check_bounds, check_choice, check_choices, literal_choices)
from cellshapes.config.presets import (BASE_RUNS, GPU_NOTEBOOKS, NOTEBOOK_PRESETS, base_settings,
                                       base_stop_rule, notebook_preset)
from cellshapes.config.profiles import (PROFILE_SEEDS, PROFILES, config_from, data_defaults,
                                        model_config, profile_entry, profile_seeds, train_config)
from cellshapes.config.schema import (DEEPSDF_DEFAULTS, FitConfig, GridOptions, ModelConfig,
                                      PrepareConfig, TrainConfig)
from cellshapes.config.serial import (LEGACY_KEYS, UnknownConfigKeyError, check_keys, from_dict,
                                      to_dict)

__all__ = [
    "ModelConfig", "TrainConfig", "FitConfig", "GridOptions", "PrepareConfig",
    "DEEPSDF_DEFAULTS",
    "PROFILES", "model_config", "train_config", "data_defaults", "PROFILE_SEEDS",
    "profile_seeds", "profile_entry", "config_from", "NOTEBOOK_PRESETS", "notebook_preset",
    "BASE_RUNS", "GPU_NOTEBOOKS", "base_settings", "base_stop_rule",
    "bounded", "check_bounds", "bound_error", "literal_choices", "check_choice",
    "check_choices", "AngleInit", "Arch", "NearSet", "StorageDtype",
    "to_dict", "from_dict", "check_keys", "LEGACY_KEYS", "UnknownConfigKeyError",
]
