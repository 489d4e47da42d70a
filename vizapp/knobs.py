"""Knobs: typed, bounded settings described once and read by every interface.

A knob is a dataclass field declared with :func:`knob` (help text, label, bounds, step,
choices); :func:`knob_infos` lists a dataclass's knobs as :class:`KnobInfo`. From that one
description the app generates its widgets, the CLI parses ``--set KNOB=VALUE``, URLs carry
values (:func:`parse_value` / :func:`format_value`) and :func:`check_value` checks bounds,
raising :class:`ConfigError`. Nothing here is about models: the zoo's configs
(:class:`vizapp.zoo.base.BaseConfig`), the learning-rate schedules' parameters and the
training settings are all described this way.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vizapp.i18n import lazy, msg


class ConfigError(ValueError):
    """An impossible configuration. ``knob`` names the field at fault (or None)."""

    def __init__(self, message: str, knob: str | None = None):
        super().__init__(message)
        self.knob = knob
        self.message = message


class LazyChoices(Sequence):
    """Choices computed on first use (e.g. torchvision's builder list, whose import costs a
    second): behaves like the tuple it produces."""

    def __init__(self, fn: Callable[[], Sequence[Any]]):
        self._fn = fn
        self._items: tuple[Any, ...] | None = None

    def _get(self) -> tuple[Any, ...]:
        if self._items is None:
            self._items = tuple(self._fn())
        return self._items

    def __getitem__(self, i: Any) -> Any:
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())

    def __contains__(self, x: object) -> bool:
        return x in self._get()

    def __repr__(self) -> str:
        return "LazyChoices(…)" if self._items is None else repr(self._items)


@dataclass(frozen=True)
class Knob:
    """UI metadata of one config field."""

    help: str
    label: str | None = None
    min: float | None = None  # for ints/floats, and each element of an int tuple
    max: float | None = None
    step: float | None = None
    choices: Sequence[Any] | None = None  # for str fields; a tuple or LazyChoices
    min_len: int | None = None  # for tuple fields
    max_len: int | None = None
    group: str = "architecture"  # "input" for the common input fields


def knob(default: Any, *, help: str, label: str | None = None, min: float | None = None,
         max: float | None = None, step: float | None = None,
         choices: Sequence[Any] | None = None, min_len: int | None = None,
         max_len: int | None = None, group: str = "architecture") -> Any:
    """A dataclass field carrying :class:`Knob` metadata under the key ``"knob"``."""
    meta = Knob(help=help, label=label, min=min, max=max, step=step, choices=choices,
                min_len=min_len, max_len=max_len, group=group)
    return field(default=default, metadata={"knob": meta})


@dataclass(frozen=True)
class KnobInfo:
    """A field, its type (``int``, ``float``, ``bool``, ``str``, ``tuple[int, ...]`` …) and
    metadata, as the UI and CLI see it."""

    name: str
    type: Any
    default: Any
    knob: Knob

    @property
    def label(self) -> str:
        return self.knob.label or self.name.replace("_", " ")


@functools.lru_cache(maxsize=256)
def knob_infos(cls: type) -> tuple[KnobInfo, ...]:
    """The :class:`KnobInfo` of every :func:`knob` field of any dataclass ``cls`` (a model
    config, a learning-rate schedule's parameters, the training settings). Computed once per
    class (``typing.get_type_hints`` is slow, and every rerun of every session asks)."""
    hints = typing.get_type_hints(cls)
    return tuple(KnobInfo(f.name, hints[f.name], f.default, f.metadata["knob"])
                 for f in dataclasses.fields(cls) if "knob" in f.metadata)


# ---------------------------------------------------------------------- values
def _base_type(tp: Any) -> tuple[Any, Any]:
    """Return (outer, inner) for the supported annotation shapes."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or str(origin) == "types.UnionType":
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0])
    if origin is tuple:
        args = typing.get_args(tp)
        inner = args[0]
        if typing.get_origin(inner) is tuple:
            return tuple, tuple
        return tuple, inner
    return tp, None


def parse_value(info: KnobInfo, value: Any) -> Any:
    """Turn a CLI/URL string (or a typed value) into the field's type.

    Int tuples take ``"3,4,6,3"``; tuples of pairs take ``"1x64,1x128,2x256"`` (also ``"1:64"``);
    bools take true/false/1/0/yes/no/on/off; optional fields take ``none``.
    """
    outer, inner = _base_type(info.type)
    optional = type(None) in typing.get_args(info.type)
    try:
        if isinstance(value, str):
            s = value.strip()
            if optional and s.lower() in ("none", "null", ""):
                return None
            if outer is bool:
                low = s.lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(f"expected true or false, got '{value}'")
            if outer is int:
                return int(s)
            if outer is float:
                return float(s)
            if outer is str:
                return s
            if outer is tuple and inner is None:  # nested structure (GoogLeNet's splits): JSON
                return _tuplify(json.loads(s))
            if outer is tuple and inner is tuple:
                pairs = []
                for part in s.replace(" ", "").replace(";", ",").split(","):
                    if not part:
                        continue
                    sep = "x" if "x" in part else ":"
                    a, b = part.split(sep)
                    pairs.append((int(a), int(b)))
                return tuple(pairs)
            if outer is tuple:
                return tuple(int(p) for p in s.replace(" ", "").split(",") if p)
            raise ValueError(f"cannot parse {info.type}")
        if outer is tuple and inner is None:
            return _tuplify(value)
        if outer is tuple and inner is tuple:
            return tuple((int(a), int(b)) for a, b in value)
        if outer is tuple:
            return tuple(int(v) for v in value)
        if outer is bool:
            return bool(value)
        if outer is int and isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ConfigError(msg("{name}: cannot read '{value}' as {type} ({error})",
                              name=info.name, value=_short(value), type=format_type(info.type),
                              error=_short(exc)), info.name) from None


