"""One home for showing text that may contain what a user typed or a link carried (URL
parameters, knob values, model and file names, exception messages quoting them).

Streamlit interprets Markdown in ``st.markdown``/``st.caption``/``st.error``/``st.warning``/
``st.info`` and in ``:red[…]`` directives: a link could show "Click here for the exam answers"
pointing anywhere, or make every browser that opens it fetch an outside image. So user text is
escaped (:func:`esc`) before it meets Markdown: links, images, HTML, autolinks, directives,
icons, emoji and LaTeX come out as the literal characters. Our own templates keep their
Markdown (:func:`md`); messages that are user text through and through go through
:func:`show_error` / :func:`show_warning` / :func:`show_info` / :func:`caption`.
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
_WWW = re.compile(r"(?i)\b(www)\.")  # GFM turns a bare www.host into a link
MAX_CHARS = 300


def esc(value: Any, limit: int = MAX_CHARS) -> str:
    """``value`` as text that renders literally inside Markdown: one line, at most ``limit``
    characters, every markup character backslash-escaped."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    text = _SPECIAL.sub(r"\\\1", text)
    text = _EDGE_UNDERSCORE.sub(r"\\_", text)
    return _WWW.sub(r"\1\\.", text)


def md(template: str, *args: Any, **kwargs: Any) -> str:
    """``template.format(...)`` with every argument escaped: the template's own Markdown
    (bold, icons) stays, what the arguments carry does not."""
    return template.format(*(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()})


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
