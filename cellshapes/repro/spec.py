"""The run specification: one frozen record that names a trained run and keys its cache.

A :class:`RunSpec` holds what makes a run what it is: the profile, the training seed, the
dataset it learns, the model and training settings **that differ from the profile's
defaults**, and the versions of the package and of the phantom generator. Its folder
(:meth:`RunSpec.dir`) and its cache key (:meth:`RunSpec.key`) are both derived from it, so
a run is named and recognised in one place.

Because only settings that differ from the profile are stored, adding a field with a
default to :class:`~cellshapes.config.TrainConfig` or
:class:`~cellshapes.config.ModelConfig` changes no existing folder or key, and a stored
run (e.g. a shipped pretrained model, :func:`stored_overrides`) is recognised as long as
the settings it changed are the ones asked for. A changed *default* is not seen this way;
the package version in the key is what separates runs of two releases.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["RunSpec", "model_overrides", "train_overrides", "stored_overrides"]

#: A folder name longer than this is cut and ends in a digest of the whole name.
MAX_NAME = 120


def _json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists)."""
    return json.loads(json.dumps(value, default=str))


def _freeze(settings: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Sorted ``(name, JSON value)`` pairs; lists become tuples so the spec can be hashed."""
    def frozen(v: Any) -> Any:
        return tuple(frozen(x) for x in v) if isinstance(v, list) else v
    return tuple(sorted((k, frozen(_json(v))) for k, v in settings.items()))


def _thaw(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {k: _json(v) for k, v in pairs}


def _differ(full: Mapping[str, Any], base: Mapping[str, Any],
            skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The entries of ``full`` whose value is not ``base``'s (a key ``base`` lacks is kept)."""
    full, base = _json(dict(full)), _json(dict(base))
    return {k: v for k, v in full.items()
            if k not in skip and (k not in base or base[k] != v)}


def _model_base(profile: str, arch: str | None) -> dict[str, Any]:
    from cellshapes.config import model_config, to_dict

    return to_dict(model_config(profile, **({"arch": arch} if arch else {})))


def model_overrides(profile: str, **overrides: Any) -> dict[str, Any]:
    """The :class:`~cellshapes.config.ModelConfig` settings that differ from ``profile``'s.

    The DeepSDF baseline (``arch="deepsdf"``) is compared with its own defaults
    (:data:`~cellshapes.config.DEEPSDF_DEFAULTS`); ``arch`` itself is kept when it is not
    the profile's.

    Returns
    -------
    dict
        Field name -> JSON value; empty when ``overrides`` change nothing.
    """
    from cellshapes.config import model_config, to_dict

    return _model_changes(to_dict(model_config(profile, **overrides)), profile)


def _model_changes(model: Mapping[str, Any], profile: str) -> dict[str, Any]:
    """The entries of a full or stored model config that differ from ``profile``'s,
    measured against the defaults of its own ``arch``; ``arch`` kept when not the
    profile's (a stored config without ``arch`` has the profile's)."""
    arch = model.get("arch")
    out = _differ(model, _model_base(profile, arch), skip=("arch",))
    if arch is not None and arch != _model_base(profile, None)["arch"]:
        out["arch"] = arch
    return out


def train_overrides(profile: str, **overrides: Any) -> dict[str, Any]:
    """The :class:`~cellshapes.config.TrainConfig` settings that differ from ``profile``'s.

    The seed is not a setting here (it is :attr:`RunSpec.seed`).

    Returns
    -------
    dict
        Field name -> JSON value; empty when ``overrides`` change nothing.
    """
    from cellshapes.config import to_dict, train_config

    return _differ(to_dict(train_config(profile, **overrides)), to_dict(train_config(profile)),
                   skip=("seed",))


def stored_overrides(config: Mapping[str, Any], profile: str) -> tuple[dict[str, Any],
                                                                         dict[str, Any]]:
    """The model and training settings a stored run (its ``config.json``) changed.

    Compared field by field with ``profile``'s defaults as they are now: a field the run
    does not record (added to the config classes after it was trained) counts as
    default, a field it records that no longer exists as changed.

    Parameters
    ----------
    config : mapping
        A run's ``config.json`` (``model`` and ``train`` sections).
    profile : str

    Returns
    -------
    model, train : dict
        As :func:`model_overrides` and :func:`train_overrides` return them.
    """
    from cellshapes.config import to_dict, train_config

    mchanged = _model_changes(dict(config.get("model", {})), profile)
    tchanged = _differ(config.get("train", {}), to_dict(train_config(profile)), skip=("seed",))
    return mchanged, tchanged


def _versions() -> tuple[str, int]:
    from cellshapes import __version__
    from cellshapes.phantoms import GENERATOR_VERSION

    return __version__, int(GENERATOR_VERSION)


def _word(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "-".join(_word(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class RunSpec:
    """What a trained run is: built by :meth:`of`, named by :meth:`dir`, keyed by :meth:`key`.

    Attributes
    ----------
    profile : str
        The profile whose defaults the settings are measured against.
    seed : int
        Training seed.
    data : str
        The prepared dataset the run learns (a path); its identity (size and modification
        time, :func:`~cellshapes.repro.cache.path_identity`) enters the key, its file name
        the folder.
    model, train : tuple of (name, value) pairs
        The :class:`~cellshapes.config.ModelConfig` and
        :class:`~cellshapes.config.TrainConfig` settings that differ from ``profile``'s
        (:func:`model_overrides`, :func:`train_overrides`), sorted.
    package_version : str
        ``cellshapes.__version__`` when the spec was made.
    generator_version : int
        :data:`cellshapes.phantoms.GENERATOR_VERSION` when the spec was made.
    """

    profile: str
    seed: int
    data: str
    model: tuple[tuple[str, Any], ...] = ()
    train: tuple[tuple[str, Any], ...] = ()
    package_version: str = field(default_factory=lambda: _versions()[0])
    generator_version: int = field(default_factory=lambda: _versions()[1])

    @classmethod
    def of(cls, dataset: str | os.PathLike, profile: str = "smoke", seed: int = 0,
           model: Mapping[str, Any] | None = None, **train: Any) -> "RunSpec":
        """The spec of a run of ``dataset`` at ``profile`` with these overrides.

        Parameters
        ----------
        dataset : path-like
            The prepared dataset (it need not exist yet to name the folder).
        profile : str
        seed : int
            Training seed.
        model : mapping, optional
            ModelConfig overrides (``omega0``, ``arch``, ``latent_dim`` ...).
        **train
            TrainConfig overrides (``epochs``, ``frames_every`` ...). None means the
            profile's value.

        Raises
        ------
        InputError
            Unknown profile or a name that is not a config field.
        """
        train = {k: v for k, v in train.items() if k != "seed"}
        return cls(profile=profile, seed=int(seed), data=str(Path(dataset).resolve()),
                   model=_freeze(model_overrides(profile, **dict(model or {}))),
                   train=_freeze(train_overrides(profile, **train)))

    def model_overrides(self) -> dict[str, Any]:
        """The model settings as keyword arguments of :func:`~cellshapes.config.model_config`."""
        return _thaw(self.model)

    def train_overrides(self) -> dict[str, Any]:
        """The training settings as keyword arguments of :func:`~cellshapes.config.train_config`."""
        return _thaw(self.train)

    def configs(self):
        """``(ModelConfig, TrainConfig)`` of this run, seed included."""
        from cellshapes.config import model_config, train_config

        return (model_config(self.profile, **self.model_overrides()),
                train_config(self.profile, seed=self.seed, **self.train_overrides()))

    def name(self) -> str:
        """The folder name: the changed settings and the seed, e.g.
        ``arch-deepsdf_hidden-128_epochs-240_seed0``, or ``base_seed0`` when nothing is
        changed; a name over :data:`MAX_NAME` characters is cut and ends in a digest."""
        arch = [("arch", v) for k, v in self.model if k == "arch"]
        rest = [(k, v) for k, v in (*self.model, *self.train) if k != "arch"]
        words = "_".join(f"{k}-{_word(v)}" for k, v in (*arch, *rest)) or "base"
        if len(words) > MAX_NAME:
            digest = hashlib.sha256(words.encode()).hexdigest()[:10]
            words = f"{words[:MAX_NAME - 12].rstrip('_-')}_{digest}"
        return f"{words}_seed{self.seed}"

    def dir(self, runs_dir: str | os.PathLike) -> Path:
        """``<runs_dir>/<profile>/<dataset stem>/<name>``: the same run, the same folder.

        Two notebooks that ask for the same run share it; runs that differ in any setting,
        seed or dataset never share a folder.
        """
        return Path(runs_dir) / self.profile / Path(self.data).stem / self.name()

    def key(self) -> dict[str, Any]:
        """The cache key (:mod:`cellshapes.repro.cache`): the spec with the dataset's
        identity in place of its path.

        Raises
        ------
        InputFileNotFoundError
            The dataset does not exist.
        """
        from cellshapes.repro.cache import path_identity

        return dict(kind="run", profile=self.profile, seed=self.seed,
                    model=self.model_overrides(), train=self.train_overrides(),
                    data=path_identity(self.data), package_version=self.package_version,
                    generator_version=self.generator_version)
