"""Field helpers of the config dataclasses: inclusive bounds and ``Literal`` choices.

Both are read by the dataclasses' ``__post_init__`` and by the command-line generator
(:mod:`cellshapes.cli.options`), so a rule is written once: bounds in the field's
metadata (:func:`bounded`), allowed values in its ``Literal[...]`` annotation.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import field
from typing import Any, Iterable, Literal

from cellshapes.errors import InputError

__all__ = ["bounded", "one_of", "bound_error", "check_bounds", "literal_choices",
           "field_choices", "check_choice", "check_choices", "AngleInit", "Arch", "FitRotationInit", "NearSet",
           "RotationCandidates",
           "StorageDtype"]

#: Decoder architectures (``ModelConfig.arch``).
Arch = Literal["siren", "deepsdf"]
#: Initial rotations of an equivariant model (``ModelConfig.angle_init``).
AngleInit = Literal["paper", "principal"]
#: Candidate rotations of the rotation search (``TrainConfig.rotation_candidates``).
RotationCandidates = Literal["flips", "cube"]
#: Starting rotations of ``fit`` (``FitConfig.rotation_init``).
FitRotationInit = Literal["random", "principal"]
#: Near-set rules of the sampler (``TrainConfig.near_set``).
NearSet = Literal["paper", "band"]
#: dtypes of the SDF volumes on the training device (``TrainConfig.storage_dtype``).
StorageDtype = Literal["float32", "float16"]


def bounded(default: Any, low: float | None = None, high: float | None = None) -> Any:
    """A dataclass field with inclusive bounds, checked by :func:`check_bounds`.

    The bounds live in the field's metadata (``"min"``, ``"max"``), so the config's
    ``__post_init__`` and the command line (:mod:`cellshapes.cli.options`) check the same
    rule and a bad ``--option`` is refused before any work starts.

    Parameters
    ----------
    default : any
        The field's default value.
    low, high : float, optional
        Smallest and largest allowed value (inclusive); None means unbounded.
    """
    return field(default=default, metadata={"min": low, "max": high})


def one_of(default: Any, choices: Iterable[Any]) -> Any:
    """A dataclass field whose allowed values are ``choices``, checked by
    :func:`check_choices` and offered by the command line.

    For choices that live in a registry (the latent samplers) rather than in a
    ``Literal[...]`` annotation: the registry's keys are passed here once, so a sampler
    added to the registry is a choice everywhere.
    """
    return field(default=default, metadata={"choices": tuple(choices)})


def field_choices(f: dataclasses.Field, hint: Any) -> tuple[Any, ...] | None:
    """The allowed values of a field: its :func:`one_of` choices, else those of its
    ``Literal`` annotation ``hint``; None when any value of its type is allowed."""
    return f.metadata.get("choices") or literal_choices(hint)


def bound_error(name: str, value: Any, low: float | None, high: float | None) -> str | None:
    """Why ``value`` breaks the bounds ``low..high`` of field ``name``; None if it does not
    (None, "not set", is within any bounds)."""
    if value is None:
        return None
    if low is not None and high is not None and not low <= value <= high:
        return f"{name} must lie in [{low}, {high}], got {value}"
    if low is not None and value < low:
        return f"{name} must be >= {low}, got {value}"
    if high is not None and value > high:
        return f"{name} must be <= {high}, got {value}"
    return None


def check_bounds(obj: Any) -> None:
    """Raise :class:`InputError` for the first field of ``obj`` outside its bounds.

    The bounds are those of :func:`bounded` fields; other fields are not checked.
    """
    for f in dataclasses.fields(obj):
        msg = bound_error(f.name, getattr(obj, f.name), f.metadata.get("min"),
                          f.metadata.get("max"))
        if msg:
            raise InputError(msg)


def literal_choices(hint: Any) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal[...]`` annotation (``X | None`` counts as ``X``);
    None for any other annotation."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        for arg in typing.get_args(hint):
            found = literal_choices(arg)
            if found is not None:
                return found
    return None


def check_choice(name: str, value: Any, hint: Any,
                 allowed: tuple[Any, ...] | None = None) -> Any:
    """``value`` if it is one of the ``Literal`` ``hint``'s values, else an InputError.

    Examples
    --------
    >>> check_choice("near_set", "band", NearSet)
    'band'
    """
    allowed = allowed or literal_choices(hint)
    if allowed is not None and value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(map(repr, allowed))}, "
                         f"got {value!r}")
    return value


def check_choices(obj: Any) -> None:
    """Raise :class:`InputError` for the first field of ``obj`` holding a value its
    ``Literal`` annotation or its :func:`one_of` choices do not allow."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        check_choice(f.name, getattr(obj, f.name), hints[f.name], f.metadata.get("choices"))
