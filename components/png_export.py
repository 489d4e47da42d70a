"""The Graph page's PNG download, at a resolution fit for slides, that works on the first click.

A ``st.download_button`` whose ``data`` is a callable defers the file: in a fresh session the
rerun between drawing the button and the click may drop it ("MediaFileStorageError: Deferred
file … not found"). So the PNG is laid out eagerly (cached across sessions by DOT text and dpi)
and the button gets the bytes; until they exist (layout failed or timed out) it is disabled and
says why. The dpi is 200 (slides), lowered for big graphs so the image stays under
:data:`MAX_SIDE_PX` pixels a side (read from the SVG's own size in points)."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from vizapp.i18n import _
from vizapp.render.layout import layout_result
from vizapp.runtime.cache import SharedCache

from .text import esc

SLIDE_DPI = 200
MAX_SIDE_PX = 8000
MIN_DPI = 36
TIMEOUT = 20.0
PNGS = SharedCache("pngs", max_bytes=96 << 20, max_entries=32, sizeof=len)
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


def _render(dot: str, dpi: int) -> bytes | str:
    """In the worker process (CPU work kept out of the server's own process); timeouts,
    engine errors, too big: a message, cached too."""
    from vizapp.runtime import workers

    out, err, _ = workers.call(layout_result, dot, "png", TIMEOUT, dpi, timeout=TIMEOUT + 30)
    return out if out is not None else f"PNG export failed: {err}"


def png(dot: str, svg: str | None) -> tuple[bytes | None, str, int]:
    """(PNG bytes or None, error message, dpi)."""
    dpi = slide_dpi(svg)
    with st.spinner(_("Rendering the PNG…")):
        out = PNGS.get((dot, dpi), lambda: _render(dot, dpi))
    return (out, "", dpi) if isinstance(out, bytes) else (None, str(out), dpi)


def button(where: Any, dot: str, svg: str | None, stem: str) -> None:
    """The PNG download button in ``where`` (a column)."""
    data, err, dpi = png(dot, svg) if svg is not None else (None, "", SLIDE_DPI)
    where.download_button("PNG", data=data or b"", file_name=f"{stem}.png", mime="image/png",
                          disabled=data is None, icon=":material/download:", key="vz_g_dl_png",
                          help=esc(err, 500) if err else _("{dpi} dpi, for slides").format(dpi=dpi))
