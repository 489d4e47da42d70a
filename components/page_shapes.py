"""Shapes: the seed-style per-layer table at a chosen depth, the channels / H×W chart, the worked
arithmetic of each row, totals, CSV/JSON downloads — and, when the input is too small, the
failing layer, why, the fix and the smallest input that works."""

from __future__ import annotations

import csv
import io
import json

import streamlit as st

from vizapp.i18n import _
from vizapp.fmt import human, shape_text
from vizapp.render.plots import shape_profile
from vizapp.zoo import ModelSpec

from . import exercise, formula, sidebar, state
from .frame import Frame
from .text import esc, md

DEPTH_KEY = "vz.shapes.depth"


def rf_text(rf) -> str:
    if rf is None:
        return ""
    h, w = rf.size
    return f"{h}" if h == w else f"{h}×{w}"


def table_records(rows) -> list[dict]:
    """The rows as plain dicts for the data frame (name indented by depth)."""
    return [{
        "layer": "\u2003" * max(r.depth - 1, 0) + r.name,
        "type": r.type,
        "output shape": shape_text(r.output_shape),
        "params": r.params,
        "MACs": r.macs,
        "RF": rf_text(r.receptive_field),
    } for r in rows]


def to_csv(rows) -> str:
    """Same columns as ``vizapp table --format csv``."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", "type", "depth", "output_shape", "params", "macs", "receptive_field",
                "explanation"])
    for r in rows:
        w.writerow([r.name, r.type, r.depth,
                    "x".join(map(str, r.output_shape)) if r.output_shape else "",
                    r.params, r.macs, r.receptive_field.size[0] if r.receptive_field else "",
                    r.explanation.replace("\n", " | ")])
    return buf.getvalue()


def show_failure(a, detailed: bool = True) -> None:
    """The failure explanation: message, failing layer, fix, minimum input size."""
    f = a.failure
    if f is None:
        return
    where = f.module_path or f.node
    ins = ", ".join(shape_text(s) for s in f.input_shapes) or "—"
    with st.container(border=True):
        st.markdown("#### :material/block: " + _("The input is too small for this network"))
        # module names (and the messages quoting them) are user text: escaped
        st.markdown(md(_("**Failing layer:** {where} ({op}), which receives a **{ins}** "
                         "feature map."), where=where, op=f.op, ins=ins))
        st.markdown(md(_("**Why:** {text}"), text=f.message))
        st.markdown(md(_("**Fix:** {text}"), text=f.fix))
        if f.min_input is not None:
            mh, mw = f.min_input
            c1, c2 = st.columns([3, 1], vertical_alignment="center")
            c1.markdown(_("**Smallest input that works:** {h}×{w} "
                          "(input now {shape}).").format(h=mh, w=mw,
                                                         shape=shape_text(a.input_shape)))
            c2.button(_("Use {h}×{w}").format(h=mh, w=mw), key="vz.shapes.use_min", on_click=sidebar.set_knobs,
                      kwargs={"height": mh, "width": mw})
        if detailed:
            st.caption(_("The layers before the failing one are listed below with their shapes: "
                         "each downsampling step shrinks H×W until the window no longer fits."))


def _depth_to_url() -> None:
    state.set_view_param("depth", st.session_state[DEPTH_KEY])


def render(frame: Frame) -> None:
    spec = frame.spec
    st.header(_("Shapes"))
    a = frame.analysis
    if a is None:
        return
    show_failure(a)
    ex = exercise.toggle()
    max_depth = _sync_depth(a)
    _metrics(a)
    depth = _toolbar(spec, a, max_depth)
    rows = a.rows(depth)
    event = _table(spec, a, rows, ex)
    _selected_row(spec, rows, event, ex)
    if ex:  # the chart and the worked rows would give the answers away
        return
    _chart_and_arithmetic(a, rows)


def _sync_depth(a) -> int:
    """The table's depth: seed-style 1 unless the link says otherwise, within the model's;
    returns the model's deepest level (at least 1)."""
    max_depth = max(a.max_depth, 1)
    if DEPTH_KEY not in st.session_state:  # seed-style depth 1 unless the link says otherwise
        st.session_state[DEPTH_KEY] = min(max(state.initial_param("depth", 1, int), 1), max_depth)
    st.session_state[DEPTH_KEY] = min(st.session_state[DEPTH_KEY], max_depth)
    return max_depth


