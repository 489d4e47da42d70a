"""Graph page: the block graph at a chosen depth, folded repeats, expand/collapse one block,
click for details, SVG/PNG/DOT downloads of the current view.

The SVG is laid out on the server (``vizapp.render.layout``: system ``dot`` or graphviz-pure,
with a time limit) and cached per DOT text; when a view is too big for the browser or the
layout runs out of time, the page says so and offers the collapsed view instead of hanging.
"""

from __future__ import annotations

import streamlit as st

from vizapp.i18n import N_, _, tr
from vizapp.render.dot import THEMES, block_id, build_view, fold_id, node_id, parse_id, to_dot
from vizapp.render.layout import engine_name, layout_result
from vizapp.runtime.cache import SharedCache

from . import exercise, png_export, present, state, text
from .frame import Frame
from .graph_viewer import details_panel, graph_viewer

LAYOUT_TIMEOUT = 12.0  # seconds for one layout in the app
MAX_UNITS = 2500  # drawn nodes above which the browser view is refused (offer collapsed)
MAX_SVG_BYTES = 12_000_000
EXP_KEY, COL_KEY, FOR_KEY = "vz.graph.expanded", "vz.graph.collapsed", "vz.graph.for"
DEPTH_KEY, FOLD_KEY, SEL_KEY = "vz.graph.depth", "vz.graph.fold", "vz.graph.selected"
ANCHOR_KEY = "vz.graph.anchor"  # ids whose screen position the next drawing keeps


LAYOUTS = SharedCache("layouts", max_bytes=128 << 20, max_entries=96,
                      sizeof=lambda r: len(r[0] or b"") + 256)


def cached_layout(dot: str, fmt: str = "svg") -> tuple[bytes | None, str | None, bool]:
    """(output, error message, timed out), shared by every session in a cache bounded in
    bytes — failures are cached too, so a graph that timed out is not laid out again on every
    rerun."""
    with st.spinner(_("Laying out the graph…")):
        return LAYOUTS.get((dot, fmt), lambda: _layout(dot, fmt))


cached_layout.clear = LAYOUTS.clear  # type: ignore[attr-defined]


def _layout(dot: str, fmt: str) -> tuple[bytes | None, str | None, bool]:
    """In the worker process: a layout is CPU work the server's own process (which runs every
    session's reruns) should not do."""
    from vizapp.runtime import workers

    return workers.call(layout_result, dot, fmt, LAYOUT_TIMEOUT, timeout=LAYOUT_TIMEOUT + 30)


def _theme() -> str:
    try:
        return "dark" if st.context.theme.type == "dark" else "light"
    except Exception:  # noqa: BLE001 - older Streamlit / bare mode
        return "light"


def _sets() -> tuple[list[str], list[str]]:
    ss = st.session_state
    return ss.setdefault(EXP_KEY, []), ss.setdefault(COL_KEY, [])


def _toggle(path_or_id: str, open_: bool, anchor: tuple[str, ...] = ()) -> None:
    exp, col = _sets()
    for lst in (exp, col):
        while path_or_id in lst:
            lst.remove(path_or_id)
    (exp if open_ else col).append(path_or_id)
    # keep the clicked thing where it is on screen: the block (a node before, a cluster
    # after), a fold (its first member after unfolding), a node's parent after collapsing
    st.session_state[ANCHOR_KEY] = list(anchor)


def _from_url(a) -> None:
    """The link's ``expand=``/``collapse=`` (block paths or fold ids, comma-separated),
    ``node=`` (the selected id) and ``fold=0``; what names nothing in this model is said."""
    ss = st.session_state
    blocks = {b.path for b in a.blocks if b.path and b.children}
    bad: list[str] = []
    for param, key in (("expand", EXP_KEY), ("collapse", COL_KEY)):
        items = [x for x in str(state.view_param(param, "") or "").split(",") if x]
        good = [x for x in items if (x[2:] if x.startswith("f-") else x) in blocks]
        bad += [f"{param}={x}" for x in items if x not in good]
        ss[key] = good
    sel = state.view_param("node", None)
    if sel:
        parsed = parse_id(sel)
        known = parsed is not None and (
            (parsed[0] == "node" and parsed[1] in a.node_index())
            or (parsed[0] != "node" and parsed[1] in a.block_index()))
        if known:
            ss[SEL_KEY] = sel
        else:
            bad.append(f"node={sel}")
    if state.view_param("fold", "1") == "0":
        ss[FOLD_KEY] = False
    if bad:
        text.show_warning(_("The link names what this model does not have, left out: ")
                          + ", ".join(bad[:6]) + (" …" if len(bad) > 6 else ""))


