"""Fonts that can show Chinese: one stack for the graph (DOT ``fontname``) and the plotly figures.

The browser and fontconfig pick the first family in the stack that is installed and fall back
glyph by glyph, so Latin text keeps its usual font and Chinese takes the first CJK font present:
Noto Sans CJK SC / WenQuanYi Micro Hei on Linux (``apt-get install fonts-wqy-microhei``),
Microsoft YaHei on Windows, PingFang SC on macOS.
"""

from __future__ import annotations

CJK_FAMILIES = "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC"
DOT_FONT_CJK = f"Helvetica, {CJK_FAMILIES}, sans-serif"
# plotly's own default stack, with the CJK families before the generic fallback
PLOTLY_FONT = f'"Open Sans", verdana, arial, {CJK_FAMILIES}, sans-serif'


def use_cjk_in_plotly_templates() -> None:
    """Name the CJK families in the templates the figures use (English text is unchanged: its
    glyphs come from the first families, exactly as before)."""
    import plotly.io as pio

    for name in ("plotly", "plotly_white"):
        pio.templates[name].layout.font.family = PLOTLY_FONT
