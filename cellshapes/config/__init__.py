"""Configuration: the dataclasses, their named profiles and their JSON form.

========================  =================================================================
:mod:`.schema`            :class:`ModelConfig`, :class:`TrainConfig`, :class:`FitConfig`,
                          :class:`GridOptions`, :class:`PrepareConfig`,
                          :data:`DEEPSDF_DEFAULTS`
:mod:`.profiles`          :data:`PROFILES` (``smoke``, ``quick``, ``study``, ``gpu``, ``paper``),
                          :func:`model_config`, :func:`train_config`, seeds, data sizes
:mod:`.fields`            bounds (:func:`bounded`) and ``Literal`` choices of the fields
:mod:`.serial`            :func:`to_dict`, :func:`from_dict` (strict about unknown keys)
========================  =================================================================

Each notebook's sizes are the reproduction layer's (:mod:`cellshapes.repro.presets`).
Everything is importable from here: ``from cellshapes.config import train_config``.
"""
from __future__ import annotations

from cellshapes.config.fields import (AngleInit, Arch, NearSet, StorageDtype, bound_error, bounded,
                                      check_bounds, check_choice, check_choices, literal_choices)
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
    "profile_seeds", "profile_entry", "config_from",
    "bounded", "check_bounds", "bound_error", "literal_choices", "check_choice",
    "check_choices", "AngleInit", "Arch", "NearSet", "StorageDtype",
    "to_dict", "from_dict", "check_keys", "LEGACY_KEYS", "UnknownConfigKeyError",
]
