"""``vizapp presets``: one preset name per line."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the preset names, one per line")
    p.add_argument("-v", "--verbose", action="store_true", help="add family and description")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vizapp.i18n import tr
    from vizapp.zoo import presets

    for name, p in presets().items():
        print(f"{name}\t{p.family}\t{tr(p.description)}" if args.verbose else name)
    return 0
