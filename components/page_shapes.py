"""Shapes: the seed-style per-layer table at a chosen depth, the channels / H×W chart, the worked
arithmetic of each row, totals, CSV/JSON downloads — and, when the input is too small, the
failing layer, why, the fix and the smallest input that works."""

from __future__ import annotations

import csv
import io
import json

import streamlit as st

from vizapp.i18n import N_, _, tr
from vizapp.fmt import human, shape_text
from vizapp.render.plots import shape_profile
from vizapp.zoo import ModelSpec

from . import class_panel, exercise, formula, sidebar, state
from .frame import Frame
from .text import esc, md

DEPTH_KEY = "vz.shapes.depth"


def rf_text(rf) -> str:
    if rf is None:
        return ""
    h, w = rf.size
    return f"{h}" if h == w else f"{h}×{w}"


def table_records(rows, batch: int = 1) -> list[dict]:
    """The rows as plain dicts for the data frame (name indented by depth; MACs per image,
    the app's convention on screen: the downloads keep ``vizapp table``'s batch totals)."""
    return [{
        "layer": "\u2003" * max(r.depth - 1, 0) + r.name,
        "type": r.type,
        "output shape": shape_text(r.output_shape),
        "params": r.params,
        "MACs": r.macs // max(batch, 1),
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


# each kind of failure in a student's words: (headline, what the table below shows and why)
FAILURE_TEXTS = {
    "too_small": (N_("The input is too small for this network"),
                  N_("The layers before the failing one are listed below with their shapes: "
                     "each downsampling step shrinks H×W until the window no longer fits.")),
    "linear_features": (N_("A Linear layer expects a different number of features"),
                        N_("The Flatten before it turns C×H×W into C·H·W features, and the "
                           "Linear's in_features must equal that product: the rows below show "
                           "the C×H×W that arrives. A larger input does not help unless it "
                           "makes exactly that number.")),
    "channels": (N_("A layer expects a different number of channels"),
                 N_("A convolution's (or BatchNorm's) channels must equal the channels arriving: "
                    "the previous layer's out_channels, or C of the input for the first layer. "
                    "The rows below show which layer produces what.")),
    "join": (N_("The branches being joined have different shapes"),
             N_("An addition needs equal shapes; a concatenation needs equal shapes except along "
                "the dimension it concatenates. Both operands are named above; the rows below "
                "show the branches that made them.")),
    "reshape": (N_("A reshape cannot hold the elements"),
                N_("view/reshape keeps the number of elements: the product of the new shape must "
                   "equal the product of the old one (one -1 is worked out from the rest).")),
    "other": (N_("This layer cannot run on what reaches it"),
              N_("The layers before the failing one are listed below with their shapes.")),
}


def show_failure(a, detailed: bool = True) -> None:
    """The failure explanation: its kind's headline, the failing layer, why, the fix, the
    minimum input size (for an input that is too small)."""
    f = a.failure
    if f is None:
        return
    where = f.module_path or f.node
    ins = ", ".join(shape_text(s) for s in f.input_shapes) or "—"
    headline, explanation = FAILURE_TEXTS.get(f.kind, FAILURE_TEXTS["other"])
    with st.container(border=True):
        st.markdown("#### :material/block: " + tr(headline))
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
            st.caption(tr(explanation))


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

    max_depth = max(a.max_depth, 1)
    if DEPTH_KEY not in st.session_state:  # seed-style depth 1 unless the link says otherwise
        st.session_state[DEPTH_KEY] = min(max(state.initial_param("depth", 1, int), 1), max_depth)
    st.session_state[DEPTH_KEY] = min(st.session_state[DEPTH_KEY], max_depth)

    m = st.columns(4)
    if ex:  # predict, then reveal: no total gives an unanswered row away
        for col, label in zip(m, (_("Parameters"), _("MACs per image"), _("Output"))):
            col.metric(label, "?", help=_("Shown again once the exercise is off."))
    else:
        _metrics(m, a)
    rows = a.rows(st.session_state[DEPTH_KEY])
    m[3].metric(_("Rows at this depth"), f"{len(rows)}")
    _table(spec, a, ex, max_depth)


def _metrics(m, a) -> None:
    m[0].metric(_("Parameters"), human(a.total_params), help=_(
        "{n} ({t} trainable, {b} buffer elements)").format(
        n=f"{a.total_params:,}", t=f"{a.trainable_params:,}", b=f"{a.buffers:,}"))
    n_img = max(a.input_shape[0], 1)
    m[1].metric(_("MACs per image"), a.macs_text(human(a.macs_per_image)),
                help=_("{n} multiply–accumulates per image; FLOPs ≈ 2×MACs = {f}").format(
                    n=f"{a.macs_per_image:,}", f=f"{2 * a.macs_per_image:,}")
                + (_(" (× batch {n} = {total} for the batch)").format(
                    n=n_img, total=f"{a.total_macs:,}") if n_img > 1 else ""))
    m[2].metric(_("Output"), shape_text(a.output_shape) if a.output_shape else "—",
                help=_("Output tensor {out} (N×…) for input {inp}").format(
                    out=shape_text(a.output_shape, batch=True),
                    inp=shape_text(a.input_shape, batch=True)))


def _downloads(c2, c3, spec, a, rows, depth: int, ex: bool) -> None:
    """CSV and JSON of the rows (off during the exercise: the files hold every answer)."""
    name = (spec.preset or spec.family).replace(":", "_")
    off = _("Off while the exercise is on: the file holds every answer.") if ex else None
    c2.download_button("CSV", to_csv(rows) if not ex else "", file_name=f"{name}-shapes.csv",
                       mime="text/csv", icon=":material/download:", width="stretch",
                       disabled=ex, help=off)
    c3.download_button("JSON", json.dumps(a.to_dict(depth), indent=2, ensure_ascii=False)
                       if not ex else "", file_name=f"{name}-shapes.json",
                       mime="application/json", icon=":material/download:", width="stretch",
                       disabled=ex, help=off)


def _columns(ex: bool) -> dict:
    """The table's columns (text for params/MACs in the exercise, where unsolved rows are ?)."""
    return {
        "layer": st.column_config.TextColumn(_("layer"), width="medium"),
        "type": st.column_config.TextColumn(_("type")),
        "output shape": st.column_config.TextColumn(_("output shape (C×H×W)")),
        "params": st.column_config.TextColumn(_("params")) if ex else
        st.column_config.NumberColumn(_("params"), format="localized"),
        "MACs": st.column_config.TextColumn(_("MACs per image")) if ex else
        st.column_config.NumberColumn(_("MACs per image"), format="localized"),
        "RF": st.column_config.TextColumn(_("RF"), help=_("Receptive field: how many input "
                                                          "pixels one output pixel sees")),
    }


def _table(spec, a, ex: bool, max_depth: int) -> None:
    """The depth slider, the downloads, the exercise's question and the table itself."""
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    if max_depth > 1:
        c1.slider(_("Depth (1 = what named_children() lists; higher expands nested blocks)"),
                  1, max_depth, key=DEPTH_KEY, on_change=_depth_to_url)
    else:
        c1.caption(_("Every layer is a direct child of the model (depth 1)."))
    depth = st.session_state[DEPTH_KEY]
    rows = a.rows(depth)
    _downloads(c2, c3, spec, a, rows, depth, ex)

    recs = table_records(rows, a.input_shape[0])
    if ex:  # predict, then reveal: unsolved output shapes hidden, the question above the table
        recs = exercise.mask(recs, rows, exercise.key_of(spec))
        exercise.panel(exercise.key_of(spec), rows, a)
        class_panel.render(spec, a, rows)
    event = st.dataframe(
        recs, hide_index=True, width="stretch", key="vz.shapes.table",
        on_select="rerun", selection_mode="single-row",
        height=min(38 + 35 * len(recs), 560),
        column_config=_columns(ex))
    if ex:
        st.caption(_("Totals and the output shape are left out while the exercise is on."))
    else:
        st.caption(_("**Total:** {p} parameters · {m} MACs per image (FLOPs ≈ {f}) · output "
                     "{out}. Select a row for its arithmetic.").format(
            p=f"{a.total_params:,}", m=f"{a.macs_per_image:,}", f=human(2 * a.macs_per_image),
            out=shape_text(a.output_shape, batch=True)))
    for note in a.notes:
        st.caption(":material/info: " + esc(note, 1000))
    formula.panel(a, example=not ex)

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

    if ex:  # the chart and the worked rows would give the answers away
        return
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
