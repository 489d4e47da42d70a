"""Text from links is shown as text (issue 11 item 4): hostile URL parameters on every page
produce no live link, image, HTML or directive in any element's Markdown body."""

from __future__ import annotations

import json
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
           "<https://evil.example>", "me@evil.example", "see https://evil.example/x now",
           "_www.evil.example"]
LIVE = [re.compile(p, re.I) for p in (
    r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(",  # [text](url) / ![alt](src)
    r"(?<!\\)<\s*/?\s*(img|script|a|iframe|svg)\b",  # raw HTML
    r"(?<!\\)<https?(?<!\\):",  # <https://…> autolink
    r"(?<!\\):red(?<!\\)\[exam",  # a Streamlit colour directive from the link
    r"(?<!\\)\$x\^2(?<!\\)\$",  # LaTeX from the link
)]


# GFM autolink literals, as Streamlit's Markdown finds them (mdast-util-gfm-autolink-literal,
# in StreamlitMarkdown.js): on the text *after* backslash escapes are resolved, so
# `https\://evil` is a link just as `https://evil` is; `\w` is ASCII in JavaScript
_AUTOLINK = [re.compile(p, re.I | re.A) for p in (
    r"(https?://|www(?=\.))([-.\w]+)[^ \t\r\n]*",  # https://evil…, www.evil…
    r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)",  # me@evil.example
)]
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: backslash + ASCII punctuation


def autolinks(body: str) -> list[str]:
    """The bare URLs and e-mail addresses of ``body`` that Markdown would make links."""
    text = _ESCAPED.sub(r"\1", body)
    return [m.group(0) for p in _AUTOLINK for m in p.finditer(text) if "evil" in m.group(0)]


def live(body: str) -> list[str]:
    return [m.group(0) for p in LIVE for m in p.finditer(body)] + autolinks(body)


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


# ------------------------------------------------------------------ module names from the code box
# `net.add_module(NAME, …)` takes any text without a dot: Markdown, HTML, a backtick that would
# close a code span early. Each page that shows module names shows them as text.
NAMES = ["![img](http://evil/pixel) [link](http://evil/x)", "<a href='http://evil/x'>click me</a>",
         "x` [code](http://evil/c) `y"]
_CODE_SPAN = re.compile(r"(?<![\\`])(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)  # literal inside
_PLOTLY_HTML = re.compile(r"<\s*/?\s*(a|img|b|i)\b", re.I)  # plotly labels render these tags


def outside_code(body: str) -> str:
    return _CODE_SPAN.sub(" ", body)


def _named_source(fail: bool) -> str:
    src = ("net = nn.Sequential()\n"
           f"net.add_module({NAMES[0]!r}, nn.Conv2d(3, 4, 3))\n"
           f"net.add_module({NAMES[1]!r}, nn.ReLU())\n"
           f"net.add_module({NAMES[2]!r}, nn.BatchNorm2d(4))\n")
    return src + (f"net.add_module({NAMES[2] + ' 2'!r}, nn.Conv2d(4, 4, 9))\n" if fail else "")


def markdown_and_plots(at: AppTest) -> tuple[list[str], list[str]]:
    """The Markdown an element's text is rendered with (bodies, labels, help, expander titles;
    not st.text, st.code, text boxes or select options, which show text as it is), and the
    plotly figures' JSON."""
    md_out: list[str] = []
    plots: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = type(node).__name__
        if proto is not None and kind not in ("Text", "Code", "TextArea", "TextInput"):
            for field in ("body", "label", "help"):
                v = getattr(proto, field, None)
                if isinstance(v, str) and v:
                    md_out.append(v)
            spec = getattr(proto, "spec", None)
            if isinstance(spec, str) and spec.startswith("{") and '"data"' in spec:
                plots.append(json.dumps(json.loads(spec), ensure_ascii=False))  # \u003c → <
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return md_out, plots


def _open_named(page: str, fail: bool, **params: str) -> AppTest:
    from vizapp.custom import url

    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update({"model": "seed003-sequential", "code": url.encode(_named_source(fail)),
                            **params})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page != "graph":
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def _assert_names_are_text(at: AppTest) -> tuple[list[str], list[str]]:
    bodies_, plots = markdown_and_plots(at)
    from components.code_box import ANCHOR

    own = f"](#{ANCHOR})"  # the sidebar's link to the code box: vizapp's own, same page
    bad = {b[:160]: live(outside_code(b.replace(own, ")"))) for b in bodies_
           if live(outside_code(b.replace(own, ")")))}
    assert not bad, bad
    tags = {p[:80]: _PLOTLY_HTML.findall(p) for p in plots if _PLOTLY_HTML.findall(p)}
    assert not tags, tags
    return bodies_, plots


@pytest.mark.parametrize("fail", [False, True], ids=["runs", "fails"])
@pytest.mark.parametrize("page", ["shapes", "compare", "batchnorm", "features", "run", "train"])
def test_module_names_render_as_text(page, fail):
    at = _open_named(page, fail)
    bodies_, plots = _assert_names_are_text(at)
    if page == "shapes":  # the names are there, as text: expander titles and the chart
        assert sum("evil" in b for b in bodies_) >= 3
        if not fail:
            assert any("&lt;a href='http://evil/x'&gt;click me&lt;/a&gt;" in p for p in plots)


def test_module_names_render_as_text_in_the_graph_details():
    import vizapp
    from vizapp.custom import evaluate

    a = vizapp.analyze(evaluate(_named_source(True)), (3, 6, 6))
    ids = [n.id for n in a.nodes if n.module_path in NAMES or n.module_path == NAMES[2] + " 2"]
    assert len(ids) == 4
    for node in ids:
        at = _open_named("graph", True, node=f"n-{node}")
        bodies_, _plots = _assert_names_are_text(at)
        assert any("evil" in b for b in bodies_)
