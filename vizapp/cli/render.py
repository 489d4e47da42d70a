"""``vizapp render PRESET -o FILE``: the block graph as SVG, PNG or DOT."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_model_args, failure_text, spec_from_args

FORMATS = ("svg", "png", "dot")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="draw the block graph (SVG, PNG or DOT)",
                       description="Lay out the block graph on this machine (system Graphviz "
                                   "'dot' if installed, else the bundled graphviz-pure) and "
                                   "write it to FILE.")
    add_model_args(p)
    p.add_argument("--depth", type=int, default=1, metavar="D",
                   help="module depth shown open (default 1; 99 = every operation)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: from the file extension, else svg)")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="where to write the graph ('-' = standard output)")
    p.add_argument("--expand", action="append", default=[], metavar="BLOCK",
                   help="open this block regardless of --depth (repeatable)")
    p.add_argument("--collapse", action="append", default=[], metavar="BLOCK",
                   help="draw this block as one node regardless of --depth (repeatable)")
    p.add_argument("--no-fold", dest="fold", action="store_false",
                   help="draw repeated identical blocks one by one")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="layout time limit in seconds (default 60)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vizapp.analysis import analyze_spec
    from vizapp.render.dot import to_dot
    from vizapp.render.layout import LayoutError, layout

    from .errors import UserError

    if args.depth < 1:
        raise UserError(f"--depth must be at least 1, got {args.depth}")
    fmt = args.format
    if fmt is None:
        ext = Path(args.output).suffix.lower().lstrip(".")
        fmt = {"gv": "dot"}.get(ext, ext) if ext in (*FORMATS, "gv") else "svg"
    spec = spec_from_args(args)
    a = analyze_spec(spec)
    dot = to_dot(a, depth=args.depth, expanded=args.expand, collapsed=args.collapse,
                 fold_repeats=args.fold, theme=args.theme)
    if fmt == "dot":
        data = dot.encode("utf-8")
    else:
        try:
            data = layout(dot, fmt, timeout=args.timeout)
        except LayoutError as exc:
            raise UserError(f"{exc} (try a lower --depth, or --format dot)") from exc
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror}") from exc
        print(f"wrote {args.output} ({fmt}, {len(data):,} bytes, depth {args.depth})",
              file=sys.stderr)
    if a.failure is not None:
        print(f"vizapp render: note: the graph stops {failure_text(a)}", file=sys.stderr)
        return 2
    return 0
