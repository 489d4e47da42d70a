"""The Graph page's SVG and PNG downloads, made in the browser; the PNG slide-shaped.

The browser already has the view's SVG (the viewer shows it), so both files are made there
(the viewer's toolbar buttons, :mod:`components.graph_viewer`): SVG is that text, PNG is that
SVG drawn on a canvas at slide resolution. The server does no work for them and sends the SVG
once per rerun (a ``st.download_button`` would send and hash it a second time) — before, every new configuration cost the one analysis worker a 200-dpi Graphviz
PNG (≈ 0.2 s, four times the analysis and SVG layout together), which was what made thirty
students' knob changes queue (bench/load.py). Drawn by the browser, the PNG also has the
glyphs the viewer shows (Chinese labels included: the browser's own fonts, not the layout
engine's), and it works on the first click (nothing deferred on the server).

The dpi is 200 (slides), lowered for big graphs so the image stays under :data:`MAX_SIDE_PX`
pixels a side (read from the SVG's own size in points) and under the canvas limits of browsers.

A slide is 16:9, a printed page about 1:√2, but a left-to-right ResNet is 16:1: drawn as one
strip it is a line of dots on a slide. So the PNG button offers *the visible part* (the
viewer's frame, exactly as on screen) and *the whole graph*, which a long drawing reaches cut
into rows (a tall one into columns), each cut in a gap between nodes, so that every image's
width/height stays between :data:`SLIDE_MIN` (1:2) and :data:`SLIDE_MAX` (16:9).
"""

from __future__ import annotations

import re
from vizapp.i18n import _

SLIDE_DPI = 200
MAX_SIDE_PX = 8000
MIN_DPI = 36
_SIZE = re.compile(r'<svg[^>]*?\bwidth="([\d.]+)pt"[^>]*?\bheight="([\d.]+)pt"', re.S)


def svg_points(svg: str | None) -> tuple[float, float] | None:
    """(width, height) in points of a Graphviz SVG, None if it does not say."""
    m = _SIZE.search(svg or "")
    return (float(m.group(1)), float(m.group(2))) if m else None


def slide_dpi(svg: str | None) -> int:
    """200 dpi, or less so the longest side stays under MAX_SIDE_PX (72 points per inch)."""
    pts = svg_points(svg)
    if not pts:
        return SLIDE_DPI
    longest = max(pts) or 1.0
    return max(MIN_DPI, min(SLIDE_DPI, int(MAX_SIDE_PX * 72 / longest)))


def png_pixels(svg: str | None) -> tuple[int, int] | None:
    """The PNG's (width, height) in pixels: the SVG's points at :func:`slide_dpi` (the browser
    draws exactly this size)."""
    pts = svg_points(svg)
    if not pts:
        return None
    dpi = slide_dpi(svg)
    return max(1, round(pts[0] * dpi / 72)), max(1, round(pts[1] * dpi / 72))


def export_settings(svg: str | None, stem: str, background: str = "#ffffff") -> dict | None:
    """What the viewer's SVG and PNG download buttons need (the JS in
    :mod:`components.graph_viewer` draws and saves the files); None when there is no SVG.
    ``width``/``height``: the whole view's SVG at slide dpi (before it is cut into rows)."""
    size = png_pixels(svg)
    if svg is None or size is None:
        return None
    dpi = slide_dpi(svg)
    return {"stem": stem, "width": size[0], "height": size[1], "background": background,
            "pngTitle": _("Download as PNG: the part on screen, or the whole graph at {dpi} dpi "
                          "for slides").format(dpi=dpi),
            "visible": {"label": _("the visible part"),
                        "title": _("Exactly what the viewer shows now, at least 1920 px wide")},
            "whole": {"label": _("the whole graph"),
                      "title": _("All of it at {dpi} dpi; a long graph is cut into rows (a tall "
                                 "one into columns) between its nodes, so the image keeps a "
                                 "slide's shape").format(dpi=dpi)},
            "svgTitle": _("Download this view as SVG"),
            "failed": _("PNG export failed: ")}


