"""The translators' tooling: ``python -m vizapp.i18n compile|missing``.

Reads and writes the gettext catalogs (``vizapp/locale/<lang>/LC_MESSAGES/vizapp.po`` → ``.mo``)
and extracts every message to translate: the marked strings of the source (``_``, ``N_``,
``msg``, ``deferred``, ``ngettext`` with literal text) and the text that is data (families',
presets' and knobs' descriptions, read from the zoo's registry and the labs' settings).

The top floor of the package: it imports the zoo and the labs, so nothing at run time imports
it (the run-time half, :mod:`vizapp.i18n`, imports nothing of vizapp).
"""

from __future__ import annotations

import ast
import string
import struct
import sys
from pathlib import Path
from typing import Any

from vizapp.i18n import DOMAIN, LANGS, LOCALE_DIR, SOURCE_LANG, translations


# ----------------------------------------------------------------------------- catalogs
def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _unquote(line: str) -> str:
    return ast.literal_eval(line) if line.startswith('"') else ""


def read_po(path: Path) -> dict[str, str | list[str]]:
    """{msgid: msgstr} of a .po file; plural entries as ``"singular\\x00plural": [forms]``."""
    entries: dict[str, Any] = {}
    cur: dict[str, str] = {}
    key = ""

    def flush() -> None:
        if "msgid" in cur:
            mid = cur["msgid"] + ("\x00" + cur["msgid_plural"] if "msgid_plural" in cur else "")
            forms = [cur[k] for k in sorted(cur) if k.startswith("msgstr[")]
            entries[mid] = forms if "msgid_plural" in cur else cur.get("msgstr", "")
        cur.clear()

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line or line.startswith("#"):
            if not line and cur:
                flush()
            continue
        if line.startswith('"'):
            cur[key] += _unquote(line)
            continue
        key, _sep, rest = line.partition(" ")
        if key == "msgid" and "msgid" in cur:
            flush()
        cur[key] = _unquote(rest)
    flush()
    return entries


def mo_bytes(entries: dict[str, str | list[str]]) -> bytes:
    """A GNU .mo file of ``entries`` (untranslated ones left out, as msgfmt does)."""
    pairs = sorted((k.encode(), ("\x00".join(v) if isinstance(v, list) else v).encode())
                   for k, v in entries.items()
                   if (all(v) if isinstance(v, list) else v) or k == "")
    n = len(pairs)
    ids_at, strs_at = 28, 28 + 8 * n
    data_at = strs_at + 8 * n
    table_ids, table_strs, blob = [], [], b""
    for k, _v in pairs:
        table_ids.append((len(k), data_at + len(blob)))
        blob += k + b"\x00"
    for _k, v in pairs:
        table_strs.append((len(v), data_at + len(blob)))
        blob += v + b"\x00"
    head = struct.pack("<7I", 0x950412DE, 0, n, ids_at, strs_at, 0, data_at)
    tables = b"".join(struct.pack("<2I", *t) for t in table_ids + table_strs)
    return head + tables + blob


def compile_catalogs() -> list[Path]:
    """Write every language's .mo from its .po; returns the files written."""
    written = []
    for lang in LANGS:
        po = po_path(lang)
        if lang == SOURCE_LANG or not po.exists():
            continue
        mo = po.with_suffix(".mo")
        mo.write_bytes(mo_bytes(read_po(po)))
        written.append(mo)
    translations.cache_clear()
    return written


# ----------------------------------------------------------------------------- extraction
MARKERS = {"_", "N_", "msg", "deferred", "ngettext"}


def extract_file(path: Path) -> dict[str, tuple[str, int]]:
    """{msgid: (file, line)} of every ``_("…")``/``N_``/``msg``/``ngettext`` with literal text."""
    found: dict[str, tuple[str, int]] = {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in MARKERS:
            continue
        args = node.args[:2] if name == "ngettext" else node.args[:1]
        texts = [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if len(texts) == len(args) and texts:
            found["\x00".join(texts)] = (str(path), node.lineno)
    return found


def source_files() -> list[Path]:
    root = Path(__file__).resolve().parents[2]
    return sorted([p for d in ("vizapp", "components") for p in (root / d).rglob("*.py")])


def extract() -> dict[str, tuple[str, int]]:
    """Every marked msgid of the source (vizapp/ and components/)."""
    found: dict[str, tuple[str, int]] = {}
    for path in source_files():
        found.update(extract_file(path))
    return found


def registry_msgids() -> dict[str, str]:
    """Text that is data rather than code, translated where it is shown: the families' and
    presets' descriptions, every knob's label and help. {msgid: where}."""
    from vizapp.zoo import families, presets

    found: dict[str, str] = {}
    for fam in families().values():
        found[fam.description] = found[fam.title] = f"family {fam.name}"
        for info in fam.config_cls.knobs():
            found[info.label] = found[info.knob.help] = f"knob {fam.name}.{info.name}"
    for p in presets().values():
        found[p.description] = f"preset {p.name}"
    from vizapp.labs import schedules
    from vizapp.labs.train import TrainSettings
    from vizapp.knobs import knob_infos

    labs = [("train", TrainSettings)] + [(s.name, s.knobs) for s in
                                         schedules.SCHEDULES.values()]
    for owner, cls in labs:
        for info in knob_infos(cls):
            found[info.label] = found[info.knob.help] = f"knob {owner}.{info.name}"
    found.pop("", None)
    return found


def placeholders(text: str) -> set[str]:
    """The ``{named}`` fields of a template (``{{``/``}}`` are literal braces)."""
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}


def main(argv: list[str] | None = None) -> int:
    """``python -m vizapp.i18n compile|missing`` (run by ``vizapp/i18n/__main__.py``)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["compile"]:
        for p in compile_catalogs():
            print(p)
        return 0
    if args[:1] == ["missing"]:
        have = read_po(po_path("zh"))
        wanted = {**{k: f"{p}:{n}" for k, (p, n) in extract().items()}, **registry_msgids()}
        for mid, where in wanted.items():
            if not have.get(mid):
                print(f'#: {where}\nmsgid {_po_quote(mid)}\nmsgstr ""\n')
        return 0
    print("usage: python -m vizapp.i18n compile|missing", file=sys.stderr)
    return 2


def _po_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

