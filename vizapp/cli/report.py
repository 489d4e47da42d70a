"""``vizapp report PRESET|file.py:factory|--code FILE -o report.html``: one self-contained HTML
page (graph with zoom/pan and click-for-details, the Shapes table, totals) for a course site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_model_args, spec_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write one self-contained HTML report (no server, offline)")
    add_model_args(p)
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="the .html to write")
    p.add_argument("--depth", type=int, default=1, metavar="D", help="graph depth (default 1)")
    p.set_defaults(func=run)


def load_factory(target: str):
    """``path/to/file.py:factory`` → ``factory()`` (your own file, run as Python: only ever
    from your own command line)."""
    from vizapp.zoo.yourfile import load_factory as load

    return load(target)


def analysis_from_args(args: argparse.Namespace):
    from vizapp.analysis import analyze, analyze_spec

    if args.model and ".py:" in args.model:
        shape = tuple(int(x) for x in (args.input or "3,224,224").split(","))
        return analyze(load_factory(args.model), shape, args.batch or 1,
                       name=args.model.rpartition(":")[2])
    return analyze_spec(spec_from_args(args))


def run(args: argparse.Namespace) -> int:
    from vizapp.render.report import report_html

    from .errors import UserError
    a = analysis_from_args(args)
    text = report_html(a, depth=args.depth)
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"wrote {args.output} ({len(text):,} bytes)", file=sys.stderr)
    return 0
