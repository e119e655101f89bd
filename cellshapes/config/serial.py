"""Config dataclasses to and from JSON-ready dicts (a run's ``config.json``), strictly:
an unknown key is refused unless it is a known legacy key."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

from cellshapes.errors import DatasetFormatError, InputError

__all__ = ["to_dict", "from_dict", "check_keys", "LEGACY_KEYS", "UnknownConfigKeyError"]


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-serialisable dict of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


class UnknownConfigKeyError(InputError, DatasetFormatError):
    """A settings dict (e.g. a run's ``config.json``) holds a key that is not a field.

    Attributes
    ----------
    keys : list of str
        The unknown keys.
    """

    def __init__(self, message: str, keys: list[str]) -> None:
        super().__init__(message)
        self.keys = keys


#: Keys that configs written by earlier cellshapes versions hold and this version reads
#: differently, per config class: ``{class name: {old key: new key, or None to ignore}}``.
#: Empty so far: no field of ModelConfig, TrainConfig or TextureConfig has been removed or
#: renamed since the first release (``git log -p -- cellshapes/config.py
#: cellshapes/synthesis/texture.py``), and the shipped runs in ``cellshapes/pretrained``
#: hold only current fields. A field that is removed or renamed gets an entry here, so
#: older runs keep loading while any other unknown key is refused.
LEGACY_KEYS: dict[str, dict[str, str | None]] = {}


def check_keys(cls: type, data: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
    """``data`` with legacy keys mapped (:data:`LEGACY_KEYS`); refuse any other unknown key.

    Parameters
    ----------
    cls : dataclass type
        The config class whose fields ``data`` holds.
    data : mapping
        Field name -> value, e.g. the ``model`` section of a run's ``config.json``.
    where : str, optional
        Where ``data`` comes from, for the message (default: the class name).

    Returns
    -------
    dict
        The known fields of ``data``; a legacy key is renamed, or dropped if it maps to
        None or its new name is also present.

    Raises
    ------
    UnknownConfigKeyError
        ``data`` holds a key that is neither a field of ``cls`` nor a legacy key.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    legacy = LEGACY_KEYS.get(cls.__name__, {})
    unknown = sorted(k for k in data if k not in names and k not in legacy)
    if unknown:
        what = "key" if len(unknown) == 1 else "keys"
        raise UnknownConfigKeyError(
            f"unknown {what} {', '.join(map(repr, unknown))} in {where or cls.__name__}: not "
            f"{'a field' if len(unknown) == 1 else 'fields'} of {cls.__name__} (written by "
            "another cellshapes version, or edited by hand?)", unknown)
    known = {k: v for k, v in data.items() if k in names}
    for old, new in legacy.items():
        if old in data and new is not None and new not in known:
            known[new] = data[old]
    return known


def from_dict(cls: type, data: Mapping[str, Any], where: str | None = None) -> Any:
    """Rebuild a config dataclass from :func:`to_dict` output.

    Legacy keys of older versions are mapped or ignored (:data:`LEGACY_KEYS`); any other
    key that is not a field is refused, so a typo in a hand-edited ``config.json`` is
    never silently dropped.

    Parameters
    ----------
    cls : dataclass type
    data : mapping
        Field name -> value; missing fields take their defaults.
    where : str, optional
        Where ``data`` comes from, named in the error message.

    Raises
    ------
    UnknownConfigKeyError
        A key of ``data`` is not a field of ``cls`` (:func:`check_keys`).
    InputError
        A value is out of its field's bounds.
    """
    return cls(**check_keys(cls, data, where))
