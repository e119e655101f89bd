"""Command-line options generated from the config dataclasses: one source of truth.

Every field of a config dataclass becomes an option ``--field-name`` of its command
(``train``: :class:`~cellshapes.config.TrainConfig`, :class:`~cellshapes.config.ModelConfig`;
``fit``: :class:`~cellshapes.config.FitConfig`; ``reconstruct``:
:class:`~cellshapes.config.GridOptions`; ``prepare``: :class:`~cellshapes.config.PrepareConfig`;
``generate``: ``inference.generate.GenerateConfig``; ``scene``:
``synthesis.scene_config.SceneConfig``; ``model``: ``pipeline.request.ModelRequest``); its
help text is the field's entry in the numpydoc ``Attributes`` section of the class
docstring, so documenting a field documents the option. Types follow the annotation:

* ``bool`` -> ``--flag`` / ``--no-flag`` (``argparse.BooleanOptionalAction``);
* ``tuple[int, ...]`` -> one or more values (``--latent-layers 0 4 7``), a fixed-length
  ``tuple[float, float, float]`` exactly three (``--spacing 2 0.5 0.5``);
* ``int``, ``float``, ``str`` (``X | None`` as ``X``); a ``Literal[...]`` annotation or
  :func:`~cellshapes.config.fields.one_of` (a registry's keys) gives the choices, the same
  values the dataclass checks;
* inclusive bounds of :func:`cellshapes.config.bounded` fields are checked while parsing,
  so a bad value is a one-line usage error (exit code 2) before any work starts;
* a field without a default is a required option.

Every option defaults to None, "not given": :func:`config_overrides` returns only what
was given, ready for ``train_config(profile, **overrides)``, and :func:`config_from_args`
builds the dataclass with its own defaults for the rest, which the help text shows.

Example
-------
>>> import argparse
>>> from cellshapes.config import TrainConfig
>>> p = argparse.ArgumentParser()
>>> _ = add_config_options(p, TrainConfig, include=["epochs", "amp"])
>>> config_overrides(p.parse_args(["--epochs", "3", "--no-amp"]), TrainConfig)
{'epochs': 3, 'amp': False}
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from typing import Any, Callable, Iterable, Mapping

from cellshapes.config import bound_error
from cellshapes.config.fields import field_choices

__all__ = ["field_docs", "option_name", "add_config_options",
           "config_overrides", "config_from_args", "Parser", "int_min"]

_SECTION = re.compile(r"^(Attributes|Parameters)\n-{3,}\n", re.MULTILINE)
_ENTRY = re.compile(r"^(\w+)\s*:\s*(.*)$")


def field_docs(cls: type) -> dict[str, tuple[str, str]]:
    """Type text and description of each field in a class's numpydoc docstring.

    Reads the ``Attributes`` (else ``Parameters``) section: an entry is ``name : type``
    at the section's indentation followed by indented description lines.

    Returns
    -------
    dict
        Field name -> (type text, description joined into one line).
    """
    doc = inspect.getdoc(cls) or ""
    match = _SECTION.search(doc)
    if not match:
        return {}
    out: dict[str, tuple[str, str]] = {}
    name = None
    for line in doc[match.end():].splitlines():
        if line and not line[0].isspace():
            entry = _ENTRY.match(line)
            if not entry:  # the next section ("Notes", "----") ends the list
                break
            name = entry.group(1)
            out[name] = (entry.group(2).strip(), "")
        elif name is not None and line.strip():
            kind, text = out[name]
            out[name] = (kind, f"{text} {line.strip()}".strip())
    return out


def _plain(text: str) -> str:
    """reStructuredText roles and literals as terminal text (``:class:`~a.B``` -> ``a.B``)."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "")


def option_name(field_name: str) -> str:
    """``frames_per_batch`` -> ``--frames-per-batch``."""
    return "--" + field_name.replace("_", "-")


def _base_type(hint: Any) -> tuple[Any, int | str | None]:
    """(scalar type, nargs) of a field annotation; ``X | None`` counts as ``X``.

    nargs is None for a scalar, ``"+"`` for ``tuple[X, ...]`` and the length of a
    fixed-length ``tuple[X, X, X]``.
    """
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _base_type(args[0])
    if origin in (tuple, list):
        args = typing.get_args(hint)
        if Ellipsis in args or origin is list or not args:
            return (args[0] if args else str), "+"
        return args[0], len(args)
    return hint, None


def _parser_of(kind: type, name: str, low: Any, high: Any) -> Callable[[str], Any]:
    """argparse ``type``: convert text to ``kind`` and check the field's bounds."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        msg = bound_error(name, value, low, high)
        if msg:
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = kind.__name__
    return parse


def _show(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return " ".join(_show(x) for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def _profile_note(f: dataclasses.Field, profiles: Mapping[str, Mapping[str, Any]] | None,
                  section: str | None, default: Any = None) -> str:
    """``[train.epochs; smoke 20, quick 100, paper 2000]``: the config key and its values;
    without profiles the field's default (``[fit.steps; default 300]``), or ``required``."""
    name = f.name
    key = f"{section}.{name}" if section else name
    if not profiles:
        if default is None:
            default = f.default if f.default is not dataclasses.MISSING else None
        if default is None and f.default is dataclasses.MISSING:
            return f"[{key}; required]"
        return f"[{key}; default {'none' if default is None else _show(default)}]"
    show = _show
    values = ", ".join(f"{p} {show(cfg[name])}" for p, cfg in profiles.items())
    return f"[{key}; {values}]"