def _metrics(a) -> None:
    """Parameters, MACs, output shape and the rows at the current depth."""
    m = st.columns(4)
    m[0].metric(_("Parameters"), human(a.total_params), help=_(
        "{n} ({t} trainable, {b} buffer elements)").format(
        n=f"{a.total_params:,}", t=f"{a.trainable_params:,}", b=f"{a.buffers:,}"))
    m[1].metric("MACs", a.macs_text(human(a.total_macs)),
                help=_("{n} multiply–accumulates; FLOPs ≈ 2×MACs = {f}").format(
                    n=f"{a.total_macs:,}", f=f"{2 * a.total_macs:,}"))
    m[2].metric(_("Output"), shape_text(a.output_shape) if a.output_shape else "—",
                help=_("Output tensor {out} (N×…) for input {inp}").format(
                    out=shape_text(a.output_shape, batch=True),
                    inp=shape_text(a.input_shape, batch=True)))
    rows = a.rows(st.session_state[DEPTH_KEY])
    m[3].metric(_("Rows at this depth"), f"{len(rows)}")


def _toolbar(spec: ModelSpec, a, max_depth: int) -> int:
    """The depth slider and the CSV/JSON downloads of the table at that depth; returns it."""
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    if max_depth > 1:
        c1.slider(_("Depth (1 = what named_children() lists; higher expands nested blocks)"),
                  1, max_depth, key=DEPTH_KEY, on_change=_depth_to_url)
    else:
        c1.caption(_("Every layer is a direct child of the model (depth 1)."))
    depth = st.session_state[DEPTH_KEY]
    rows = a.rows(depth)
    name = (spec.preset or spec.family).replace(":", "_")
    c2.download_button("CSV", to_csv(rows), file_name=f"{name}-shapes.csv", mime="text/csv",
                       icon=":material/download:", width="stretch")
    c3.download_button("JSON", json.dumps(a.to_dict(depth), indent=2, ensure_ascii=False),
                       file_name=f"{name}-shapes.json", mime="application/json",
                       icon=":material/download:", width="stretch")
    return depth


def _table(spec: ModelSpec, a, rows, ex: bool):
    """The per-layer table (answers masked in an exercise), its totals and notes, and the
    formula panel; returns the table's selection event."""
    recs = table_records(rows)
    if ex:  # predict, then reveal: unsolved output shapes hidden, the question above the table
        recs = exercise.mask(recs, rows, exercise.key_of(spec))
        exercise.panel(exercise.key_of(spec), rows)
    event = st.dataframe(
        recs, hide_index=True, width="stretch", key="vz.shapes.table",
        on_select="rerun", selection_mode="single-row",
        height=min(38 + 35 * len(recs), 560),
        column_config={
            "layer": st.column_config.TextColumn(_("layer"), width="medium"),
            "type": st.column_config.TextColumn(_("type")),
            "output shape": st.column_config.TextColumn(_("output shape (C×H×W)")),
            "params": st.column_config.NumberColumn(_("params"), format="localized"),
            "MACs": st.column_config.NumberColumn("MACs", format="localized"),
            "RF": st.column_config.TextColumn(_("RF"), help=_("Receptive field: how many input "
                                                              "pixels one output pixel sees")),
        })
    st.caption(_("**Total:** {p} parameters · {m} MACs (FLOPs ≈ {f}) · output {out}. "
                 "Select a row for its arithmetic.").format(
        p=f"{a.total_params:,}", m=f"{a.total_macs:,}", f=human(2 * a.total_macs),
        out=shape_text(a.output_shape, batch=True)))
    for note in a.notes:
        st.caption(":material/info: " + esc(note, 1000))
    formula.panel(a, example=not ex)
    return event


def _selected_row(spec: ModelSpec, rows, event, ex: bool) -> None:
    """The arithmetic of the selected row (not of a row whose answer an exercise hides)."""
    selected = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if selected and 0 <= selected[0] < len(rows) and not (
            ex and exercise.hidden(exercise.key_of(spec), rows[selected[0]].name)):
        r = rows[selected[0]]
        with st.container(border=True):
            st.markdown(md("**{}** · {} · {} → {}", r.name, r.type,
                           " + ".join(shape_text(s) for s in r.input_shapes) or "—",
                           shape_text(r.output_shape)))
            st.code(r.explanation or _("(no arithmetic recorded)"), language=None,
                    wrap_lines=True)


def _chart_and_arithmetic(a, rows) -> None:
    st.subheader(_("Channels and spatial size along the network"))
    st.plotly_chart(shape_profile(rows, a.input_shape), width="stretch",
                    key="vz.shapes.chart")

    st.subheader(_("Worked arithmetic, row by row"))
    if len(rows) > 80:
        st.caption(_("{n} rows: select a row in the table above for its arithmetic, or "
                     "lower the depth to list them all here.").format(n=len(rows)))
        return
    for r in rows:
        title = md("{} — {} → {}", r.name, r.type, shape_text(r.output_shape))
        with st.expander(title):
            st.code(r.explanation or _("(no arithmetic recorded)"), language=None, wrap_lines=True)
