"""``vizapp`` command line: ``vizapp presets|table|render|bn|run|train|explain|app``.

Each sub-command lives in its own module of this package exposing ``register(subparsers)``
(which adds its parser and sets ``func``). Errors a user can cause end with exit code 2 and
one line on stderr naming the cause, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vizapp import i18n

from .errors import UserError

# sub-command modules, in help order; a module that does not exist yet is skipped
_COMMANDS = ("presets", "table", "render", "bn", "run", "train", "explain", "report", "app",
             "serve")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit 2), not the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def take_lang(argv: list[str]) -> tuple[list[str], str | None]:
    """``--lang X`` / ``--lang=X`` anywhere on the command line (before or after the command),
    taken out of ``argv``; the last one wins."""
    rest, lang, i = [], None, 0
    while i < len(argv):
        a = argv[i]
        if a == "--lang":
            lang = argv[i + 1] if i + 1 < len(argv) else ""
            i += 2
            continue
        if a.startswith("--lang="):
            lang = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return rest, lang


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="vizapp", description="CNN architecture lab: "
                                     "shapes, graphs, costs and BatchNorm statistics.")
    parser.add_argument("--lang", metavar="LANG", choices=sorted(i18n.LANGS),
                        help="language of the text output: en (default) or zh (简体中文); "
                             "JSON keys stay English; may also follow the command")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            mod = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def _serve(target: str, extra: list[str]) -> int:
    from vizapp.zoo import ConfigError

    from .serve import run

    try:
        return run(argparse.Namespace(target=target), extra)
    except (UserError, ConfigError) as exc:
        print(f"vizapp serve: error: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    from vizapp.zoo import ConfigError

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["app"] and not {"-h", "--help"} & set(argv[1:]):
        from vizapp.serve import launch  # the rest are streamlit's options, not ours

        return launch(argv[1:])
    if argv[:1] == ["serve"] and len(argv) > 2 and not {"-h", "--help"} & set(argv[1:]):
        return _serve(argv[1], argv[2:])  # FILE.py:FACTORY, then streamlit's options
    parser = build_parser()
    argv, lang = take_lang(argv)
    if lang is not None and i18n.normalize(lang) is None:
        parser.error(f"--lang: '{lang}' is not one of {', '.join(i18n.LANGS)}")
    i18n.set_lang(lang or i18n.DEFAULT)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from vizapp.analysis.records import AnalysisError

    try:
        return int(args.func(args) or 0)
    except (UserError, ConfigError, AnalysisError) as exc:  # AnalysisError: a model file's
        print(i18n._("vizapp {command}: error: {message}").format(
            command=args.command, message=i18n.tr(getattr(exc, "message", None) or str(exc))),
            file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except MemoryError:
        print(f"vizapp {args.command}: error: not enough memory for this configuration; "
              f"use a smaller input, batch or model", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"vizapp {args.command}: error: {type(exc).__name__}: {first} (a bug in vizapp: "
              f"please report it with the command line)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
