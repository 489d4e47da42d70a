"""The Graph page's PNG download, at a resolution fit for slides, drawn in the browser.

The browser already has the view's SVG (the viewer shows it), so the PNG is made there: the
button draws that SVG on a canvas at slide resolution and saves the canvas. The server does no
work for it — before, every new configuration cost the one analysis worker a 200-dpi Graphviz
PNG (≈ 0.2 s, four times the analysis and SVG layout together), which was what made thirty
students' knob changes queue (bench/load.py). Drawn by the browser, the PNG also has the
glyphs the viewer shows (Chinese labels included: the browser's own fonts, not the layout
engine's), and it works on the first click (nothing deferred on the server).

The dpi is 200 (slides), lowered for big graphs so the image stays under :data:`MAX_SIDE_PX`
pixels a side (read from the SVG's own size in points) and under the canvas limits of browsers.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from vizapp.i18n import _

SLIDE_DPI = 200
MAX_SIDE_PX = 8000
MIN_DPI = 36
COMPONENT_NAME = "vizapp_png_button"
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


_HTML = """<button type="button" class="vz-png" data-testid="vz-png-button">
<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="currentColor"
 d="M5 20h14v-2H5v2zm7-3 5-5-1.41-1.41L13 13.17V4h-2v9.17l-2.59-2.58L7 12l5 5z"/></svg>
<span>PNG</span></button>"""

_CSS = """
.vz-png { display: inline-flex; align-items: center; gap: .4rem; min-height: 2.5rem;
  padding: .25rem .75rem; border-radius: .5rem; cursor: pointer;
  font: inherit; font-family: var(--st-font, "Source Sans Pro", sans-serif); font-size: .875rem;
  border: 1px solid var(--st-border-color, rgba(49,51,63,.2));
  background: var(--st-background-color, #fff); color: var(--st-text-color, #31333f); }
.vz-png:hover:not(:disabled) { border-color: var(--st-primary-color, #ff4b4b);
  color: var(--st-primary-color, #ff4b4b); }
.vz-png:disabled { opacity: .45; cursor: not-allowed; }
"""

# The SVG's size is rewritten from points to the target pixels before it is drawn, so the
# browser rasterises the vectors at that size (no upscaled bitmap); the canvas is filled with
# the page colour first (Graphviz draws its own background polygon too).
_JS = r"""
export default function (component) {
  const { data, parentElement } = component;
  const btn = parentElement.querySelector('button.vz-png');
  btn.__vz = data || {};
  btn.disabled = !btn.__vz.svg;
  btn.title = btn.__vz.title || '';
  btn.setAttribute('data-state', btn.getAttribute('data-state') || 'idle');
  if (btn.__wired) return;
  btn.__wired = true;
  btn.addEventListener('click', () => {
    const d = btn.__vz;
    if (!d.svg || !d.width || !d.height) return;
    btn.setAttribute('data-state', 'drawing');
    const sized = d.svg
      .replace(/(<svg[^>]*?\bwidth=")[\d.]+pt(")/, `$1${d.width}px$2`)
      .replace(/(<svg[^>]*?\bheight=")[\d.]+pt(")/, `$1${d.height}px$2`);
    const url = URL.createObjectURL(new Blob([sized], { type: 'image/svg+xml;charset=utf-8' }));
    const img = new Image();
    const fail = (why) => {
      URL.revokeObjectURL(url);
      btn.setAttribute('data-state', 'failed');
      btn.title = (d.failed || 'PNG export failed: ') + why;
    };
    img.onerror = () => fail('the browser could not draw the SVG');
    img.onload = () => {
      try {
        const canvas = document.createElement('canvas');
        canvas.width = d.width; canvas.height = d.height;
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = d.background || '#ffffff';
        ctx.fillRect(0, 0, d.width, d.height);
        ctx.drawImage(img, 0, 0, d.width, d.height);
        URL.revokeObjectURL(url);
        canvas.toBlob((png) => {
          if (!png) { fail('the canvas is too big for this browser'); return; }
          const a = document.createElement('a');
          a.href = URL.createObjectURL(png);
          a.download = d.fileName || 'graph.png';
          document.body.appendChild(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(a.href), 60000);
          btn.setAttribute('data-state', 'saved');
        }, 'image/png');
      } catch (e) { fail(String(e && e.message || e)); }
    };
    img.src = url;
  });
}
"""

_button = st.components.v2.component(COMPONENT_NAME, html=_HTML, css=_CSS, js=_JS)


def button(where: Any, svg: str | None, stem: str, background: str = "#ffffff") -> None:
    """The PNG download button in ``where`` (a column): disabled, saying why, until there is
    an SVG to draw."""
    size = png_pixels(svg)
    dpi = slide_dpi(svg)
    if size is None:
        title = _("No PNG: the graph has no drawing to export (see the message above).")
    else:
        title = _("{dpi} dpi, {w}×{h} px, for slides").format(dpi=dpi, w=size[0], h=size[1])
    with where:
        _button(key="vz_g_png", height=44,
                data={"svg": svg if size else None, "width": size[0] if size else 0,
                      "height": size[1] if size else 0, "fileName": f"{stem}.png",
                      "title": title, "background": background,
                      "failed": _("PNG export failed: ")})
