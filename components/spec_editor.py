"""The one spec editor: the sidebar's model (A) and Compare's B are the same widgets for a
spec's knobs — which knobs are shown (the family's ``hidden_knobs`` are not), their widget
keys under a prefix, seeded from a spec the first time (and again after Streamlit dropped them
on a page not shown), and the typed config they describe."""

from __future__ import annotations

from typing import Any

import streamlit as st

from vizapp.zoo import ModelSpec, families

from . import widgets


def visible_knobs(spec: ModelSpec) -> list:
    """The spec's knobs a person edits: all but the ones its family's pickers set."""
    fam = families().get(spec.family)
    hidden = fam.hidden_knobs if fam is not None else ()
    return [k for k in type(spec.config).knobs() if k.name not in hidden]


def widget_key(prefix: str, spec: ModelSpec, info: Any) -> str:
    """The knob's widget key, its value taken from ``spec`` the first time (or again when
    Streamlit dropped the widget's state on a page not shown)."""
    wkey = widgets.key(prefix, spec.family, info.name)
    if wkey not in st.session_state:
        st.session_state[wkey] = widgets.to_widget(info, getattr(spec.config, info.name))
    return wkey


def draw(container: Any, prefix: str, spec: ModelSpec, info: Any,
         label: str | None = None, slot: bool = True) -> Any:
    """One knob's widget in ``container``; returns the slot under it for its error (None with
    ``slot=False``: the caller puts the errors elsewhere)."""
    widgets.draw(container, info, widget_key(prefix, spec, info), label=label)
    return container.empty() if slot else None


def read(prefix: str, spec: ModelSpec) -> tuple[Any, dict[str, str]]:
    """The typed config the widgets describe and per-knob error messages (widgets.read)."""
    return widgets.read(spec, prefix)
