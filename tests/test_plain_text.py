"""Text from links is shown as text (issue 11 item 4): hostile URL parameters on every page
produce no live link, image, HTML or directive in any element's Markdown body."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.pages import PAGES
from components.text import esc, md

MAIN = str(Path(__file__).resolve().parents[1] / "vizapp" / "main.py")
HOSTILE = ["[x](https://evil.example)", "![](http://evil.example/a.png)",
           "<img src=x onerror=alert(1)>", "<script>alert(1)</script>",
           ":red[exam answers] :material/warning:", "www.evil.example", "$x^2$",
           "<https://evil.example>", "me@evil.example"]
LIVE = [re.compile(p, re.I) for p in (
    r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(",  # [text](url) / ![alt](src)
    r"(?<!\\)<\s*/?\s*(img|script|a|iframe|svg)\b",  # raw HTML
    r"(?<!\\)<https?(?<!\\):",  # <https://…> autolink
    r"(?<![\\])(?<=https)://evil|(?<=http)(?<!\\)://evil",  # bare http(s)://evil
    r"(?<!\\)www\.evil",  # bare www. autolink
    r"(?<!\\)@evil\.example",  # e-mail autolink
    r"(?<!\\):red(?<!\\)\[exam",  # a Streamlit colour directive from the link
    r"(?<!\\)\$x\^2(?<!\\)\$",  # LaTeX from the link
)]


def live(body: str) -> list[str]:
    return [m.group(0) for p in LIVE for m in p.finditer(body)]


@pytest.mark.parametrize("value", HOSTILE)
def test_esc_leaves_nothing_live(value):
    assert live(value), "the pattern list must catch the raw value"
    assert not live(esc(value)) and not live(md("**{}**", value))
    assert "\n" not in esc(value + "\n# heading")


def test_esc_keeps_ordinary_text_readable():
    assert esc("growth_rate must be at most 256 (got 1000)") == \
        "growth_rate must be at most 256 (got 1000)"


def bodies(at: AppTest) -> list[str]:
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        for field in ("body", "label", "help", "placeholder", "value"):
            v = getattr(proto, field, None) if proto is not None else None
            if isinstance(v, str) and v:
                out.append(v)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return out


def _open(page: str, value: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=300)
    q = {"model": value, value: "1", "growth_rate": value, "blocks": value, "input": value,
         "batch": value, "vs": value, "vs.blocks": value, "layer": value, "node": value,
         "block": value, "style": value, "depth": value}
    for k, v in q.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page != "graph":
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", [p.key for p in PAGES])
def test_hostile_links_render_as_text_on_every_page(page):
    value = " ".join(HOSTILE)
    at = _open(page, value)
    found = bodies(at)
    assert any("evil" in b for b in found), "the hostile text should be reported somewhere"
    bad = {b[:120]: live(b) for b in found if live(b)}
    assert not bad, bad