def _to_url() -> None:
    ss = st.session_state
    exp, col = _sets()
    state.set_view_param("expand", ",".join(exp), default="")
    state.set_view_param("collapse", ",".join(col), default="")
    state.set_view_param("node", ss.get(SEL_KEY), default=None)
    state.set_view_param("fold", "1" if ss.get(FOLD_KEY, True) else "0", default="1")


def _reset_view() -> None:
    st.session_state[EXP_KEY] = []
    st.session_state[COL_KEY] = []


def _go_collapsed() -> None:
    _reset_view()
    st.session_state[DEPTH_KEY] = 1
    st.session_state[FOLD_KEY] = True


def _view_buttons(a, sel: str | None, view) -> None:
    """Expand / collapse / unfold buttons for the selected item."""
    parsed = parse_id(sel)
    if parsed is None:
        return
    kind, key = parsed
    if kind == "block" and key:
        b = a.block(key) if key in a.block_index() else None
        if b is None or not b.children:
            return
        if block_id(key) in view.units:
            st.button(_("Expand this block"), icon=":material/unfold_more:", key="vz_g_expand",
                      on_click=_toggle, args=(key, True, (block_id(key),)))
        else:
            st.button(_("Collapse this block"), icon=":material/unfold_less:", key="vz_g_collapse",
                      on_click=_toggle, args=(key, False, (block_id(key),)))
    elif kind == "fold" and fold_id(key) in view.units:
        st.button(_("Unfold the repeats"), icon=":material/unfold_more:", key="vz_g_unfold",
                  on_click=_toggle, args=(fold_id(key), True, (fold_id(key), block_id(key))))
    elif kind == "node":
        owner = a.node(key).module_path if key in a.node_index() else ""
        parents = [b.path for b in a.blocks if b.children and b.path and
                   (owner == b.path or owner.startswith(b.path + "."))]
        if parents:
            st.button(_("Collapse {block}").format(block=parents[-1]), icon=":material/unfold_less:",
                      key="vz_g_collapse_parent", on_click=_toggle,
                      args=(parents[-1], False, (node_id(key), block_id(parents[-1]))))


DIRECTIONS = {"TB": N_("↓ top-down"), "LR": N_("→ left-right")}
DIR_KEY = "vz.graph.dir"


def _direction(presenting: bool) -> str:
    """Layout direction (``dir=`` in the URL): left-right by default when presenting, where
    the screen is wide and a top-down chain of stages would be tiny."""
    default = "LR" if presenting else "TB"
    state.bind_widget("dir", DIR_KEY, default, str, DIRECTIONS)
    value = st.segmented_control(_("Layout"), list(DIRECTIONS), key=DIR_KEY,
                                 format_func=lambda k: tr(DIRECTIONS[k])) or default
    state.set_view_param("dir", value, default=default)
    return value


def render(frame: Frame) -> None:
    spec = frame.spec
    st.header(_("Graph"))
    a = frame.analysis
    if a is None:
        return
    max_depth = _sync_view(spec, a)
    presenting = present.on()
    depth, fold, direction = _controls(max_depth, presenting)
    if a.failure is not None:
        from .page_shapes import show_failure
        show_failure(a, detailed=False)

    theme = _theme()
    exp, col = _sets()
    view = build_view(a, depth, exp, col, fold)
    ex = exercise.on()  # (its switch is drawn above Details)
    # predict, then reveal: no shapes on the edges, no arithmetic in the tooltips, no sizes
    dot = to_dot(a, theme=theme, view=view, direction=direction, tooltips=not ex,
                 edge_labels=not ex, answers=not ex)
    svg = _svg(view, dot)
    gcol, dcol = st.columns([3, 1.25])
    with gcol:
        _draw_graph(spec, a, view, svg, depth, fold, theme, presenting)
    with dcol:
        exercise.toggle("graph")
        st.subheader(_("Details"))
        sel = st.session_state.get(SEL_KEY)
        if ex:
            exercise.graph_panel(exercise.key_of(spec), a, sel)
        else:
            details_panel(a, sel)
        _view_buttons(a, sel, view)
    _to_url()

    st.download_button("DOT", data=dot, file_name=f"{_stem(spec, a, depth)}.dot",
                       mime="text/vnd.graphviz", icon=":material/download:", key="vz_g_dl_dot",
                       help=_("SVG and PNG: the buttons at the top right of the graph."))


