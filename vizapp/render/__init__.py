"""Analysis records → DOT text, plotly figures, generated code and reports (no Streamlit)."""

from __future__ import annotations

from typing import Any


def plain(value: Any) -> str:
    """``value`` as text that plotly shows literally. Plotly's titles, tick, legend and hover
    labels understand a subset of HTML (``<a href>``, ``<b>``, ``<br>``, entities), so a module
    name or label like ``<a href='…'>click me</a>`` would become a link: ``&``, ``<`` and ``>``
    become entities, which plotly shows as the characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
