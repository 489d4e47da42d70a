"""Compare: the sidebar's configuration (A) next to a second one (B), stage by stage, with the
differences in shapes, params and MACs highlighted.

B is picked on this page (a preset plus its knobs, generated from the config metadata like the
sidebar's) and kept in the URL as ``vs=PRESET`` and ``vs.KNOB=VALUE``.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from vizapp.i18n import N_, _, tr
from vizapp.render.compare import align, auto_depth, diff_table, summary
from vizapp.fmt import human, shape_text
from vizapp.render.plots import compare_costs
from vizapp.zoo import ConfigError, ModelSpec, families, presets, resolve

from . import spec_editor, state, widgets
from .frame import Frame
from .text import esc, md

PREFIX = "vz.b.k"
B_SPEC = "vz.b.spec"
B_MODEL = "vz.b.model"
DEPTH_KEY = "vz.cmp.depth"
# a natural second model for each preset
COLUMNS = {"stage": N_("stage"), "type": N_("type"), "shape A": N_("shape A"),
           "shape B": N_("shape B"), "params A": N_("params A"), "params B": N_("params B"),
           "Δ params": N_("Δ params"), "MACs A": N_("MACs A"), "MACs B": N_("MACs B"),
           "Δ MACs": N_("Δ MACs")}
DIFF_BG = "background-color: #fde68a; color: #1f2937"
MISSING = "color: #94a3b8; font-style: italic"


def default_b(a: ModelSpec) -> ModelSpec:
    """What the zoo pairs ``a`` with: its family's variant (DenseNet growth 32 → 12), else its
    preset's partner (ResNet-18 → ResNet-50), else the preset itself."""
    fam = families().get(a.family)
    if fam is not None and fam.compare_variant is not None:
        knob, value, other = fam.compare_variant
        v = value if getattr(a.config, knob) != value else other
        return dataclasses.replace(a, config=a.config.replace(**{knob: v}))
    preset = presets().get(state.model_name(a))
    if preset is not None and preset.compare_with in presets():
        return resolve(preset.compare_with)
    return state.base_spec(a)


def _b_from_url() -> ModelSpec | None:
    vs = state.view_param("vs")
    if not vs:
        return None
    q = {"model": vs}
    q.update({k[3:]: v for k, v in st.query_params.to_dict().items() if k.startswith("vs.")})
    spec, msgs = state.spec_from_query(q)
    for m in msgs:
        st.caption(":material/link_off: B: " + esc(m))
    return spec


def _load_b(spec: ModelSpec) -> None:
    st.session_state[B_SPEC] = spec
    st.session_state[B_MODEL] = state.model_name(spec)
    widgets.load(spec, PREFIX)


def _on_b_model() -> None:
    try:
        _load_b(resolve(st.session_state[B_MODEL]))
    except ConfigError as exc:
        st.session_state["vz.b.error"] = exc.message


def _sync_url(b: ModelSpec) -> None:
    q = state.query_from_spec(b)
    want = {"vs": q.pop("model")}
    want.update({f"vs.{k}": v for k, v in q.items()})
    for k in list(st.query_params.keys()):
        if k.startswith("vs.") and k not in want:
            del st.query_params[k]
    for k, v in want.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v


def _b_controls(a: ModelSpec) -> ModelSpec:
    """Draw B's pickers; return B's last valid spec."""
    ss = st.session_state
    if B_SPEC not in ss:
        _load_b(_b_from_url() or default_b(a))
    good: ModelSpec = ss[B_SPEC]
    if B_MODEL not in ss:  # Streamlit drops a widget's state on pages not shown: re-seed
        ss[B_MODEL] = state.model_name(good)
    names = list(presets())
    if ss.get(B_MODEL) not in names:
        names.append(ss[B_MODEL])
    for info in type(good.config).knobs():  # widgets dropped while on another page
        spec_editor.widget_key(PREFIX, good, info)
    st.selectbox(_("B: preset"), names, key=B_MODEL, on_change=_on_b_model,
                 help=_("The second configuration; its knobs are below."))
    slots = {}
    with st.expander(_("B's knobs ({family})").format(family=good.family), expanded=False):
        cols = st.columns(2)
        for i, info in enumerate(spec_editor.visible_knobs(good)):
            slots[info.name] = spec_editor.draw(cols[i % 2], PREFIX, good, info)
    cfg, errors = spec_editor.read(PREFIX, good)
    err = ss.pop("vz.b.error", None)
    if err:
        errors[""] = err
    if errors:
        for name, msg in errors.items():
            (slots.get(name) or st).error(esc(tr(msg)), icon="⚠️")
        st.caption(md(_("B keeps its last valid configuration: {}"), good.label))
        return good
    b = dataclasses.replace(good, config=cfg)
    ss[B_SPEC] = b
    return b


