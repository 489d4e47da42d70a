"""Code: the runnable PyTorch code of the current configuration, in the seed's styles
(nn.Sequential, add_module, OrderedDict, a class), to copy or download."""

from __future__ import annotations

import streamlit as st

from vizapp.render.code import STYLE_TITLES, CodegenError, available_styles, generate
from vizapp.zoo import ModelSpec

from . import state, text

STYLE_KEY = "vz.code.style"
NOTES = {
    "sequential": "The d2l way: layers listed in order. Child names become 0, 1, 2 …",
    "add_module": "Build an empty nn.Sequential and add named layers one by one.",
    "ordereddict": "nn.Sequential from an OrderedDict: the names become the state_dict keys.",
    "class": "An nn.Module subclass: layers in __init__, the data flow in forward() — the only "
             "style that can express residual additions and concatenations.",
}


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs={ModelSpec: repr})
def _styles(spec: ModelSpec) -> tuple[str, ...]:
    return available_styles(spec)


@st.cache_data(max_entries=64, show_spinner="Writing the code…", hash_funcs={ModelSpec: repr})
def _code(spec: ModelSpec, style: str) -> str:
    """In a worker process: the class style's forward is written by torch.fx (a trace)."""
    from vizapp.runtime import workers

    return workers.call(generate, spec, style)


def render(spec: ModelSpec) -> None:
    st.header("Code")
    st.caption("Standalone PyTorch for exactly this configuration: paste it into a notebook or "
               "save it as a file and run it. Same layers and shapes as here; fresh weights.")
    styles = _styles(spec)
    if st.session_state.get(STYLE_KEY) not in styles:
        want = state.view_param("style", None)
        st.session_state[STYLE_KEY] = want if want in styles else styles[0]
    style = st.segmented_control("Style", styles, key=STYLE_KEY, format_func=STYLE_TITLES.get,
                                 help="The seed page 003's ways of writing a model.")
    style = style or styles[0]
    state.set_view_param("style", style, default=styles[0])
    note = NOTES[style]
    if styles == ("class",):
        note += (" This model has residual additions, concatenations or custom blocks, so the "
                 "nn.Sequential styles cannot express it.")
    st.caption(note)
    try:
        code = _code(spec, style)
    except CodegenError as exc:
        text.show_warning(exc, icon=":material/code_off:")
        return
    name = (spec.preset or spec.family).replace(":", "_").replace("-", "_")
    st.download_button("Download .py", code, file_name=f"{name}_{style}.py", mime="text/x-python",
                       icon=":material/download:", key="vz.code.download")
    st.code(code, language="python", line_numbers=True)
