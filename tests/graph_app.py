"""Tiny Streamlit app for the graph viewer's end-to-end test.

    streamlit run tests/graph_app.py -- resnet18        (or ?model=NAME in the URL)

Renders the Graph page (viewer, details panel, exports) for one preset, nothing else.
"""

import sys

import streamlit as st

from components import frame, page_graph
from vizapp.zoo import resolve

if __name__ != "__mp_main__":  # the analysis workers re-import this file: draw nothing there
    st.set_page_config(page_title="vizapp graph test", layout="wide")
    name = st.query_params.get("model") or (sys.argv[1] if len(sys.argv) > 1 else "resnet18")
    page_graph.render(frame.begin(resolve(name)))