def _sync_view(spec, a) -> int:
    """Start from a clean view for another model (the link's view the first time), keep the
    depth within the model's; returns the model's deepest level (at least 1)."""
    ss = st.session_state
    if ss.get(FOR_KEY) != repr(spec):  # another model: start from a clean view
        first = FOR_KEY not in ss
        ss[FOR_KEY] = repr(spec)
        _reset_view()
        ss.pop(SEL_KEY, None)
        if first:  # the link this page was opened with
            _from_url(a)
    max_depth = max(a.max_depth, 1)
    if DEPTH_KEY not in ss:
        ss[DEPTH_KEY] = state.view_param("depth", min(2, max_depth), int)
    ss[DEPTH_KEY] = max(1, min(int(ss[DEPTH_KEY]), max_depth))
    ss.setdefault(FOLD_KEY, True)
    return max_depth


def _controls(max_depth: int, presenting: bool) -> tuple[int, bool, str]:
    """(depth, fold, direction) from the row of controls above the graph."""
    # one row that gives each control the width of its words (columns cut them at 1280 px)
    c1 = c2 = c3 = c4 = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    with c1:
        if max_depth > 1:
            depth = st.slider(_("Depth"), 1, max_depth, key=DEPTH_KEY,
                              help=_("Module depth shown open; deeper modules are drawn as one "
                                     "block node. The last step shows every operation."))
        else:
            depth = 1
        state.set_view_param("depth", depth, default=min(2, max_depth))
    with c2:
        fold = st.toggle(_("Fold repeated blocks"), key=FOLD_KEY,
                         help=_("Consecutive identical blocks are drawn once, e.g. "
                                "'Bottleneck ×35'."))
    with c3:
        direction = _direction(presenting)
    with c4:
        exp, col = _sets()
        st.button(_("Reset expansions"), on_click=_reset_view, disabled=not (exp or col),
                  key="vz_g_reset")
    return depth, fold, direction


def _svg(view, dot: str) -> str | None:
    """The laid-out SVG of ``dot``; None (after saying why, with the collapsed view offered)
    when the view is too big for the browser, its layout timed out or failed."""
    too_big = len(view.units) > MAX_UNITS
    svg = err = None
    timed_out = False
    if not too_big:
        svg_bytes, err, timed_out = cached_layout(dot, "svg")
        if svg_bytes is not None and len(svg_bytes) > MAX_SVG_BYTES:
            too_big, svg_bytes = True, None
        svg = svg_bytes.decode("utf-8") if svg_bytes else None
    if too_big or timed_out:
        st.warning(_("This view has {n} nodes and {e} edges, too big to draw in the browser"
                     ).format(n=f"{len(view.units):,}", e=f"{len(view.edges):,}")
                   + (f" ({err})" if timed_out else "") + _(". Lower the depth, collapse some "
                   "blocks, or download the DOT and lay it out offline."),
                   icon=":material/warning:")
        st.button(_("Show the collapsed view"), on_click=_go_collapsed, type="primary",
                  key="vz_g_collapsed_view")
    elif err:
        st.error(_("Graph layout failed: {err}").format(err=err))
    return svg


def _draw_graph(spec, a, view, svg: str | None, depth: int, fold: bool, theme: str,
                presenting: bool) -> None:
    """The zoomable graph (a click selects a node) and the line that counts what it shows."""
    ss = st.session_state
    if svg is not None:
        sel = graph_viewer(svg, key="vz_graph_viewer", height=560 if presenting else 680,
                           selected=ss.get(SEL_KEY), anchor=ss.pop(ANCHOR_KEY, None),
                           start="first" if presenting else "auto",
                           export=png_export.export_settings(svg, _stem(spec, a, depth),
                                                             THEMES[theme]["bg"]),
                           view=view)
        if sel:
            ss[SEL_KEY] = sel
    st.caption(_("{n} nodes · {e} edges · depth {d}").format(
        n=len(view.units), e=len(view.edges), d=depth)
               + (_(" · repeats folded") if fold else "")
               + _(" · laid out by {engine} · edge labels are C×H×W (batch dropped)").format(
                   engine=engine_name()))


def _stem(spec, a, depth: int) -> str:
    """The downloads' file name without extension, e.g. ``ResNet-18_depth2``."""
    stem = (getattr(spec, "label", None) or a.model).replace(" ", "_").replace("/", "_")
    return "".join(ch for ch in stem if ch.isalnum() or ch in "._-=,()") + f"_depth{depth}"
