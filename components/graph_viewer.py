"""Interactive graph viewer: a server-laid-out SVG with zoom and pan, where a click on a node or
block sends its id back to Python; and the details panel that shows what was clicked.

Built on Streamlit's components v2 (inline HTML/CSS/JS, no build step, no network): the SVG
comes in as data, the hand-written JS below does viewBox zoom (wheel, buttons) and pan (drag),
and a click (a press without a drag) on an SVG group whose id is ``n-…``, ``b-…`` or ``f-…``
(see :func:`vizapp.render.dot.parse_id`) sets the component state ``selected`` to that id.

    sel = graph_viewer(svg, key="graph", height=640)
    details_panel(analysis, sel)
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from vizapp.i18n import N_, _, tr
from vizapp.analysis.records import Analysis, Block, Node
from vizapp.fmt import human, shape_text
from vizapp.render.calls import layer_call
from vizapp.render.dot import fold_label, fold_members, parse_id
from .text import code, esc, md

__all__ = ["graph_viewer", "details_panel", "COMPONENT_NAME"]

COMPONENT_NAME = "vizapp_graph_viewer"

_HTML = """<div class="vz-viewer" data-testid="vz-graph-viewer">
  <div class="vz-tools">
    <button type="button" data-act="in">+</button>
    <button type="button" data-act="out">&minus;</button>
    <button type="button" data-act="fit"></button>
    <button type="button" data-act="top"></button>
    <span class="vz-hint"></span>
  </div>
  <div class="vz-tools vz-exports">
    <button type="button" class="vz-dl" data-act="svg" hidden>&#x2913; SVG</button>
    <button type="button" class="vz-dl" data-act="png" hidden>&#x2913; PNG</button>
  </div>
  <div class="vz-stage"></div>
</div>"""

_CSS = """
.vz-viewer { position: relative; width: 100%; height: var(--vz-height, 640px);
  border: 1px solid rgba(128,128,128,.35); border-radius: .5rem; overflow: hidden;
  background: var(--vz-bg, transparent); }
.vz-stage { position: absolute; inset: 0; cursor: grab; touch-action: none; }
.vz-stage.vz-dragging { cursor: grabbing; }
.vz-stage svg { width: 100%; height: 100%; display: block; user-select: none; }
.vz-tools { position: absolute; z-index: 2; bottom: .4rem; right: .4rem; display: flex;
  gap: .25rem; align-items: center; }  /* at the bottom: never over the graph's title */
.vz-tools button { font: 600 13px/1 sans-serif; min-width: 2rem; height: 1.8rem;
  border-radius: .35rem; border: 1px solid rgba(128,128,128,.5); cursor: pointer;
  background: var(--st-secondary-background-color, #f0f2f6); color: var(--st-text-color, #111); }
.vz-tools.vz-exports { top: .4rem; bottom: auto; }  /* at hand without scrolling */
.vz-tools button.vz-dl { font-weight: 600; padding: 0 .5rem; opacity: .92; }
.vz-tools button.vz-dl:disabled { opacity: .45; cursor: not-allowed; }
.vz-hint { font: 11px sans-serif; opacity: .6; margin-left: .3rem;
  color: var(--st-text-color, #111); }
.vz-stage g.node, .vz-stage g.cluster { cursor: pointer; }
.vz-stage g.node:hover > g > a > path, .vz-stage g.node:hover > g > a > polygon,
.vz-stage g.node:hover > g > a > ellipse, .vz-stage g.node:hover > path,
.vz-stage g.node:hover > polygon, .vz-stage g.node:hover > ellipse { stroke-width: 2.2; }
.vz-stage .vz-selected path, .vz-stage .vz-selected polygon, .vz-stage .vz-selected ellipse {
  stroke: #ef4444 !important; stroke-width: 3 !important; }
"""

_JS = r"""
// The downloads are made here, from the SVG text the viewer already has: the server neither
// sends the SVG twice nor lays out a PNG (components/png_export.py says why).
const save = (blob, name) => {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
};
const saveSvg = (d) => {
  if (!d || !d.svg || !d.export) return;
  save(new Blob([d.svg], { type: 'image/svg+xml;charset=utf-8' }), d.export.stem + '.svg');
};
// The SVG's size is rewritten from points to the target pixels before it is drawn, so the
// browser rasterises the vectors at that size (no upscaled bitmap); the canvas is filled with
// the page colour first.
const savePng = (d, btn) => {
  const ex = d && d.export;
  if (!d || !d.svg || !ex || !ex.width || !ex.height) return;
  btn.setAttribute('data-state', 'drawing');
  const sized = d.svg
    .replace(/(<svg[^>]*?\bwidth=")[\d.]+pt(")/, `$1${ex.width}px$2`)
    .replace(/(<svg[^>]*?\bheight=")[\d.]+pt(")/, `$1${ex.height}px$2`);
  const url = URL.createObjectURL(new Blob([sized], { type: 'image/svg+xml;charset=utf-8' }));
  const img = new Image();
  const fail = (why) => {
    URL.revokeObjectURL(url);
    btn.setAttribute('data-state', 'failed');
    btn.title = (ex.failed || 'PNG export failed: ') + why;
  };
  img.onerror = () => fail('the browser could not draw the SVG');
  img.onload = () => {
    try {
      const canvas = document.createElement('canvas');
      canvas.width = ex.width; canvas.height = ex.height;
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = ex.background || '#ffffff';
      ctx.fillRect(0, 0, ex.width, ex.height);
      ctx.drawImage(img, 0, 0, ex.width, ex.height);
      URL.revokeObjectURL(url);
      canvas.toBlob((png) => {
        if (!png) { fail('the canvas is too big for this browser'); return; }
        save(png, ex.stem + '.png');
        btn.setAttribute('data-state', 'saved');
      }, 'image/png');
    } catch (e) { fail(String((e && e.message) || e)); }
  };
  img.src = url;
};

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector('.vz-viewer');
  const stage = root.querySelector('.vz-stage');
  const d = data || {};
  const words = d.text || {};  // the buttons' words and tooltips and the hint, in the app's language
  root.querySelectorAll('button[data-act]').forEach((b) => {
    const w = words[b.getAttribute('data-act')];
    if (!w) return;
    b.title = w.title;
    if (w.label) b.textContent = w.label;
  });
  const hint = root.querySelector('.vz-hint');
  if (hint && words.hint) hint.textContent = words.hint;
  root.style.setProperty('--vz-height', (d.height || 640) + 'px');
  if (d.background) root.style.setProperty('--vz-bg', d.background);
  let st = root.__vz;
  if (!st) {
    st = root.__vz = { svgText: null, svg: null, full: null, view: null, selected: null };
    const apply = () => {
      if (st.svg && st.view) st.svg.setAttribute('viewBox',
        `${st.view.x} ${st.view.y} ${st.view.w} ${st.view.h}`);
    };
    st.apply = apply;
    const toSvg = (cx, cy) => {  // client px -> viewBox coords
      const r = stage.getBoundingClientRect();
      const s = Math.max(st.view.w / r.width, st.view.h / r.height);  // 'meet' scaling
      const ox = (r.width * s - st.view.w) / 2, oy = (r.height * s - st.view.h) / 2;
      return { x: st.view.x - ox + (cx - r.left) * s, y: st.view.y - oy + (cy - r.top) * s, s };
    };
    const zoom = (factor, cx, cy) => {
      if (!st.view) return;
      const r = stage.getBoundingClientRect();
      if (cx === undefined) { cx = r.left + r.width / 2; cy = r.top + r.height / 2; }
      const p = toSvg(cx, cy);
      const minW = 20, maxW = Math.max(st.full.w, st.full.h) * 4;
      const w = Math.min(Math.max(st.view.w / factor, minW), maxW);
      const f = w / st.view.w;
      st.view = { x: p.x - (p.x - st.view.x) * f, y: p.y - (p.y - st.view.y) * f,
                  w: w, h: st.view.h * f };
      apply();
    };
    st.zoom = zoom;
    stage.addEventListener('wheel', (e) => {
      e.preventDefault();
      zoom(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), e.clientX, e.clientY);
    }, { passive: false });
    let drag = null;
    stage.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || !st.view) return;
      drag = { x: e.clientX, y: e.clientY, view: { ...st.view }, moved: false, id: e.pointerId };
    });
    stage.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      if (!drag.moved) { drag.moved = true; stage.classList.add('vz-dragging');
        try { stage.setPointerCapture(drag.id); } catch (_) {} }
      const r = stage.getBoundingClientRect();
      const s = Math.max(drag.view.w / r.width, drag.view.h / r.height);
      st.view = { ...drag.view, x: drag.view.x - dx * s, y: drag.view.y - dy * s };
      apply();
    });
    const end = (e) => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      stage.classList.remove('vz-dragging');
      if (moved || e.type !== 'pointerup') return;
      const g = e.target.closest && e.target.closest('g.node, g.cluster');
      if (!g || !/^[nbf]-/.test(g.id)) return;
      select(g.id);
      setStateValue('selected', g.id);
    };
    stage.addEventListener('pointerup', end);
    stage.addEventListener('pointercancel', end);
    const select = (id) => {
      stage.querySelectorAll('.vz-selected').forEach((el) => el.classList.remove('vz-selected'));
      st.selected = id || null;
      if (!id) return;
      const el = stage.querySelector(`[id="${CSS.escape(id)}"]`);
      if (el) el.classList.add('vz-selected');
    };
    st.select = select;
    const fit = (mode) => {
      if (!st.full) return;
      const r = stage.getBoundingClientRect();
      const F = st.full;
      if (mode === 'top') {  // fit the width (at most 1.25× natural size), top aligned
        const aspect = (r.height || 1) / (r.width || 1);
        const w = Math.max(F.w, r.width / 1.25);
        st.view = { x: F.x - (w - F.w) / 2, y: F.y, w: w, h: w * aspect };
      } else if (mode === 'first') {  // readable: 1.6 px per pt, at the start of the flow
        const s = 1 / 1.6, w = r.width * s, h = r.height * s;
        const lr = F.w / F.h > r.width / r.height;
        st.view = lr ? { x: F.x, y: F.y, w: w, h: h }  // the title, then the first blocks
                     : { x: F.x + (F.w - w) / 2, y: F.y, w: w, h: h };
        if (w >= F.w && h >= F.h) st.view = { ...F };  // all of it is readable already
      } else {
        st.view = { ...F };
      }
      apply();
    };
    st.fit = fit;
    const find = (ids) => {
      for (const id of ids || []) {
        const el = stage.querySelector(`[id="${CSS.escape(id)}"]`);
        if (el) return el;
      }
      return null;
    };
    // Expanding, collapsing or unfolding keeps the clicked block where it was on screen: note
    // its screen position (centre x, top y) and the zoom before the new drawing arrives ...
    st.anchorOf = (ids) => {
      if (!st.svg || !st.view || !ids || !ids.length) return null;
      const el = find(ids);
      if (!el) return null;
      const r = stage.getBoundingClientRect(), b = el.getBoundingClientRect();
      return { ids, sx: b.left + b.width / 2 - r.left, sy: b.top - r.top,
               s: Math.max(st.view.w / r.width, st.view.h / r.height) };
    };
    // ... and put the same thing (or what it became) at that position, at that zoom
    st.keepAnchor = (keep) => {
      const el = find(keep.ids);
      if (!el) return;
      const r = stage.getBoundingClientRect(), b = el.getBoundingClientRect();
      const p = toSvg(b.left + b.width / 2, b.top);
      st.view = { x: p.x - keep.sx * keep.s, y: p.y - keep.sy * keep.s,
                  w: r.width * keep.s, h: r.height * keep.s };
      apply();
      root.setAttribute('data-anchor', el.id);
    };
    root.querySelectorAll('.vz-tools').forEach((bar) => bar.addEventListener('click', (e) => {
      const b = e.target.closest && e.target.closest('button');
      const act = b && b.getAttribute('data-act');
      if (act === 'in') zoom(1.4); else if (act === 'out') zoom(1 / 1.4);
      else if (act === 'fit') fit('all'); else if (act === 'top') fit('top');
      else if (act === 'svg') saveSvg(st.data);
      else if (act === 'png') savePng(st.data, b);
    }));
  }
  st.data = d;
  const ex = d.export || null;
  root.querySelectorAll('button.vz-dl').forEach((b) => {
    b.hidden = !ex;
    if (ex && b.getAttribute('data-act') === 'svg') b.title = ex.svgTitle || b.title;
    if (ex && b.getAttribute('data-act') === 'png') {
      b.title = ex.pngTitle || '';
      b.disabled = !(ex.width && ex.height);
      b.setAttribute('data-state', b.getAttribute('data-state') || 'idle');
    }
  });
  if (d.svg !== st.svgText) {
    const keep = st.anchorOf(d.anchor);  // where the clicked thing is now, and the zoom
    st.svgText = d.svg;
    stage.innerHTML = d.svg || '';
    const svg = stage.querySelector('svg');
    st.svg = svg;
    if (svg) {
      const vb = (svg.getAttribute('viewBox') || '0 0 100 100').trim().split(/[\s,]+/).map(Number);
      st.full = { x: vb[0], y: vb[1], w: vb[2], h: vb[3] };
      svg.removeAttribute('width'); svg.removeAttribute('height');
      svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
      stage.querySelectorAll('title').forEach((t) => t.remove());  // tooltips come from <a>
      const bg = svg.querySelector('g.graph > polygon');  // the page shows through
      if (bg) { root.setAttribute('data-graph-bg', bg.getAttribute('fill') || '');
                bg.setAttribute('fill', 'transparent'); }
      const tall = st.full.h / st.full.w > 2.5 * ((stage.clientHeight || 1) / (stage.clientWidth || 1));
      st.fit(d.start === 'first' ? 'first' : (tall ? 'top' : 'all'));
      if (keep) st.keepAnchor(keep);
    }
    root.setAttribute('data-ready', svg ? 'true' : 'false');
  }
  st.select(d.selected || st.selected);
}
"""

_viewer = st.components.v2.component(COMPONENT_NAME, html=_HTML, css=_CSS, js=_JS)

# a node's settings as the Details panel names them (the values stay as PyTorch writes them)
ATTR_NAMES = {"kernel": N_("kernel"), "stride": N_("stride"), "padding": N_("padding"),
              "dilation": N_("dilation"), "groups": N_("groups"), "in": N_("in"),
              "out": N_("out"), "features": N_("features"), "dim": N_("dim"),
              "embed_dim": N_("embed_dim"), "heads": N_("heads"),
              "output_size": N_("output_size"), "parts": N_("parts")}


def _noop() -> None:
    pass


def viewer_text() -> dict:
    """The viewer's own words (button tooltips and labels, the hint) in the current language;
    its HTML holds none, the script puts these in."""
    return {"in": {"title": _("Zoom in")}, "out": {"title": _("Zoom out")},
            "fit": {"title": _("Fit the whole graph"), "label": _("fit")},
            "top": {"title": _("Fit the width, back to the top"), "label": _("top")},
            "hint": _("scroll to zoom · drag to pan · click a node")}


def graph_viewer(svg: str, key: str, height: int = 640, selected: str | None = None,
                 background: str | None = None, anchor: list[str] | None = None,
                 start: str = "auto", export: dict | None = None) -> str | None:
    """Show ``svg`` with zoom and pan; return the id of the last clicked node or block
    (``"n-conv1"``, ``"b-layer1.0"``, ``"f-layer3.1"``) or None. ``selected`` highlights an
    id (e.g. the one restored from the URL) until the user clicks another. ``anchor``: ids
    (first found wins) whose screen position and zoom the new ``svg`` keeps, e.g. the block
    just expanded. ``start``: ``"auto"`` (fit all, or the width of a tall graph) or
    ``"first"`` (a readable zoom at the start of the graph, for presenting). ``export``: the
    SVG/PNG download buttons' settings (:func:`components.png_export.export_settings`), None
    for no buttons."""
    res = _viewer(key=key, data={"svg": svg, "height": int(height), "selected": selected,
                                 "background": background, "anchor": anchor or [],
                                 "start": start, "export": export, "text": viewer_text()},
                  default={"selected": selected}, height=int(height) + 2,
                  on_selected_change=_noop)
    value = res.get("selected") if hasattr(res, "get") else getattr(res, "selected", None)
    return value or None


# ----------------------------------------------------------------------------- details
def _rf(x: Any) -> str:
    return x.rf.text() if getattr(x, "rf", None) is not None else "—"


def _shapes(shapes) -> str:
    return ", ".join(shape_text(s) for s in shapes) if shapes else "—"


def _metrics(a: Analysis, params: int, macs: int, rf: str) -> None:
    """Parameters, MACs per image (the app's one convention, as Compare and the published
    figures count them; the batch's total in the help) and the receptive field."""
    # a compact table, not st.metric: its large font truncates "39.3 M" in a narrow column
    field = rf.replace("RF ", "") if rf != "—" else "—"
    n = max(a.input_shape[0], 1)
    per = macs // n
    batch = _(" × batch {n} = {total} for the batch").format(n=n, total=f"{macs:,}") \
        if n > 1 else ""
    st.markdown(_("| params | MACs per image | receptive field |") + "\n|---|---|---|\n"
                f"| **{human(params)}** ({params:,}) | **{human(per)}** | {field} |",
                help=_("{n} multiply–accumulates per image (FLOPs ≈ 2 × MACs)").format(
                    n=f"{per:,}") + batch)


def _node_details(a: Analysis, n: Node) -> None:
    # module names and types are user text (the code box names modules freely)
    st.markdown(md("**{}** · {}", n.label, code(n.module_path or n.id)) + "  \n"
                + md(_("{type} · category *{category}*"), type=n.module_type,
                     category=n.category))
    call = layer_call(n.module_type, n.attrs)  # the label's settings, written out in full
    if call:
        st.code(call, language="python", wrap_lines=True)
    st.markdown(_("**in** {i} → **out** {o}").format(i=_shapes(n.input_shapes),
                                                     o=shape_text(n.output_shape)) + "  \n"
                + "<small>" + _("(C×H×W, batch {n} dropped)").format(n=a.input_shape[0])
                + "</small>",
                unsafe_allow_html=True)
    _metrics(a, n.params, n.macs, _rf(n))
    if n.explanation:
        st.markdown(_("**Shape arithmetic**"))
        st.code(n.explanation, language=None, wrap_lines=True)
    if n.param_explanation:
        st.markdown(_("**Parameters**"))
        st.code(n.param_explanation, language=None, wrap_lines=True)
    if n.attrs:
        st.caption(esc(" · ".join(f"{tr(ATTR_NAMES.get(k, k))} {v}" for k, v in n.attrs), 1000))
    if a.failure is not None and a.failure.node == n.id:
        st.error(md(_("{message}. Fix: {fix}"), message=a.failure.message, fix=a.failure.fix))


def _block_details(a: Analysis, b: Block) -> None:
    st.markdown(md("**{}** · {}", b.path or a.model, b.type) + "  \n"
                + _counted(len(b.children), len(b.nodes)))
    st.markdown(_("**in** {i} → **out** {o}").format(i=_shapes(b.input_shapes),
                                                     o=shape_text(b.output_shape)))
    _metrics(a, b.params, b.macs, _rf(b))
    if b.explanation:
        st.markdown(_("**What it does**"))
        st.code(b.explanation, language=None, wrap_lines=True)


def details_panel(analysis: Analysis, clicked_id: str | None) -> str | None:
    """Details of a clicked node, block or fold: shapes, worked arithmetic, params, MACs,
    receptive field. Returns the kind shown (``"node"``, ``"block"``, ``"fold"``) or None."""
    a = analysis
    parsed = parse_id(clicked_id)
    with st.container(key="vz_details"):
        if parsed is None:
            st.caption(_("Click a node or a block in the graph to see its shapes, the arithmetic "
                         "behind them, parameters, MACs and receptive field."))
            return None
        kind, key = parsed
        try:
            if kind == "node":
                _node_details(a, a.node(key))
            elif kind == "block":
                _block_details(a, a.block(key))
            else:
                members = fold_members(a, key)
                st.markdown(md("**{}**", fold_label(a, members)))
                st.caption(md(_("{n} identical blocks, {first} … {last}; totals below are for "
                                "all of them, the arithmetic for the first."),
                              n=len(members), first=members[0], last=members[-1]))
                first = a.block(members[0])
                st.markdown(_("**in** {i} → **out** {o}").format(
                    i=_shapes(first.input_shapes), o=shape_text(a.block(members[-1]).output_shape)))
                _metrics(a, sum(a.block(p).params for p in members),
                         sum(a.block(p).macs for p in members), _rf(a.block(members[-1])))
                if first.explanation:
                    st.code(first.explanation, language=None, wrap_lines=True)
        except KeyError:
            st.caption(md(_("{id} is not part of this model any more."), id=code(clicked_id)))
            return None
    return kind


def _counted(children: int, ops: int) -> str:
    """"1 child module · 3 ops", "4 child modules · 1 op": the plural from the count."""
    kids = _("1 child module") if children == 1 else _("{c} child modules").format(c=children)
    return kids + " · " + (_("1 op") if ops == 1 else _("{n} ops").format(n=ops))
