"""The code box of the "Your own model" family: a text area instead of generated knob widgets,
the evaluator's message under it as plain text (never Markdown), and the one-click fix for a
Linear whose in_features does not match what arrives. What was typed is never thrown away: the
widget keeps it, and the rest of the app keeps showing the last good model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from vizapp.i18n import _, tr

from vizapp.zoo import ModelSpec

FAMILY = "custom"
HEIGHT = 340
# code, not prose: monospace, no soft wrapping (the sidebar is narrow; scroll sideways instead)
CSS = ("<style>textarea[aria-label='Code']{font-family:ui-monospace,Menlo,Consolas,monospace;"
       "font-size:12.5px;white-space:pre;overflow-x:auto}</style>")


@dataclass
class Slots:
    """Places under the box: the evaluator's message, and the fix for the model just built."""

    error: Any
    fix: Any


def draw(info, wkey: str) -> Slots:
    """The code area (its value is already in session state) and the places under it."""
    from vizapp.custom import allow_code

    if allow_code():
        st.warning(_("Arbitrary Python is on (started with --allow-code): classes with forward() "
                     "run as written. Use this only on your own computer."),
                   icon=":material/warning:")
    st.html(CSS)
    st.text_area(_("Code"), key=wkey, height=HEIGHT, help=tr(info.knob.help),
                 placeholder="net = nn.Sequential(...)")
    st.caption(_("Ctrl+Enter (or click outside the box) applies the code."))
    return Slots(st.empty(), st.container())


def finish(slots: Slots, frame, wkey: str) -> None:
    """After the frame has the model's analysis: its fix and the link note."""
    with slots.fix:
        offer_fix(frame.spec, frame.analysis, wkey)
        url_note(frame.spec)


def show_error(slots: Slots, message: str) -> None:
    """The evaluator's message, as text."""
    box = slots.error.container()
    box.markdown(":red[:material/error: The code was not applied:]")
    box.code(message, language=None, wrap_lines=True)


def _apply(wkey: str, new: str) -> None:
    st.session_state[wkey] = new


def offer_fix(spec: ModelSpec, a, wkey: str) -> None:
    """Under the box: when the current model stops at a Linear that gets the wrong number of
    features, a button that rewrites that Linear's in_features in the code."""
    from vizapp.custom import fix

    f = None if a is None else a.failure
    if f is None or f.features is None:
        return
    fx = fix.linear_in_features(spec.config.code, f.module_path, f.features,
                                spec.config.input_shape)
    if fx is None:
        return
    want, got = f.features
    st.text(_("Line {line}: this Linear expects {want} features but {got} arrive.").format(
        line=fx.line, want=want, got=got))
    st.button(tr(fx.label), key="vz.code_fix", type="primary", on_click=_apply,
              args=(wkey, fix.apply(spec.config.code, fx)),
              help=_("Rewrites that number in the code above and rebuilds the model."))


def url_note(spec: ModelSpec) -> None:
    """Say so when the code is too long to travel in the link."""
    from vizapp.custom import CodeError, url

    try:
        url.encode(spec.config.code)
    except CodeError as exc:
        st.text(tr(exc.reason))
