"""Languages: the one home of translation at run time (English source strings, Simplified
Chinese catalog). The ground floor: imports nothing of vizapp, so every module may use it.

Standard ``gettext``: one catalog per language, ``vizapp/locale/<lang>/LC_MESSAGES/vizapp.po``
(what translators edit) compiled to ``vizapp.mo`` (committed, loaded by :mod:`gettext`;
``python -m vizapp.i18n compile`` rebuilds it, ``tests/test_i18n.py`` checks it is current).
The tooling behind that command (reading .po files, writing .mo files, extracting messages
from the source and the zoo's registry) is :mod:`vizapp.i18n.catalog`, the top floor: it reads
the zoo and the labs, which is why it is not here.

* The current language is per session/thread: a :class:`contextvars.ContextVar`, set by the app
  (``?lang=zh``, the switch, the browser's preferred language) and by the CLI (``--lang zh``).
* ``_("channels {a} → {b}").format(a=…, b=…)``: named placeholders, so a translation may move
  them; ``ngettext`` for plurals; ``N_`` marks a string for extraction without translating it
  (titles in tables of data, translated where they are shown, with :func:`tr`).
* :func:`msg` is a *lazy* message for text computed once and cached for every session (the
  analysis records): a ``str`` whose value is the English sentence, which also keeps its
  template and fields. English code sees an ordinary string; :func:`localize` re-renders a
  record's messages in the current language at display time, so one cached analysis serves
  both languages and symbols and numbers come from the same fields in both.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import gettext
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

DOMAIN = "vizapp"
LOCALE_DIR = Path(__file__).parent.parent / "locale"  # vizapp/locale
LANGS = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
SOURCE_LANG = "en"  # msgids are English

_LANG: contextvars.ContextVar[str] = contextvars.ContextVar("vizapp_lang", default=DEFAULT)


# ----------------------------------------------------------------------------- current language
def normalize(code: Any) -> str | None:
    """``"zh"``/``"zh-CN"``/``"zh_Hans"`` → ``"zh"``, ``"en-GB"`` → ``"en"``; None if unknown."""
    text = str(code or "").strip().lower().replace("_", "-")
    base = text.split("-")[0]
    return base if base in LANGS else None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an HTTP ``Accept-Language`` header (by q weight)."""
    prefs = []
    for i, item in enumerate(str(header or "").split(",")):
        tag, _sep, params = item.strip().partition(";")
        q = 1.0
        m = re.search(r"q\s*=\s*([0-9.]+)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        if normalize(tag) and q > 0:
            prefs.append((-q, i, normalize(tag)))
    return min(prefs)[2] if prefs else None


def get_lang() -> str:
    return _LANG.get()


def set_lang(code: Any) -> str:
    """Make ``code`` the current language (unknown codes → English); returns the one set."""
    lang = normalize(code) or DEFAULT
    _LANG.set(lang)
    return lang


@contextlib.contextmanager
def using(code: Any) -> Iterator[str]:
    """Run a block in language ``code``, restoring the previous one afterwards."""
    token = _LANG.set(normalize(code) or DEFAULT)
    try:
        yield _LANG.get()
    finally:
        _LANG.reset(token)


# ----------------------------------------------------------------------------- lookups
@functools.lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    if lang == SOURCE_LANG:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[lang], fallback=True)


