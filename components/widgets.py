"""Widgets generated from a config dataclass's knob metadata (no hand-written widget per knob).

``int`` → slider (small ranges) or number input, ``float`` → number input, ``bool`` → toggle,
``str`` (or optional value) with choices → select box, ``tuple[int, ...]`` → text "2,2,2,2",
tuple of pairs → text "1x64,1x128" (parsed with :func:`vizapp.zoo.parse_value`).

The widget values live in ``st.session_state`` under ``{prefix}.{family}.{knob}``; they are
written by :func:`load` (from a spec, before the widgets are drawn) and read back by
:func:`read` (into a typed config, raising :class:`ConfigError` naming the knob).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import streamlit as st

from vizapp.i18n import _, tr
from vizapp.zoo import ConfigError, KnobInfo, ModelSpec, format_value, parse_value

SLIDER_MAX_STEPS = 160  # int knobs with at most this many positions get a slider


def _outer(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union or str(origin) == "types.UnionType":
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _outer(args[0])
    return origin or tp


def _optional(tp: Any) -> bool:
    return type(None) in typing.get_args(tp)


def kind(info: KnobInfo) -> str:
    """'choice', 'bool', 'slider', 'int', 'float' or 'text'."""
    outer = _outer(info.type)
    k = info.knob
    if k.choices is not None:
        return "choice"
    if outer is bool:
        return "bool"
    if outer is int and not _optional(info.type):
        step = k.step or 1
        if (k.min is not None and k.max is not None and info.knob.group not in ("input", "batch")
                and (k.max - k.min) / step <= SLIDER_MAX_STEPS):
            return "slider"
        return "int"
    if outer is float and not _optional(info.type):
        return "float"
    return "text"


def key(prefix: str, family: str, name: str) -> str:
    return f"{prefix}.{family}.{name}"


def to_widget(info: KnobInfo, value: Any) -> Any:
    """A typed config value → the value its widget holds."""
    kd = kind(info)
    if kd == "choice":
        return value
    if kd == "bool":
        return bool(value)
    if kd in ("slider", "int"):
        return int(value)
    if kd == "float":
        return float(value)
    return format_value(value)


def from_widget(info: KnobInfo, value: Any) -> Any:
    """A widget value → the typed config value (ConfigError naming the knob if unreadable)."""
    if kind(info) == "text":
        return parse_value(info, "" if value is None else str(value))
    return parse_value(info, value)


def load(spec: ModelSpec, prefix: str) -> None:
    """Set every knob widget of ``spec``'s family to ``spec``'s values (call before drawing)."""
    for info in type(spec.config).knobs():
        st.session_state[key(prefix, spec.family, info.name)] = to_widget(
            info, getattr(spec.config, info.name))


def _help(info: KnobInfo) -> str:
    k = info.knob
    extra = []
    if k.min is not None or k.max is not None:
        lo = "" if k.min is None else _num(k.min)
        hi = "" if k.max is None else _num(k.max)
        extra.append(_("range {lo}…{hi}").format(lo=lo, hi=hi))
    if kind(info) == "text":
        from vizapp.knobs import format_type
        extra.append(_("type {type}").format(type=format_type(info.type)))
    return tr(k.help) + (f"  \n*{'; '.join(extra)}*" if extra else "")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def draw(container: Any, info: KnobInfo, wkey: str, label: str | None = None,
         disabled: bool = False) -> None:
    """Draw one knob's widget in ``container`` (its value is already in session state)."""
    k = info.knob
    label = tr(label) if label else tr(info.label).capitalize()
    kd = kind(info)
    help_ = _help(info)
    current = st.session_state.get(wkey)
    if kd == "choice":
        options = list(k.choices)
        if current not in options:
            options.append(current)
        container.selectbox(label, options, key=wkey, help=help_, disabled=disabled,
                            format_func=lambda v: "none" if v is None else str(v))
    elif kd == "bool":
        container.toggle(label, key=wkey, help=help_, disabled=disabled)
    elif kd == "slider":
        lo, hi, step = int(k.min), int(k.max), int(k.step or 1)
        if isinstance(current, int):
            lo, hi = min(lo, current), max(hi, current)
        container.slider(label, min_value=lo, max_value=hi, step=step, key=wkey, help=help_,
                         disabled=disabled)
    elif kd == "int":
        lo = None if k.min is None else int(k.min)
        hi = None if k.max is None else int(k.max)
        if isinstance(current, int):
            lo = None if lo is None else min(lo, current)
            hi = None if hi is None else max(hi, current)
        container.number_input(label, min_value=lo, max_value=hi, step=int(k.step or 1),
                               key=wkey, help=help_, disabled=disabled)
    elif kd == "float":
        lo = None if k.min is None else float(k.min)
        hi = None if k.max is None else float(k.max)
        if isinstance(current, float):
            lo = None if lo is None else min(lo, current)
            hi = None if hi is None else max(hi, current)
        container.number_input(label, min_value=lo, max_value=hi,
                               step=float(k.step) if k.step else None, key=wkey, help=help_,
                               format="%g", disabled=disabled)
    elif isinstance(current, str) and len(current) > 40:
        container.text_area(label, key=wkey, help=help_, disabled=disabled, height=110)
    else:
        container.text_input(label, key=wkey, help=help_, disabled=disabled)


def knob_form(container: Any, infos: tuple[KnobInfo, ...], prefix: str,
              disabled: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Widgets for any set of knobs (an LR schedule's parameters, the training settings), keyed
    ``{prefix}.{knob}`` and first shown at the knob's default; returns the typed values and
    per-knob error messages (a value that cannot be read keeps the default)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for info in infos:
        wkey = f"{prefix}.{info.name}"
        if wkey not in st.session_state:
            st.session_state[wkey] = to_widget(info, info.default)
        draw(container, info, wkey, label=info.label, disabled=disabled)
        try:
            values[info.name] = from_widget(info, st.session_state[wkey])
        except ConfigError as exc:
            values[info.name] = info.default
            errors[info.name] = exc.message
    return values, errors


def read(spec: ModelSpec, prefix: str) -> tuple[Any, dict[str, str]]:
    """The typed config the widgets describe, and per-knob error messages.

    Unreadable values are reported per knob (and left at ``spec``'s value); when all are
    readable the cross-field ``validate()`` runs and its error is reported under its knob
    (``""`` when it names none). The returned config is only valid when there are no errors."""
    cfg = spec.config
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for info in type(cfg).knobs():
        wkey = key(prefix, spec.family, info.name)
        if wkey not in st.session_state:
            continue
        try:
            changes[info.name] = from_widget(info, st.session_state[wkey])
        except ConfigError as exc:
            errors[info.name] = exc.message
    cfg = dataclasses.replace(cfg, **changes)
    if not errors:
        try:
            cfg.validate()
        except ConfigError as exc:
            errors[exc.knob or ""] = exc.message
        except Exception as exc:  # noqa: BLE001 - a family's validate() gone wrong
            errors[""] = str(exc)
    return cfg, errors
