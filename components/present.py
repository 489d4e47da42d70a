"""Presentation mode: for a teacher projecting the app (1280×720 from the back row).

One toggle on every page (and ``present=1`` in the URL): the sidebar is hidden, the type is
larger, the graph is laid out left-to-right when that fits a wide screen better and opens at a
readable zoom on its first block instead of fit-all."""

from __future__ import annotations

import streamlit as st
from vizapp.i18n import _

from . import state

KEY = "vz.present"

CSS = """<style>
html { font-size: 20px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding-top: 4.2rem !important;
  padding-left: 1.5rem !important; padding-right: 1.5rem !important; }
[data-testid="stMainBlockContainer"] h2 { padding-top: 0.2rem !important; padding-bottom: 0.2rem; }
[data-testid="stCaptionContainer"] { font-size: 0.95rem !important; }
[data-testid="stDataFrame"] { font-size: 1rem; }
[data-testid="stCode"] code { font-size: 0.95rem !important; }
.js-plotly-plot .xtick text, .js-plotly-plot .ytick text { font-size: 14px !important; }
.js-plotly-plot .g-xtitle text, .js-plotly-plot .g-ytitle text,
.js-plotly-plot .legend text { font-size: 15px !important; }
[data-testid="stButtonGroup"] > div { flex-wrap: wrap; overflow: visible !important; }
[data-testid="stButtonGroup"] button { padding-left: 0.6rem; padding-right: 0.6rem; }
</style>"""


def on() -> bool:
    """Whether presentation mode is on (the link's ``present=1`` the first time)."""
    state.bind_widget("present", KEY, False, lambda v: v in ("1", "true", "on"))
    return bool(st.session_state[KEY])


def toggle() -> bool:
    """The switch (top of every page) and, when on, the styles; returns whether it is on."""
    on()
    value = st.toggle(_("Presentation mode"), key=KEY,
                      help=_("For a projector: no sidebar, larger type, the graph left-to-right "
                             "and zoomed to a readable size. The link keeps it (present=1)."))
    state.set_view_param("present", "1" if value else None)
    if value:
        st.html(CSS)
    return value
