"""The interface language of a session: the link's ``lang=`` first, then the session's last
choice, then the browser's preferred language; the switch at the top of the sidebar changes it
and keeps it in the URL (``?lang=zh``), so a teacher's link opens in the class's language."""

from __future__ import annotations

import streamlit as st

from vizapp import i18n

LANG_KEY = "vz.lang"
SWITCH_KEY = "vz.lang.switch"
PARAM = "lang"
MESSAGE_KEY = "vz.lang.message"


def browser_lang() -> str | None:
    """The browser's preferred supported language (Accept-Language, or Streamlit's locale)."""
    try:
        found = i18n.from_accept_language(st.context.headers.get("Accept-Language"))
        return found or i18n.normalize(getattr(st.context, "locale", None))
    except Exception:  # noqa: BLE001 - no request context (AppTest): no preference
        return None


def apply() -> str:
    """Set this run's language (call first in the script); returns it."""
    ss = st.session_state
    raw = st.query_params.get(PARAM)
    lang = i18n.normalize(raw) if raw else None
    if raw and lang is None:
        ss[MESSAGE_KEY] = raw
        del st.query_params[PARAM]
    if lang is None:
        lang = ss.get(LANG_KEY) or browser_lang() or i18n.DEFAULT
    ss[LANG_KEY] = lang
    ss[SWITCH_KEY] = lang
    i18n.set_lang(lang)
    return lang


def restore() -> str:
    """This session's language again, in a fragment's rerun (it skips the script's top, where
    :func:`apply` runs, and starts with the default language)."""
    return i18n.set_lang(st.session_state.get(LANG_KEY) or i18n.DEFAULT)


def _on_switch() -> None:
    lang = i18n.normalize(st.session_state.get(SWITCH_KEY)) or i18n.DEFAULT
    st.session_state[LANG_KEY] = lang
    st.query_params[PARAM] = lang


def switch() -> None:
    """The English / 简体中文 switch (at the top of the sidebar, on every page)."""
    st.sidebar.segmented_control(
        "Language / 语言", list(i18n.LANGS), key=SWITCH_KEY, on_change=_on_switch,
        format_func=i18n.LANGS.get, label_visibility="collapsed", width="stretch")
    bad = st.session_state.pop(MESSAGE_KEY, None)
    if bad is not None:
        from .text import show_warning
        show_warning(i18n._("lang: '{value}' is not a language of this app (en, zh); "
                            "showing {lang}.").format(value=bad, lang=i18n.LANGS[i18n.get_lang()]),
                     where=st.sidebar)