def add_config_options(parser: argparse.ArgumentParser, cls: type,
                       include: Iterable[str] | None = None, exclude: Iterable[str] = (),
                       profiles: Mapping[str, Mapping[str, Any]] | None = None,
                       section: str | None = None,
                       aliases: Mapping[str, Iterable[str]] | None = None,
                       defaults: Mapping[str, Any] | None = None,
                       title: str | None = None,
                       metavars: Mapping[str, Any] | None = None
                       ) -> argparse._ArgumentGroup:
    """Add one option per field of the config dataclass ``cls`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    cls : dataclass type
        Its fields must be documented in the class docstring (``Attributes``).
    include, exclude : iterable of str, optional
        Fields to add (default all) and fields to leave out.
    profiles : mapping, optional
        Profile name -> the full config of that profile as a dict (``to_dict``); the help
        of each option lists the value of every profile.
    section : str, optional
        Where the field sits in the run's ``config.json`` (``train``, ``model``), named
        in the help with the field so that an option maps to its stored key.
    aliases : mapping, optional
        Field name -> extra option strings (kept old spellings, e.g. ``--points``).
    defaults : mapping, optional
        Field name -> a default the command line gives a field that has none in ``cls``
        (for commands without a profile). Every other option defaults to None, "not
        given": :func:`config_from_args` then leaves the field at its dataclass default,
        which the help text shows.
    title : str, optional
        Title of the argument group (default: the class name).
    metavars : mapping, optional
        Field name -> metavar (e.g. ``("Z", "Y", "X")`` for a 3-tuple).

    A field without a default (and without an entry in ``defaults``) is a required
    option. Choices come from a ``Literal[...]`` annotation or the field's
    :func:`~cellshapes.config.fields.one_of` metadata; a fixed-length ``tuple[X, X, X]``
    takes exactly that many values.

    Returns
    -------
    argparse._ArgumentGroup
        The group the options were added to. Each option's ``dest`` is the field name.

    Raises
    ------
    TypeError
        A field without documentation or with an annotation this adapter cannot map.
    """
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    wanted = None if include is None else set(include)
    group = parser.add_argument_group(title or f"{cls.__name__} options")
    for f in dataclasses.fields(cls):
        if (wanted is not None and f.name not in wanted) or f.name in set(exclude):
            continue
        if f.name not in docs:
            raise TypeError(f"{cls.__name__}.{f.name} is not documented in the class docstring")
        _, text = docs[f.name]
        choices = field_choices(f, hints[f.name])
        kind, nargs = _base_type(hints[f.name])
        if choices:
            kind = str if kind not in (int, float, str) else kind
        default = (defaults or {}).get(f.name)
        note = _profile_note(f, profiles, section, default)
        help_ = f"{_plain(text)} {note}".replace("%", "%%")
        flags = [option_name(f.name), *(aliases or {}).get(f.name, ())]
        kw: dict[str, Any] = dict(dest=f.name, default=default, help=help_)
        if (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                and default is None):
            kw["required"] = True
        if kind is bool:
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
            continue
        if kind not in (int, float, str):
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported annotation {hints[f.name]}")
        if choices:
            kw.update(choices=list(choices), type=kind,
                      metavar="{" + ",".join(map(str, choices)) + "}")
        else:
            kw.update(type=_parser_of(kind, f.name, f.metadata.get("min"),
                                      f.metadata.get("max")),
                      metavar={int: "N", float: "X", str: "TEXT"}[kind])
        if f.name in (metavars or {}):
            kw["metavar"] = metavars[f.name]  # type: ignore[index]
        if nargs is not None:
            kw["nargs"] = nargs
        group.add_argument(*flags, **kw)
    return group


def config_overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (not None), by field name."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if getattr(args, f.name, None) is not None}


def config_from_args(args: argparse.Namespace, cls: type, **fixed: Any) -> Any:
    """The config dataclass ``cls`` the command line asks for.

    Options not given keep the dataclass defaults; ``fixed`` supplies fields the command
    sets itself. ``cls(**config_overrides(args, cls), **fixed)`` with lists as tuples, so
    a config parsed from flags equals the one built in Python from the same values.
    """
    given = {k: tuple(v) if isinstance(v, list) else v
             for k, v in config_overrides(args, cls).items()}
    return cls(**{**given, **fixed})


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit with code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"cellshapes: error: {message} (see {self.prog} --help)\n")


def int_min(low: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``low`` (a usage error otherwise, exit code 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse
