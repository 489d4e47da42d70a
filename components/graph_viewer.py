"""Interactive graph viewer: a server-laid-out SVG with zoom and pan, where a click on a node or
block sends its id back to Python; and the details panel that shows what was clicked.

Built on Streamlit's components v2 (inline HTML/CSS/JS, no build step, no network): the SVG
comes in as data, the hand-written JS below does viewBox zoom (wheel, buttons) and pan (drag),
and a click (a press without a drag) on an SVG group whose id is ``n-…``, ``b-…`` or ``f-…``
(see :func:`vizapp.render.dot.parse_id`) sets the component state ``selected`` to that id.

A drawing opens readable: centred on the selection (a link's ``node=``), else on the first
blocks of the data flow, at a zoom where node labels are :data:`LABEL_PX` on screen (never
less than :data:`MIN_LABEL_PX`); *fit* shows all of it. ← / → (keys or buttons) select the
previous / next node or block along the data flow (:func:`flow`), centred, as a click does.
The PNG button offers the visible part or the whole graph, slide-shaped
(:mod:`components.png_export` holds that script).

    sel = graph_viewer(svg, key="graph", height=640, view=view)
    details_panel(analysis, sel)
"""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st

from vizapp.i18n import N_, _, tr
from vizapp.analysis.records import Analysis, Block, Node
from vizapp.fmt import human, shape_text
from vizapp.render.calls import layer_call
from vizapp.render.dot import View, block_id, fold_label, fold_members, parse_id
from . import png_export
from .text import code, esc, md

__all__ = ["graph_viewer", "details_panel", "COMPONENT_NAME"]

COMPONENT_NAME = "vizapp_graph_viewer"

_HTML = """<div class="vz-viewer" data-testid="vz-graph-viewer" tabindex="0">
  <div class="vz-tools">
    <button type="button" data-act="prev">&larr;</button>
    <button type="button" data-act="next">&rarr;</button>
    <button type="button" data-act="in">+</button>
    <button type="button" data-act="out">&minus;</button>
    <button type="button" data-act="fit"></button>
    <button type="button" data-act="top"></button>
    <span class="vz-hint"></span>
  </div>
  <div class="vz-tools vz-exports">
    <button type="button" class="vz-dl" data-act="svg" hidden>&#x2913; SVG</button>
    <button type="button" class="vz-dl" data-act="png" hidden aria-haspopup="menu"
            aria-expanded="false">&#x2913; PNG &#x25BE;</button>
    <div class="vz-menu" role="menu" hidden>
      <button type="button" role="menuitem" data-act="png-visible"></button>
      <button type="button" role="menuitem" data-act="png-whole"></button>
    </div>
  </div>
  <div class="vz-stage"></div>
</div>"""

_CSS = """
.vz-viewer { position: relative; width: 100%; height: var(--vz-height, 640px);
  border: 1px solid rgba(128,128,128,.35); border-radius: .5rem; overflow: hidden;
  background: var(--vz-bg, transparent); outline: none; }
.vz-viewer:focus-visible { box-shadow: 0 0 0 2px rgba(59,130,246,.6); }
.vz-stage { position: absolute; inset: 0; cursor: grab; touch-action: none; }
.vz-stage.vz-dragging { cursor: grabbing; }
.vz-stage svg { width: 100%; height: 100%; display: block; user-select: none; }
.vz-tools { position: absolute; z-index: 2; bottom: .4rem; right: .4rem; display: flex;
  gap: .25rem; align-items: center; }  /* at the bottom: never over the graph's title */
.vz-tools button { font: 600 13px/1 sans-serif; min-width: 2rem; height: 1.8rem;
  border-radius: .35rem; border: 1px solid rgba(128,128,128,.5); cursor: pointer;
  white-space: nowrap; padding: 0 .45rem;
  background: var(--st-secondary-background-color, #f0f2f6); color: var(--st-text-color, #111); }
.vz-tools.vz-exports { top: .4rem; bottom: auto; }  /* at hand without scrolling */
.vz-tools button.vz-dl { font-weight: 600; padding: 0 .5rem; opacity: .92; }
.vz-tools button.vz-dl:disabled { opacity: .45; cursor: not-allowed; }
.vz-menu { position: absolute; top: 2.1rem; right: 0; display: flex; flex-direction: column;
  gap: .2rem; padding: .25rem; border-radius: .4rem; border: 1px solid rgba(128,128,128,.5);
  background: var(--st-background-color, #fff); box-shadow: 0 4px 14px rgba(0,0,0,.18); }
.vz-menu[hidden] { display: none; }
.vz-menu button { text-align: left; font-weight: 500; }
.vz-hint { font: 11px sans-serif; opacity: .6; margin-left: .3rem; white-space: nowrap;
  color: var(--st-text-color, #111); }
.vz-stage g.node, .vz-stage g.cluster { cursor: pointer; }
.vz-stage g.node:hover > g > a > path, .vz-stage g.node:hover > g > a > polygon,
.vz-stage g.node:hover > g > a > ellipse, .vz-stage g.node:hover > path,
.vz-stage g.node:hover > polygon, .vz-stage g.node:hover > ellipse { stroke-width: 2.2; }
.vz-stage .vz-selected path, .vz-stage .vz-selected polygon, .vz-stage .vz-selected ellipse {
  stroke: #ef4444 !important; stroke-width: 3 !important; }
"""

# labels on screen, in CSS px: what a view opens at (and a step zooms in to), and the least a
# centred selection is shown at; 11 pt labels (the DOT's node font) at these sizes
LABEL_PX = {"auto": 13.0, "first": 17.6}
MIN_LABEL_PX = {"auto": 11.0, "first": 14.0}

_JS = png_export.EXPORT_JS + r"""
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector('.vz-viewer');
  const stage = root.querySelector('.vz-stage');
  const menu = root.querySelector('.vz-menu');
  const d = data || {};
  const words = d.text || {};  // the buttons' words and tooltips and the hint, in the app's language
  root.querySelectorAll('.vz-tools > button[data-act]').forEach((b) => {
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
    const scale = () => {  // screen px per SVG unit now ('meet' scaling)
      const r = stage.getBoundingClientRect();
      return Math.min(r.width / st.view.w, r.height / st.view.h);
    };
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
    // the label size the view is made for: px per SVG unit that shows the nodes' font at
    // ``px`` CSS pixels (Graphviz writes font-size in the viewBox's units, points)
    const fontUnits = () => {
      const t = stage.querySelector('g.node text[font-size]');
      return (t && parseFloat(t.getAttribute('font-size'))) || 11;
    };
    const readable = (px) => px / fontUnits();
    // the part of the stage the window shows (a 720 px tall screen may hide its bottom)
    const shown = () => {
      const r = stage.getBoundingClientRect();
      const top = Math.max(r.top, 0), bottom = Math.min(r.bottom, window.innerHeight || r.bottom);
      return bottom - top >= Math.min(160, r.height) ? { r, top, bottom } : { r, top: r.top, bottom: r.bottom };
    };
    // put SVG point (x, y) at the middle of the shown part, at k px per unit
    const centreAt = (x, y, k) => {
      const { r, top, bottom } = shown();
      const cx = r.width / 2, cy = (top + bottom) / 2 - r.top;
      st.view = { x: x - cx / k, y: y - cy / k, w: r.width / k, h: r.height / k };
      apply();
    };
    const centreOf = (el) => {
      const b = el.getBoundingClientRect();
      return toSvg(b.left + b.width / 2, b.top + b.height / 2);
    };
    // centre a node or block, at the current zoom when its labels are readable there, else
    // at the readable one
    st.focusOn = (el, zoomTo) => {
      if (!el || !st.view) return;
      const p = centreOf(el);
      const k = zoomTo ? readable(st.labelPx) : Math.max(scale(), readable(st.minPx));
      centreAt(p.x, p.y, k);
      root.setAttribute('data-focus', el.id);
    };
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
      root.setAttribute('data-selected', id || '');
      if (!id) return;
      const el = stage.querySelector(`[id="${CSS.escape(id)}"]`);
      if (el) el.classList.add('vz-selected');
    };
    st.select = select;
    const find = (ids) => {
      for (const id of ids || []) {
        const el = stage.querySelector(`[id="${CSS.escape(id)}"]`);
        if (el) return el;
      }
      return null;
    };
    st.find = find;
    const fit = (mode) => {
      if (!st.full) return;
      const r = stage.getBoundingClientRect();
      const F = st.full;
      if (mode === 'top') {  // fit the width (at most 1.25× natural size), top aligned
        const aspect = (r.height || 1) / (r.width || 1);
        const w = Math.max(F.w, r.width / 1.25);
        st.view = { x: F.x - (w - F.w) / 2, y: F.y, w: w, h: w * aspect };
      } else if (mode === 'first') {  // readable, at the start of the data flow
        const k = readable(st.labelPx);
        const { top, bottom } = shown();
        if (F.w * k <= r.width && F.h * k <= bottom - top) {  // all of it is readable already
          st.view = { ...F };
          apply();
          return;
        }
        const first = find((st.flow && st.flow.ids || []).slice(0, 1));
        const p = first ? centreOf(first) : { x: F.x, y: F.y };
        const w = r.width / k, h = r.height / k;
        const half = ((top + bottom) / 2 - r.top) / k;  // the shown part's middle, in units
        if (F.w / F.h > r.width / r.height) {  // a wide graph: its left end
          let y = F.y + F.h / 2 - half;  // all of its height in the shown part
          if (F.h * k > bottom - top) {  // taller than that: the title, unless the first
            y = F.y;                     // node is then out of sight: that in the middle
            const lo = F.y + (top - r.top + 24) / k, hi = F.y + (bottom - r.top - 24) / k;
            if (p.y < lo || p.y > hi) y = Math.max(F.y, p.y - half);
          }
          st.view = { x: F.x, y, w, h };
        } else {  // a tall one: its top, centred on the first node where it is wider than the view
          const x = F.w <= w ? F.x + F.w / 2 - w / 2
            : Math.min(Math.max(F.x, p.x - w / 2), F.x + F.w - w);
          st.view = { x, y: F.y - 44 / k, w, h };  // the title below the export buttons
        }
      } else {
        st.view = { ...F };
      }
      apply();
    };
    st.fit = fit;
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
      if (!el) return false;
      const r = stage.getBoundingClientRect(), b = el.getBoundingClientRect();
      const p = toSvg(b.left + b.width / 2, b.top);
      st.view = { x: p.x - keep.sx * keep.s, y: p.y - keep.sy * keep.s,
                  w: r.width * keep.s, h: r.height * keep.s };
      apply();
      root.setAttribute('data-anchor', el.id);
      return true;
    };
    // ← / →: the previous / next node or block along the data flow, centred, its details open
    const step = (dir) => {
      const ids = (st.flow && st.flow.ids) || [];
      if (!ids.length || !st.view) return;
      let i = ids.indexOf(st.selected);
      const span = st.flow.spans && st.flow.spans[st.selected];  // an open block: its insides
      if (i < 0 && span) i = dir > 0 ? span[0] - 1 : span[1] + 1;
      else if (i < 0) i = dir > 0 ? -1 : ids.length;
      const next = ids[Math.min(Math.max(i + dir, 0), ids.length - 1)];
      if (!next || next === st.selected) return;
      select(next);
      st.focusOn(find([next]), false);
      setStateValue('selected', next);
    };
    const typing = (el) => el && (el.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.getAttribute('role') === 'slider');
    const onKey = (e) => {
      if (!root.isConnected) { document.removeEventListener('keydown', onKey); return; }
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      const path = e.composedPath ? e.composedPath() : [];
      const inside = path.includes(root);
      // from anywhere on the page but a widget that takes arrows itself (a slider, a field)
      if (!inside && (typing(path[0]) || typing(document.activeElement))) return;
      e.preventDefault();
      step(e.key === 'ArrowRight' ? 1 : -1);
    };
    document.addEventListener('keydown', onKey);
    const closeMenu = () => {
      menu.hidden = true;
      root.querySelector('button[data-act="png"]').setAttribute('aria-expanded', 'false');
    };
    const onPress = (e) => {  // a press anywhere else closes the PNG menu
      if (!root.isConnected) { document.removeEventListener('pointerdown', onPress); return; }
      if (!menu.hidden && !(e.composedPath ? e.composedPath() : []).includes(menu.parentElement)) closeMenu();
    };
    document.addEventListener('pointerdown', onPress);
    root.querySelectorAll('.vz-tools').forEach((bar) => bar.addEventListener('click', (e) => {
      const b = e.target.closest && e.target.closest('button');
      const act = b && b.getAttribute('data-act');
      if (act === 'in') zoom(1.4); else if (act === 'out') zoom(1 / 1.4);
      else if (act === 'fit') fit('all'); else if (act === 'top') fit('top');
      else if (act === 'prev') step(-1); else if (act === 'next') step(1);
      else if (act === 'svg') saveSvg(st.data);
      else if (act === 'png') {
        menu.hidden = !menu.hidden;
        b.setAttribute('aria-expanded', String(!menu.hidden));
      } else if (act === 'png-visible' || act === 'png-whole') {
        closeMenu();
        savePng(st.data, root.querySelector('button[data-act="png"]'),
                act === 'png-visible' ? 'visible' : 'whole', { svg: st.svg, stage, full: st.full });
      }
    }));
  }
  st.data = d;
  st.flow = d.flow || null;
  st.labelPx = d.labelPx || 13;
  st.minPx = d.minPx || 11;
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
  if (ex) ['visible', 'whole'].forEach((part) => {
    const b = menu.querySelector(`button[data-act="png-${part}"]`);
    if (ex[part]) { b.textContent = ex[part].label; b.title = ex[part].title; }
  });
  if (d.svg !== st.svgText) {
    const keep = st.anchorOf(d.anchor);  // where the clicked thing is now, and the zoom
    const first = st.svgText === null;
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
      root.removeAttribute('data-focus');
      st.view = { ...st.full };  // the new drawing's own frame first: positions are read in it
      st.apply();
      st.fit(d.start === 'all' ? 'all' : 'first');
      // the clicked block stays where it was; else the selection (the link's node=, or what
      // was selected before a new depth or layout), centred at a readable zoom
      if (!(keep && st.keepAnchor(keep))) {
        const el = st.find(d.focus);
        if (el) st.focusOn(el, first);
      }
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


def _state_value(key: str) -> str | None:
    res = st.session_state.get(key)
    return res.get("selected") if hasattr(res, "get") else getattr(res, "selected", None)


def _picked(key: str) -> None:
    """A click or a step in the viewer (before the rerun it causes): what was picked, so that
    rerun draws it selected rather than the caller's selection from before the pick."""
    st.session_state[key + ".picked"] = _state_value(key)


def viewer_text() -> dict:
    """The viewer's own words (button tooltips and labels, the hint) in the current language;
    its HTML holds none, the script puts these in."""
    return {"in": {"title": _("Zoom in")}, "out": {"title": _("Zoom out")},
            "fit": {"title": _("Fit the whole graph"), "label": _("fit")},
            "top": {"title": _("Fit the width, back to the top"), "label": _("top")},
            "prev": {"title": _("The previous node or block along the data flow (key ←)")},
            "next": {"title": _("The next node or block along the data flow (key →)")},
            "hint": _("scroll to zoom · drag to pan · click a node · ← → step")}


def flow(view: View | None) -> dict | None:
    """The drawn nodes and blocks in data-flow order (what ← / → step through) and, for each
    open block, the first and last of them inside it: ``{"ids": [...], "spans": {id: [i, j]}}``."""
    if view is None:
        return None
    ids = [u.id for u in sorted(view.units.values(), key=lambda u: (u.order, u.id))]
    spans: dict[str, list[int]] = {}
    for i, uid in enumerate(ids):
        path = view.units[uid].cluster
        while path:  # the open block it is drawn in, and that block's open parents
            span = spans.setdefault(block_id(path), [i, i])
            span[1] = i
            path = path.rpartition(".")[0] if "." in path else ""
    return {"ids": ids, "spans": spans}


def drawn_as(view: View | None, selected: str | None) -> list[str]:
    """Where ``selected`` is on screen, first found wins: itself, else what draws it (the
    collapsed block a node is inside, the fold a block is part of, a collapsed parent)."""
    parsed = parse_id(selected)
    if parsed is None:
        return []
    ids = [selected]
    if view is None:
        return ids
    kind, key = parsed
    if kind == "node" and key in view.rep:
        ids.append(view.rep[key])
    elif kind == "block":
        ids += [fid for fid, members in view.folds.items() if key in members]
        path = key
        while "." in path:
            path = path.rpartition(".")[0]
            ids.append(block_id(path))
    return ids


def graph_viewer(svg: str, key: str, height: int = 640, selected: str | None = None,
                 background: str | None = None, anchor: list[str] | None = None,
                 start: str = "auto", export: dict | None = None,
                 view: View | None = None) -> str | None:
    """Show ``svg`` with zoom and pan; return the id of the last clicked (or stepped to) node
    or block (``"n-conv1"``, ``"b-layer1.0"``, ``"f-layer3.1"``) or None. ``selected``
    highlights an id (e.g. the one restored from the URL) until the user picks another; a
    new drawing opens centred on it at a readable zoom. ``anchor``: ids (first found wins)
    whose screen position and zoom the new ``svg`` keeps, e.g. the block just expanded.
    ``start``: where a drawing opens with nothing selected, at a zoom where the node labels
    are :data:`LABEL_PX` on screen: ``"auto"`` (≥ 11 px) or ``"first"`` (≥ 14 px, for a
    projector) on the first blocks of the data flow, or ``"all"`` (fit the whole graph; the
    *fit* button does that too). ``export``: the SVG/PNG download buttons' settings
    (:func:`components.png_export.export_settings`), None for no buttons. ``view``: the
    :func:`~vizapp.render.dot.build_view` drawn, for ← / → (data-flow order)."""
    mode = start if start in LABEL_PX else "auto"
    if key + ".picked" in st.session_state:  # the user's pick is newer than ``selected``
        selected = st.session_state.pop(key + ".picked") or selected
    res = _viewer(key=key, data={"svg": svg, "height": int(height), "selected": selected,
                                 "background": background, "anchor": anchor or [],
                                 "start": start, "export": export, "text": viewer_text(),
                                 "labelPx": LABEL_PX[mode], "minPx": MIN_LABEL_PX[mode],
                                 "flow": flow(view), "focus": drawn_as(view, selected)},
                  default={"selected": selected}, height=int(height) + 2,
                  on_selected_change=functools.partial(_picked, key))
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
