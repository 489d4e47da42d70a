"""The code box of the "Your own model" family: a full-width text area above the page (the
sidebar only points to it), the evaluator's message under it as plain text (never Markdown)
with the lines around the error numbered and the error's line marked, a numbered listing on
request, and the one-click fix for a Linear whose in_features does not match what arrives.
What was typed is never thrown away: the widget keeps it, and the rest of the app keeps showing
the last good model.

Streamlit's own text area, not an editor component: the maintained choices are iframes
(streamlit-code-editor, last release 2024-12; streamlit-ace, 2021) that would lose Ctrl+Enter's
"apply", the browser's own undo and text-area accessibility; line numbers come with the
error's excerpt and the listing instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from vizapp.i18n import _, tr

from vizapp.zoo import ModelSpec

FAMILY = "custom"
HEIGHT = 300
ANCHOR = "your-code"  # the sidebar's link points here
# code, not prose: monospace, no soft wrapping (the sidebar is narrow; scroll sideways instead)
CSS = ("<style>textarea[aria-label='Code']{font-family:ui-monospace,Menlo,Consolas,monospace;"
       "font-size:12.5px;white-space:pre;overflow-x:auto}</style>")


@dataclass
class Slots:
    """Places under the box: the evaluator's message, and the fix for the model just built."""

    error: Any
    fix: Any


def draw(info, wkey: str, place: Any = None) -> Slots:
    """The code area (its value is already in session state) and the places under it, in
    ``place`` (the main area, above the page) when given; the sidebar then gets a link."""
    if place is None:
        return _area(info, wkey)
    st.caption(_("Your code is in the main area, above the page:"))
    st.markdown(f"[{_('✎ Edit your code')}](#{ANCHOR})")
    with place:
        with st.expander(_("Your code"), expanded=True, icon=":material/code:"):
            st.html(f'<div id="{ANCHOR}"></div>')
            return _area(info, wkey)


def _area(info, wkey: str) -> Slots:
    from vizapp.custom import allow_code

    if allow_code():
        st.warning(_("Arbitrary Python is on (started with --allow-code): classes with forward() "
                     "run as written. Use this only on your own computer."),
                   icon=":material/warning:")
    st.html(CSS)
    st.text_area(_("Code"), key=wkey, height=HEIGHT, help=tr(info.knob.help),
                 placeholder="net = nn.Sequential(...)")
    left, right = st.columns([3, 1])
    left.caption(_("Ctrl+Enter (or click outside the box) applies the code."))
    if right.toggle(_("Line numbers"), key="vz.code_numbers"):
        st.code(st.session_state.get(wkey, ""), language="python", line_numbers=True)
    return Slots(st.empty(), st.container())


def finish(slots: Slots, frame, wkey: str) -> None:
    """After the frame has the model's analysis: its fix and the link note."""
    with slots.fix:
        offer_fix(frame.spec, frame.analysis, wkey)
        url_note(frame.spec)


def show_error(slots: Slots, message: str, cfg: Any = None) -> None:
    """The evaluator's message, as text, and the lines around the error with its line marked
    (``cfg``: the refused config, whose code and input the error's line and column come from)."""
    from vizapp.custom import refusal
    from vizapp.render.excerpt import excerpt

    box = slots.error.container()
    box.markdown(":red[:material/error: " + _("The code was not applied:") + "]")
    box.code(message, language=None, wrap_lines=True)
    code = getattr(cfg, "code", None)
    if not isinstance(code, str):
        return
    err = refusal(code, cfg.input_shape)
    lines = "" if err is None else excerpt(code, err.line, err.col)
    if lines:
        box.code(lines, language=None)


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
