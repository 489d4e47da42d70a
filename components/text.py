"""One home for showing text that may contain what a user typed or a link carried (URL
parameters, knob values, model and file names, exception messages quoting them).

Streamlit interprets Markdown in ``st.markdown``/``st.caption``/``st.error``/``st.warning``/
``st.info`` and in ``:red[…]`` directives: a link could show "Click here for the exam answers"
pointing anywhere, or make every browser that opens it fetch an outside image. So user text is
escaped (:func:`esc`) before it meets Markdown: links, images, HTML, autolinks, directives,
icons, emoji and LaTeX come out as the literal characters, and a bare URL, ``www.`` address or
e-mail address gets an invisible word joiner that keeps Markdown from making it a link. Our own
templates keep their Markdown (:func:`md`); text for inside a ``:red[…]`` directive loses its
square brackets first (:func:`unbracket`); messages that are user text through and through go
through :func:`show_error` / :func:`show_warning` / :func:`show_info` / :func:`caption`.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from vizapp.i18n import _

# every ASCII punctuation that can start Markdown/HTML/Streamlit markup: links and images
# ([ ] !), HTML and autolinks (< > &), directives, icons and emoji (:), LaTeX ($), code (`),
# emphasis (* ~), tables (|), headings (#), e-mail autolinks (@), and the escape itself
_SPECIAL = re.compile(r"([\\`*\[\]<>:$&|~#@{}!])")
_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # intraword _ is literal
# GFM autolinks bare `http(s)://…`, `www.…` and `name@host.tld`. Streamlit's Markdown finds them
# in the text *after* backslash escapes are resolved (mdast-util-gfm-autolink-literal), so
# `https\://x` is still a link: a word joiner (U+2060, invisible, no width) goes inside each one
# instead, and what the pattern needs to see is no longer there
WJ = "\u2060"
_AUTOLINK = re.compile(r"(?i)(?=\\:/)|(?<=www)(?=\.)|(?=\\@)")
MAX_CHARS = 300


def esc(value: Any, limit: int = MAX_CHARS) -> str:
    """``value`` as text that renders literally inside Markdown: one line, at most ``limit``
    characters, every markup character backslash-escaped."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    text = _SPECIAL.sub(r"\\\1", text)
    text = _EDGE_UNDERSCORE.sub(r"\\_", text)
    return _AUTOLINK.sub(WJ, text)


class Code(str):
    """Markdown made by :func:`code`: :func:`md` passes it through unescaped."""


def code(value: Any, limit: int = MAX_CHARS) -> Code:
    """``value`` as an inline code span, for a template that shows a name in code font
    (``md("at {}", code(name))``): Markdown shows a code span's content literally (no link,
    image, HTML or autolink), so it needs no escaping -- only a fence longer than any run of
    backticks inside, or a name holding a backtick would close the span early and the rest
    would be Markdown again."""
    text = " ".join(str(value).split()) or "—"
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if "`" in text else ""  # CommonMark strips one space each side of such content
    return Code(f"{fence}{pad}{text}{pad}{fence}")


def _arg(value: Any) -> str:
    return value if isinstance(value, Code) else esc(value)


def md(template: str, *args: Any, **kwargs: Any) -> str:
    """``template.format(...)`` with every argument escaped (a :func:`code` span passes as
    it is): the template's own Markdown (bold, icons) stays, what the arguments carry does
    not."""
    return template.format(*(_arg(a) for a in args), **{k: _arg(v) for k, v in kwargs.items()})


def unbracket(text: str) -> str:
    """Text to show inside a ``:red[…]`` directive (then escaped with :func:`esc` or
    :func:`md`): its square brackets become round ones, since a bracket would end the
    directive."""
    return text.replace("[", "(").replace("]", ")")


def show_error(text: Any, icon: str | None = ":material/error:", where: Any = None) -> None:
    (where or st).error(esc(text, 1000), icon=icon)


def show_warning(text: Any, icon: str | None = ":material/warning:", where: Any = None) -> None:
    (where or st).warning(esc(text, 1000), icon=icon)


def show_info(text: Any, icon: str | None = ":material/info:", where: Any = None) -> None:
    (where or st).info(esc(text, 1000), icon=icon)


def caption(text: Any, where: Any = None) -> None:
    (where or st).caption(esc(text, 1000))


def failure(cause: Any, fix: Any = "", where: Any = None) -> None:
    """The pages' error box: the cause, then **Fix:** and what to do (both escaped)."""
    body = esc(cause, 1000) + ("\n\n" + _("**Fix:** {text}").format(text=esc(fix, 500))
                               if fix else "")
    (where or st).error(body, icon=":material/error:")