# The browser half: module-scope functions the viewer's script (components/graph_viewer.py)
# starts with. ``savePng(d, btn, part)`` draws ``part`` = "whole" (the view's SVG at slide
# dpi, a long drawing cut into rows, a tall one into columns, between nodes, so the image
# keeps a slide's shape: width/height between SLIDE_MIN and SLIDE_MAX) or "visible" (what the
# viewer shows, framed exactly as on screen, at least 1920 px wide).
SLIDE_MAX = 16 / 9
SLIDE_MIN = 1 / 2
EXPORT_JS = r"""
const SLIDE_MAX = @MAX@, SLIDE_MIN = @MIN@;
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
// k pieces of [0, length): each cut near length·i/k, inside a gap that no span (a node, an
// edge's label: [a, b] in the same units) covers, so no box or word is cut in two
const cutsOf = (spans, length, k) => {
  const free = [];
  let end = 0;
  for (const [a, b] of [...spans].sort((p, q) => p[0] - q[0])) {
    if (a > end) free.push([end, a]);
    end = Math.max(end, b);
  }
  if (end < length) free.push([end, length]);
  const out = [0];
  for (let i = 1; i < k; i++) {
    const ideal = length * i / k;
    let best = ideal, dist = Infinity;
    for (const [a, b] of free) {
      const m = Math.min(8, (b - a) / 2), x = Math.min(Math.max(ideal, a + m), b - m);
      if (Math.abs(x - ideal) < dist) { dist = Math.abs(x - ideal); best = x; }
    }
    if (best > out[out.length - 1] + 1 && best < length - 1) out.push(Math.round(best));
  }
  out.push(length);
  return out;
};
// how a W×H drawing goes on a slide-shaped canvas: pieces {sx, sy, sw, sh, dx, dy}, each
// row (column) trimmed to what is drawn in it; the fewest rows (columns) that make the
// image no wider than SLIDE_MAX (no taller than SLIDE_MIN), then a margin for the rest
const slideLayout = (W, H, boxes) => {
  const r = W / H, gap = Math.max(12, Math.round(0.03 * Math.min(W, H)));
  const build = (k, rows) => {
    const along = rows ? W : H, across = rows ? H : W;
    const keep = boxes.filter((q) => q.keep).map((q) => rows ? [q.x0, q.x1] : [q.y0, q.y1]);
    const c = k > 1 ? cutsOf(keep, along, k) : [0, along];
    const pieces = c.slice(1).map((b, i) => {
      const a = c[i];
      let lo = Infinity, hi = -Infinity;
      for (const q of boxes) {
        const [p0, p1, c0, c1] = rows ? [q.x0, q.x1, q.y0, q.y1] : [q.y0, q.y1, q.x0, q.x1];
        if (p1 > a && p0 < b) { lo = Math.min(lo, c0); hi = Math.max(hi, c1); }
      }
      if (c.length === 2 || lo > hi) { lo = 0; hi = across; }
      lo = Math.max(0, Math.floor(lo - gap / 2)); hi = Math.min(across, Math.ceil(hi + gap / 2));
      return rows ? { sx: a, sy: lo, sw: b - a, sh: hi - lo } : { sx: lo, sy: a, sw: hi - lo, sh: b - a };
    });
    let w = 0, h = 0;
    for (const p of pieces) {
      if (rows) { p.dx = 0; p.dy = h; h += p.sh + gap; w = Math.max(w, p.sw); }
      else { p.dx = w; p.dy = 0; w += p.sw + gap; h = Math.max(h, p.sh); }
    }
    if (rows) h -= gap; else w -= gap;
    return { pieces, w, h, rows, gap };
  };
  const wide = r > SLIDE_MAX, tall = r < SLIDE_MIN;
  let L = build(1, true);
  for (let k = 2; k <= 16 && (wide ? L.w / L.h > SLIDE_MAX : tall && L.w / L.h < SLIDE_MIN); k++)
    L = build(k, wide);
  // what is still outside the slide shapes gets a margin of the background
  const cw = Math.max(L.w, Math.ceil(L.h * SLIDE_MIN)), ch = Math.max(L.h, Math.ceil(L.w / SLIDE_MAX));
  for (const p of L.pieces) { p.dx += Math.floor((cw - L.w) / 2); p.dy += Math.floor((ch - L.h) / 2); }
  return { ...L, width: cw, height: ch };
};
// what is drawn, in the PNG's pixels: every node, edge, open block and the title and legend;
// ``keep``: what a cut must not go through (a node, an edge's or a block's label)
const boxesOf = (svg, full, W, H) => {
  const m = svg && svg.getScreenCTM();
  const out = [];
  if (!m) return out;
  const fx = W / full.w, fy = H / full.h;
  const bg = svg.querySelector('g.graph > polygon');
  const add = (el, keep) => {
    if (el === bg) return;
    const b = el.getBoundingClientRect();
    if (!b.width && !b.height) return;
    out.push({ keep, x0: ((b.left - m.e) / m.a - full.x) * fx, x1: ((b.right - m.e) / m.a - full.x) * fx,
               y0: ((b.top - m.f) / m.d - full.y) * fy, y1: ((b.bottom - m.f) / m.d - full.y) * fy });
  };
  svg.querySelectorAll('g.node, g.edge text, g.cluster > text').forEach((el) => add(el, true));
  svg.querySelectorAll('g.edge, g.cluster, g.graph > text, g.graph > polygon')
    .forEach((el) => add(el, false));
  return out;
};
// the viewer's SVG as it is on screen: its current viewBox, the stage's shape, the selection
const visibleSvg = (svg, stage) => {
  const r = stage.getBoundingClientRect();
  const f = Math.max(2, 1920 / (r.width || 1));
  const w = Math.round(r.width * f), h = Math.round(r.height * f);
  const clone = svg.cloneNode(true);
  clone.setAttribute('width', w + 'px');
  clone.setAttribute('height', h + 'px');
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.querySelectorAll('.vz-selected path, .vz-selected polygon, .vz-selected ellipse')
    .forEach((el) => { el.setAttribute('stroke', '#ef4444'); el.setAttribute('stroke-width', '3'); });
  return { text: new XMLSerializer().serializeToString(clone), width: w, height: h };
};
// draw ``src`` ({text, width, height}) on a canvas by ``layout`` and save it
const drawPng = (src, layout, ex, btn, name) => {
  btn.setAttribute('data-state', 'drawing');
  const url = URL.createObjectURL(new Blob([src.text], { type: 'image/svg+xml;charset=utf-8' }));
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
      canvas.width = layout.width; canvas.height = layout.height;
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = ex.background || '#ffffff';
      ctx.fillRect(0, 0, layout.width, layout.height);
      for (const p of layout.pieces)
        ctx.drawImage(img, p.sx, p.sy, p.sw, p.sh, p.dx, p.dy, p.sw, p.sh);
      ctx.strokeStyle = 'rgba(128,128,128,.6)';  // where a row or column goes on
      ctx.setLineDash([6, 6]);
      layout.pieces.slice(1).forEach((p) => {
        ctx.beginPath();
        if (layout.rows) { const y = p.dy - layout.gap / 2; ctx.moveTo(p.dx, y); ctx.lineTo(p.dx + p.sw, y); }
        else { const x = p.dx - layout.gap / 2; ctx.moveTo(x, p.dy); ctx.lineTo(x, p.dy + p.sh); }
        ctx.stroke();
      });
      URL.revokeObjectURL(url);
      canvas.toBlob((png) => {
        if (!png) { fail('the canvas is too big for this browser'); return; }
        save(png, name);
        btn.setAttribute('data-state', 'saved');
      }, 'image/png');
    } catch (e) { fail(String((e && e.message) || e)); }
  };
  img.src = url;
};
// part "whole": the SVG's size is rewritten from points to the target pixels before it is
// drawn, so the browser rasterises the vectors at that size (no upscaled bitmap)
const savePng = (d, btn, part, live) => {
  const ex = d && d.export;
  if (!d || !d.svg || !ex || !ex.width || !ex.height) return;
  if (part === 'visible') {
    const src = visibleSvg(live.svg, live.stage);
    const one = { pieces: [{ sx: 0, sy: 0, sw: src.width, sh: src.height, dx: 0, dy: 0 }],
                  width: src.width, height: src.height, rows: true, gap: 0 };
    drawPng(src, one, ex, btn, ex.stem + '_visible.png');
    return;
  }
  const W = ex.width, H = ex.height;
  const text = d.svg
    .replace(/(<svg[^>]*?\bwidth=")[\d.]+pt(")/, `$1${W}px$2`)
    .replace(/(<svg[^>]*?\bheight=")[\d.]+pt(")/, `$1${H}px$2`);
  drawPng({ text, width: W, height: H }, slideLayout(W, H, boxesOf(live.svg, live.full, W, H)),
          ex, btn, ex.stem + '.png');
};
""".replace("@MAX@", repr(SLIDE_MAX)).replace("@MIN@", repr(SLIDE_MIN))
