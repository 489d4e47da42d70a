"""The strip above every page: what model this is, what was wrong with the URL, and — when the
input is too small — the one-line reason with a button to use the smallest input that works."""

from __future__ import annotations

import streamlit as st

from vizapp.fmt import human, shape_text
from vizapp.zoo import format_value
from vizapp.i18n import _, tr

from . import exercise, present, sidebar, state
from .frame import Frame
from .text import esc, md


# pages that explain a failure themselves (the banner would repeat them)
EXPLAINS_FAILURE = {"shapes", "graph"}  # url paths


CSS = """<style>
/* less empty space between the top navigation and the page */
[data-testid="stMainBlockContainer"] { padding-top: 4.75rem; }
/* ten pages fit the top navigation at 1280 px wide (the last one was cut at 8 px padding) */
[data-testid="stTopNavLink"] { padding-left: 5px; padding-right: 5px; }
</style>"""


def render(frame: Frame, page: str = "") -> None:
    spec = frame.spec
    st.html(CSS)
    present.toggle()
    invalid = st.session_state.get(sidebar.INVALID_KEY)
    if invalid:
        where = _("fix the code in the box below (its line is marked)") \
            if st.session_state.get(sidebar.FAMILY_KEY) == "custom" else \
            _("fix the knob marked in the sidebar")
        st.warning(md(_("Your last change is not a valid model ({}). Everything below still "
                        "shows **{}**; {}."), invalid, spec.label, where),
                   icon=":material/undo:")
    msgs = st.session_state.get(state.URL_MESSAGES_KEY) or []
    if msgs:
        if st.session_state.get("vz.url_spec") is None:
            st.session_state["vz.url_spec"] = spec
        if st.session_state["vz.url_spec"] == spec:
            st.warning(_("Some of the link's settings could not be used:") + "\n\n"
                       + "\n".join(f"- {esc(tr(m))}" for m in msgs), icon=":material/link_off:")
        else:
            st.session_state[state.URL_MESSAGES_KEY] = []
    a = frame.analysis
    if a is None:
        return
    n, c, h, w = (list(a.input_shape) + [None] * 4)[:4]
    parts = [f"**{spec.label}**",
             _("input {shape}").format(shape=shape_text(a.input_shape, batch=True))]
    if exercise.on():  # predict, then reveal: the output and the totals would give answers away
        parts.append(_("exercise: output and totals hidden"))
    else:
        if a.output_shape is not None:
            parts.append(_("output {shape}").format(shape=shape_text(a.output_shape,
                                                                      batch=True)))
        per_batch = f" (× {n} = {human(a.total_macs)})" if n and n > 1 else ""
        parts += [_("{n} params").format(n=human(a.total_params)),
                  _("{n} MACs per image").format(n=a.macs_text(human(a.macs_per_image)))
                  + per_batch]
    st.caption(" · ".join(parts))
    near = spec.near()
    if near:
        st.caption(esc(_("Equal to {presets} but for a detail.").format(presets=_("; ").join(
            _("{preset} (its {diffs})").format(preset=name, diffs=", ".join(
                f"{k}={format_value(theirs)}" for k, (_ours, theirs) in diff.items()))
            for name, diff in near))))
    f = a.failure
    if f is not None and page not in EXPLAINS_FAILURE:
        cols = st.columns([5, 1.3], vertical_alignment="center")
        where = f.module_path or f.node
        cols[0].error(md(_("**{} cannot run on a {}×{}×{} input** — at {} ({}): {}"), spec.label,
                         c, h, w, where, f.op, f.message), icon=":material/block:")
        if f.min_input is not None:
            mh, mw = f.min_input
            cols[1].button(_("Use {h}×{w} input").format(h=mh, w=mw), key="vz.use_min_input",
                           type="primary",
                           on_click=sidebar.set_knobs, kwargs={"height": mh, "width": mw},
                           help=_("The smallest input size this network accepts "
                                  "(found by searching sizes). See the Shapes page for why."))