def _style(df):
    """Highlight differing shapes and non-zero changes."""
    def row_style(row):
        out = [""] * len(row)
        cols = list(row.index)
        if row["shape A"] != row["shape B"]:
            for c in ("shape A", "shape B"):
                out[cols.index(c)] = DIFF_BG
        for c in ("Δ params", "Δ MACs"):
            if row[c]:
                out[cols.index(c)] = DIFF_BG
        for c in cols:
            if _absent(row[c]):
                out[cols.index(c)] = MISSING
        return out

    # three significant digits, as the metrics above: the columns fit a 1280 px screen
    fmt = {c: human for c in ("params A", "params B", "MACs A", "MACs B")}
    fmt.update({c: (lambda v: ("+" if v > 0 else "") + human(v) if v else "0")
                for c in ("Δ params", "Δ MACs")})
    return df.style.apply(row_style, axis=1).format(fmt, na_rep="—")


def _absent(v) -> bool:
    """A cell with no value: the stage is missing on one side ("—", None or NaN)."""
    return v is None or v == "—" or (isinstance(v, float) and v != v)


def render(frame: Frame) -> None:
    spec = frame.spec
    import pandas as pd

    st.header(_("Compare"))
    st.caption(_("A is the model in the sidebar; choose B here. Stages pair up by name; "
                 "yellow cells differ."))
    a = frame.analysis
    top = st.columns(2, gap="large")
    with top[0]:
        st.markdown(f"##### A · {spec.label}")
        st.caption(_("input {shape} — change it in the sidebar").format(
            shape=shape_text((spec.batch,) + spec.input_shape, batch=True)))
    with top[1]:
        st.markdown("##### B")
        b_spec = _b_controls(spec)
    _sync_url(b_spec)
    b = state.get_analysis(b_spec)
    if a is None or b is None:
        return
    top[1].caption(f"**{b_spec.label}** · " + _("input {shape}").format(
        shape=shape_text((b_spec.batch,) + b_spec.input_shape, batch=True)))

    m = st.columns(4)
    m[0].metric(_("Params A"), human(a.total_params))
    m[1].metric(_("Params B"), human(b.total_params),
                delta=f"{b.total_params - a.total_params:+,}", delta_color="off")
    ma, mb = a.total_macs // max(spec.batch, 1), b.total_macs // max(b_spec.batch, 1)
    m[2].metric(_("MACs / image A"), human(ma))
    m[3].metric(_("MACs / image B"), human(mb), delta=f"{mb - ma:+,}", delta_color="off")
    for line in summary(a, b, spec.label, b_spec.label):
        st.markdown(line)
    for side, x in (("A", a), ("B", b)):
        if x.failure is not None:
            f = x.failure
            st.warning(md(_("{} stops at {}: {}"), side, f.module_path or f.node, f.message),
                       icon=":material/block:")

    max_depth = max(1, min(a.max_depth, b.max_depth, 4))
    auto = min(auto_depth(a, b), max_depth)
    state.bind_widget("cdepth", DEPTH_KEY, auto, int, range(1, max_depth + 1))
    if st.session_state.get(DEPTH_KEY) is None or st.session_state[DEPTH_KEY] > max_depth:
        st.session_state[DEPTH_KEY] = auto
    if max_depth > 1:
        st.segmented_control(_("Stage depth"), list(range(1, max_depth + 1)), key=DEPTH_KEY,
                             help=_("1 = the model's direct children (its stages); higher "
                                    "splits stages into their blocks."))
    depth = st.session_state.get(DEPTH_KEY) or 1
    state.set_view_param("cdepth", depth, default=auto)
    pairs = align(a.rows(depth), b.rows(depth))
    df = pd.DataFrame(diff_table(pairs, spec.batch, b_spec.batch))
    st.dataframe(_style(df), hide_index=True, width="stretch", placeholder="—",
                 column_config={c: tr(COLUMNS[c]) for c in df.columns if c in COLUMNS},
                 height=min(38 + 35 * len(df), 600), key="vz.cmp.table")
    stages = [p.name for p in pairs]
    na, nb = max(spec.batch, 1), max(b_spec.batch, 1)
    fig = compare_costs(stages, [(p.a.params, p.a.macs // na) if p.a else None for p in pairs],
                        [(p.b.params, p.b.macs // nb) if p.b else None for p in pairs],
                        f"A · {spec.label}", f"B · {b_spec.label}")
    st.plotly_chart(fig, width="stretch", key="vz.cmp.chart")