def _(message: str) -> str:
    """``message`` in the current language (itself when untranslated)."""
    if not message:
        return message
    return translations(_LANG.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_LANG.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; translate it where it is shown (:func:`tr`)."""
    return message


# ----------------------------------------------------------------------------- lazy messages
def _render(parts: tuple) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        template, fields = part
        values = {k: tr(v) if isinstance(v, Msg) else v for k, v in fields}
        out.append(_(template).format(**values))
    return "".join(out)


class Msg(str):
    """A message whose ``str`` value is its English text and that keeps what it was built from:
    parts that are literal text or ``(template, fields)``. ``+`` with text keeps it lazy."""

    parts: tuple

    def __new__(cls, parts: tuple) -> "Msg":
        if _LANG.get() == SOURCE_LANG:  # the usual case (analyses build in English): no switch
            text = _render(parts)
        else:
            with using(SOURCE_LANG):
                text = _render(parts)
        obj = super().__new__(cls, text)
        obj.parts = parts
        return obj

    def __reduce__(self):  # pickles (worker processes → the app) as its text and parts
        return (_restore, (str(self), self.parts))

    def __add__(self, other: Any) -> Any:
        if not isinstance(other, str):
            return NotImplemented
        return Msg(self.parts + (other.parts if isinstance(other, Msg) else (str(other),)))

    def __radd__(self, other: Any) -> Any:
        if not isinstance(other, str):
            return NotImplemented
        return Msg((str(other),) + self.parts)

    def render(self) -> str:
        """The message in the current language."""
        return _render(self.parts)


def _restore(text: str, parts: tuple) -> Msg:
    """Unpickle a :class:`Msg` without rendering it again (its English text came with it): an
    analysis of DenseNet-121 holds ~1,500 of them and the app unpickles every analysis."""
    obj = str.__new__(Msg, text)
    obj.parts = parts
    return obj


def msg(template: str, **fields: Any) -> str:
    """``_(template).format(**fields)``, lazily: in English a :class:`Msg` (its value is the
    English text; :func:`localize` translates it later), in another language the translated
    text at once. Field values that are themselves messages are translated with it."""
    if _LANG.get() != SOURCE_LANG:
        values = {k: tr(v) if isinstance(v, Msg) else v for k, v in fields.items()}
        return _(template).format(**values)
    return Msg(((template, tuple(fields.items())),))


def lazy(text: str) -> str:
    """A string of data marked for translation elsewhere (a knob's label, a family's title) as a
    field of a message: English now (a :class:`Msg`), translated where the message is shown."""
    if _LANG.get() != SOURCE_LANG:
        return _(text)
    return Msg(((text.replace("{", "{{").replace("}", "}}"), ()),)) if text else text


def deferred(template: str, **fields: Any) -> str:
    """Like :func:`msg` but lazy in every language: for a record cached across sessions (e.g.
    by ``st.cache_data``) whatever language it was made in; show it with :func:`tr`."""
    return Msg(((template, tuple(fields.items())),))


def join(sep: str, items: Iterable[Any]) -> str:
    """``sep.join(items)`` that keeps messages lazy (``sep`` itself is literal text)."""
    items = list(items)
    if not any(isinstance(i, Msg) for i in [sep, *items]):
        return sep.join(map(str, items))
    parts: list = []
    for i, item in enumerate(items):
        for piece in ((sep, item) if i else (item,)):
            parts.extend(piece.parts if isinstance(piece, Msg) else (str(piece),))
    return Msg(tuple(parts))


def tr(text: Any) -> Any:
    """``text`` in the current language: a lazy message re-rendered, a marked string looked up
    in the catalog; anything else unchanged."""
    if isinstance(text, Msg):
        return text if _LANG.get() == SOURCE_LANG else text.render()
    if isinstance(text, str):
        return _(text)
    return text


def _localize(obj: Any) -> Any:
    if isinstance(obj, Msg):
        return obj.render()
    if isinstance(obj, str):
        return obj
    if isinstance(obj, tuple):
        if type(obj) is not tuple:  # named tuples hold numbers, not sentences
            return obj
        items = tuple(_localize(v) for v in obj)
        return obj if all(a is b for a, b in zip(items, obj)) else items
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            if not f.init:
                continue
            old = getattr(obj, f.name)
            new = _localize(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(obj, **changes) if changes else obj
    return obj


_LOCALIZED: dict[tuple[int, str], tuple[Any, Any]] = {}
_LOCALIZED_MAX = 32


def localize(record: Any) -> Any:
    """A copy of a frozen record (an analysis, a failure …) whose lazy messages are rendered in
    the current language; the record itself when the language is English. Copies are cached
    per record and language (the cached analysis is shared: it is never changed)."""
    lang = _LANG.get()
    if lang == SOURCE_LANG or record is None:
        return record
    key = (id(record), lang)
    hit = _LOCALIZED.get(key)
    if hit is not None and hit[0] is record:
        return hit[1]
    out = _localize(record)
    if len(_LOCALIZED) >= _LOCALIZED_MAX:
        _LOCALIZED.pop(next(iter(_LOCALIZED)))
    _LOCALIZED[key] = (record, out)
    return out
