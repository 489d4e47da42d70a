"""The Train page's settings ⇄ the link (the codec is :mod:`vizapp.labs.train.link`; this
module moves its values in and out of the page's widgets).

Before the widgets are drawn, :func:`seed` gives every widget the link carries a value for
(and that has none yet in this session) the link's value; the values the link carries that
cannot be used are kept as messages (:func:`show_messages`). After the widgets,
:func:`sync` writes what they say back into the link (only what differs from the page's
defaults), so a widget change updates the link. A link never starts a training.

The schedule knobs follow the run (:func:`schedule_form`): until the user changes one, it
shows :func:`vizapp.labs.schedules.run_defaults` for the current epochs and lr (T_max = the
epochs …) and moves with them."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import streamlit as st

from vizapp.i18n import _, tr
from vizapp.labs import schedules as S
from vizapp.labs import train as T
from vizapp.labs.train import link as L

from . import widgets
from .text import esc

KEY = "vz.train."
SCHEDULE_KEY = "vz.sched."  # + schedule name + "." + parameter (as on the LR schedules page)
SCHEDULE2_KEY = KEY + "sched2."  # the comparison schedule's
MESSAGES_KEY = KEY + "link.messages"
READ_KEY = KEY + "link.read"
# the page's widget of each PageKnobs field
PAGE_WIDGETS = {"data": "data", "n": "n", "path": "path", "compare": "cmp", "vs": "vs",
                "lr2": "lr2", "schedule2": "sched2", "device": "device", "watch": "watch",
                "unit": "unit"}


def _put(key: str, value: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def _seed_schedule(prefix: str, name: str, args: tuple[tuple[str, Any], ...]) -> None:
    if not args or name not in S.SCHEDULES:
        return
    infos = {p.name: p for p in S.SCHEDULES[name].params}
    for param, value in args:
        _put(f"{prefix}{name}.{param}", widgets.to_widget(infos[param], value))


def seed(choices: Mapping[str, Sequence[Any]]) -> None:
    """Before any widget of the page is drawn: the link's Train settings into the widgets
    that have no value yet; the messages about what it carries that cannot be used are kept
    the first time (``choices``: the values the page's select boxes offer here)."""
    link, messages = L.from_params(st.query_params.to_dict(), choices)
    if not st.session_state.get(READ_KEY):
        st.session_state[READ_KEY] = True
        st.session_state[MESSAGES_KEY] = messages
    default = L.TrainLink()
    for info in T.TrainSettings.knobs():
        value = getattr(link.settings, info.name)
        if value != getattr(default.settings, info.name):
            _put(f"{KEY}s.{info.name}", widgets.to_widget(info, value))
    for name, wkey in PAGE_WIDGETS.items():
        value = getattr(link.page, name)
        if value != getattr(default.page, name):
            _put(KEY + wkey, value)
    _seed_schedule(SCHEDULE_KEY, link.settings.schedule, link.settings.schedule_args)
    _seed_schedule(SCHEDULE2_KEY, link.page.schedule2, link.schedule2_args)


def show_messages() -> None:
    """What the link carried that could not be used (as text), until Train is pressed."""
    messages = st.session_state.get(MESSAGES_KEY) or []
    if messages:
        st.warning(_("Some of the link's Train settings could not be used; they are at their "
                     "defaults:") + "\n\n" + "\n".join(f"- {esc(tr(m))}" for m in messages),
                   icon=":material/link_off:")


def forget_messages() -> None:
    st.session_state[MESSAGES_KEY] = []


def sync(link: T.TrainLink, base: T.TrainLink) -> None:
    """Write ``link`` into the URL's ``t.`` parameters (only what differs from ``base``, the
    page's defaults); the model's parameters and the other pages' are left alone."""
    want = L.to_params(link, base)
    qp = st.query_params
    for key in [k for k in qp.keys() if k.startswith(L.PREFIX) and k not in want]:
        del qp[key]
    for key, value in want.items():
        if qp.get(key) != value:
            qp[key] = value


def schedule_form(container: Any, sch: S.Schedule, prefix: str, epochs: int,
                  lr: float) -> tuple[dict[str, Any], dict[str, str]]:
    """The knobs of schedule ``sch`` (keyed ``{prefix}.{parameter}``) for a run of ``epochs``
    epochs from ``lr``: a knob the user has not changed shows the run's default and follows
    the epochs and lr; one the user (or the link) set keeps its value."""
    run = S.run_defaults(sch.name, epochs, lr)
    for info in sch.params:
        wkey = f"{prefix}.{info.name}"
        auto_key = wkey + ".auto"
        auto = widgets.to_widget(info, run.get(info.name, info.default))
        if wkey not in st.session_state or st.session_state[wkey] == st.session_state.get(
                auto_key):
            st.session_state[wkey] = auto
        st.session_state[auto_key] = auto
    return widgets.knob_form(container, sch.params, prefix)
