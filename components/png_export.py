"""The Graph page's SVG and PNG downloads, made in the browser; the PNG at slide resolution.

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
    :mod:`components.graph_viewer` draws and saves the files); None when there is no SVG."""
    size = png_pixels(svg)
    if svg is None or size is None:
        return None
    return {"stem": stem, "width": size[0], "height": size[1], "background": background,
            "pngTitle": _("Download this view as PNG: {dpi} dpi, {w}×{h} px, for slides"
                          ).format(dpi=slide_dpi(svg), w=size[0], h=size[1]),
            "svgTitle": _("Download this view as SVG"),
            "failed": _("PNG export failed: ")}