def _short(x: Any, limit: int = 60) -> str:
    """A value for a message: one line, at most ``limit`` characters."""
    text = " ".join(str(x).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _tuplify(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_tuplify(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _is_nested(value: Any) -> bool:
    return isinstance(value, tuple) and any(
        isinstance(x, tuple) and any(isinstance(y, tuple) for y in x) for x in value)


def format_value(value: Any) -> str:
    """Inverse of :func:`parse_value` (used for URLs and ``--set``)."""
    if _is_nested(value):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return ",".join(f"{a}x{b}" for a, b in value)
        return ",".join(str(v) for v in value)
    return str(value)


def format_type(tp: Any) -> str:
    outer, inner = _base_type(tp)
    if outer is tuple and inner is None:
        return msg("a JSON list")
    if outer is tuple and inner is tuple:
        return msg("a list of (convs x channels) pairs like 1x64,1x128")
    if outer is tuple:
        return msg("a comma list of integers like 2,2,2,2")
    return getattr(outer, "__name__", str(outer))


def check_value(info: KnobInfo, value: Any) -> None:
    k = info.knob
    name = lazy(info.label)
    outer, inner = _base_type(info.type)
    if value is None:
        if type(None) in typing.get_args(info.type):
            return
        raise ConfigError(msg("{name} must be set", name=name), info.name)
    if k.choices is not None and (not isinstance(value, str if outer is str else object)
                                  or value not in k.choices):
        opts = ", ".join(str(c) for c in k.choices)
        raise ConfigError(msg("{name} must be one of {opts} (got '{value}')", name=name,
                              opts=opts, value=_short(value)), info.name)
    _check_type(info, value, outer, inner)
    if outer is tuple:
        if k.min_len is not None and len(value) < k.min_len:
            raise ConfigError(msg("{name} needs at least {n} entries (got {got})", name=name,
                                  n=k.min_len, got=len(value)), info.name)
        if k.max_len is not None and len(value) > k.max_len:
            raise ConfigError(msg("{name} takes at most {n} entries (got {got})", name=name,
                                  n=k.max_len, got=len(value)), info.name)
        if inner is None:
            return  # nested structures are checked by the family's validate()
        flat = [x for pair in value for x in pair] if inner is tuple else list(value)
        for x in flat:
            _check_range(info, x, msg("each entry of {name}", name=name))
        return
    if outer in (int, float) and not isinstance(value, bool):
        _check_range(info, value, name)


def _is_number(x: Any, outer: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (outer is float and isinstance(x, float))


def _check_type(info: KnobInfo, value: Any, outer: Any, inner: Any) -> None:
    """Values from the Python API arrive unparsed: wrong types are a ConfigError, not a
    TypeError three calls later."""
    want = {int: msg("an integer"), float: msg("a number"), bool: msg("true or false"),
            str: msg("text")}.get(outer) or format_type(info.type)
    if outer in (int, float):
        ok = _is_number(value, outer)
    elif outer is bool:
        ok = isinstance(value, bool)
    elif outer is str:
        ok = isinstance(value, str)
    elif outer is tuple and inner is tuple:
        ok = isinstance(value, tuple) and all(
            isinstance(p, tuple) and len(p) == 2 and all(_is_number(x, int) for x in p)
            for p in value)
    elif outer is tuple and inner is not None:
        ok = isinstance(value, tuple) and all(_is_number(x, inner) for x in value)
    else:
        ok = isinstance(value, tuple)
    if not ok:
        raise ConfigError(msg("{name} must be {want} (got '{value}')", name=lazy(info.label),
                              want=want, value=_short(value)), info.name)


def _check_range(info: KnobInfo, x: float, what: str) -> None:
    k = info.knob
    if isinstance(x, float) and not math.isfinite(x):
        raise ConfigError(msg("{what} must be a finite number (got {x})", what=what, x=x),
                          info.name)
    if k.min is not None and x < k.min:
        raise ConfigError(msg("{what} must be at least {min} (got {x})", what=what,
                              min=_num(k.min), x=_num(x)), info.name)
    if k.max is not None and x > k.max:
        raise ConfigError(msg("{what} must be at most {max} (got {x})", what=what,
                              max=_num(k.max), x=_num(x)), info.name)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
