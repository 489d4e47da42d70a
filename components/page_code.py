"""Code: the runnable PyTorch code of the current configuration, in the seed's styles
(nn.Sequential, add_module, OrderedDict, a class), to copy or download."""

from __future__ import annotations

import streamlit as st

from vizapp.i18n import N_, _, get_lang, tr
from vizapp.render.code import STYLE_TITLES, STYLES, CodegenError, available_styles, generate
from vizapp.render.seed_code import generate_seed, seed_style, supports
from vizapp.zoo import ModelSpec

from . import state, text
from .frame import Frame

STYLE_KEY = "vz.code.style"
FORM_KEY = "vz.code.form"
FORMS = {"seed": N_("As the seed writes it"), "flat": N_("One class (traced forward)")}
FORM_NOTES = {
    "seed": N_("The seed's building blocks (`Residual`/`resnet_block`, the bottleneck ResNet's "
            "`_make_layer`, `Inception` with p1…p4, `conv_block`/`DenseBlock`/"
            "`transition_block`), with this configuration's numbers. The blocks are classes in "
            "every style — `nn.Sequential` "
            "cannot add a shortcut or concatenate branches — so the style changes only how the "
            "top-level chain is written. Run it: the loop at the end prints the Shapes table."),
    "flat": N_("Every module rebuilt with the app's names (`state_dict` keys match) and "
               "`forward()` written by torch.fx."),
}
NOTES = {
    "sequential": N_("The d2l way: layers listed in order. Child names become 0, 1, 2 …"),
    "add_module": N_("Build an empty nn.Sequential and add named layers one by one."),
    "ordereddict": N_("nn.Sequential from an OrderedDict: the names become the state_dict keys."),
    "class": N_("An nn.Module subclass: layers in `__init__`, the data flow in `forward()` — the "
                "only style that can express residual additions and concatenations."),
}


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs={ModelSpec: repr})
def _styles(spec: ModelSpec) -> tuple[str, ...]:
    return available_styles(spec)


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs={ModelSpec: repr})
def _code(spec: ModelSpec, style: str, form: str = "flat", lang: str = "en") -> str:
    """In a worker process: the class style's forward is written by torch.fx (a trace); the
    comments in ``lang``."""
    from vizapp.runtime import workers

    return workers.call(generate_seed if form == "seed" else generate, spec, style, None, lang)


def _form(spec: ModelSpec) -> str:
    """"seed" (the seed's own blocks) or "flat" (one class, fx forward); in the URL as form=."""
    if not supports(spec):
        return "flat"
    if st.session_state.get(FORM_KEY) not in FORMS:
        want = state.view_param("form", "seed")
        st.session_state[FORM_KEY] = want if want in FORMS else "seed"
    form = st.segmented_control(_("Written"), list(FORMS), key=FORM_KEY,
                                format_func=lambda k: tr(FORMS[k]),
                                help=_("The seed pages write ResNet, GoogLeNet and DenseNet with "
                                       "their own building blocks; the flat form rebuilds every "
                                       "module under the app's names.")) or "seed"
    state.set_view_param("form", form, default="seed")
    st.caption(tr(FORM_NOTES[form]))
    return form


def render(frame: Frame) -> None:
    spec = frame.spec
    st.header(_("Code"))
    st.caption(_("Standalone PyTorch for exactly this configuration: paste it into a notebook or "
                 "save it as a file and run it. Same layers and shapes as here; fresh weights."))
    form = _form(spec)
    styles = STYLES if form == "seed" else _styles(spec)
    first = seed_style(spec) if form == "seed" else styles[0]
    if st.session_state.get(STYLE_KEY) not in styles:
        want = state.view_param("style", None)
        st.session_state[STYLE_KEY] = want if want in styles else first
    style = st.segmented_control(_("Style"), styles, key=STYLE_KEY, format_func=STYLE_TITLES.get,
                                 help=_("The seed page 003's ways of writing a model."))
    style = style or first
    state.set_view_param("style", style, default=first)
    note = tr(NOTES[style])
    if form == "flat" and styles == ("class",):
        note += _(" This model has residual additions, concatenations or custom blocks, so the "
                  "nn.Sequential styles cannot express it.")
    st.caption(note)
    try:
        with st.spinner(_("Writing the code…")):
            code = _code(spec, style, form, get_lang())
    except CodegenError as exc:
        text.show_warning(exc, icon=":material/code_off:")
        return
    name = (spec.preset or spec.family).replace(":", "_").replace("-", "_")
    st.download_button(_("Download .py"), code, file_name=f"{name}_{form}_{style}.py", mime="text/x-python",
                       icon=":material/download:", key="vz.code.download")
    st.code(code, language="python", line_numbers=True)
