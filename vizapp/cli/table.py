"""``vizapp table PRESET``: the seed-style per-layer table (text, JSON or CSV)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import unicodedata

from vizapp import i18n
from vizapp.i18n import _
from .common import add_model_args, failure_text, spec_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table", help="per-layer output shapes, params, MACs, receptive fields",
                       description="One row per child module in execution order (depth 1, "
                                   "what named_children() prints); deeper depths expand "
                                   "nested modules.")
    add_model_args(p)
    p.add_argument("--depth", type=int, default=1, metavar="D",
                   help="module depth to expand to (default 1; 99 = every leaf)")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text")
    p.add_argument("--explain", action="store_true",
                   help="text format: print the worked arithmetic under each row")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vizapp.analysis import analyze_spec

    from . import UserError

    if args.depth < 1:
        raise UserError(f"--depth must be at least 1, got {args.depth}")
    spec = spec_from_args(args)
    a = i18n.localize(analyze_spec(spec))
    if args.format == "json":
        json.dump(a.to_dict(args.depth), sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.format == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(["name", "type", "depth", "output_shape", "params", "macs",
                    "receptive_field", "explanation"])
        for r in a.rows(args.depth):
            w.writerow([r.name, r.type, r.depth,
                        "x".join(map(str, r.output_shape)) if r.output_shape else "",
                        r.params, r.macs, r.receptive_field.size[0] if r.receptive_field else "",
                        r.explanation.replace("\n", " | ")])
    else:
        print(format_text(a, args.depth, args.explain))
    if a.failure is not None:
        print(_("vizapp table: error: {text}").format(text=failure_text(a)), file=sys.stderr)
        return 2
    return 0


def format_text(a, depth: int, explain: bool = False) -> str:
    """Like the seeds' ``print(name, 'output shape:\\t', X.shape)`` loop, with costs."""
    rows = a.rows(depth)
    width = max([len(r.name) + 2 * (r.depth - 1) for r in rows] + [4])
    twidth = max([len(r.type) for r in rows] + [4])
    head = [_("name"), _("type"), _("output shape"), _("params"), _("MACs"), _("RF")]
    lines = [f"{a.model}  " + _("input {shape}").format(shape=list(a.input_shape)),
             f"{_pad(head[0], width)}  {_pad(head[1], twidth)}  {_pad(head[2], 22)}"
             f"{_pad(head[3], 12, True)}  {_pad(head[4], 15, True)}  {head[5]}"]
    for r in rows:
        shape = f"torch.Size({list(r.output_shape)})" if r.output_shape is not None else "—"
        rf = str(r.receptive_field.size[0]) if r.receptive_field else ""
        name = "  " * (r.depth - 1) + r.name
        macs = ("≥ " if r.macs_note else "") + f"{r.macs:,}"
        lines.append(f"{name.ljust(width)}  {r.type.ljust(twidth)}  {shape:<22}"
                     f"{r.params:>12,}  {macs:>15}  {rf}")
        if explain and r.explanation:
            for line in r.explanation.splitlines():
                lines.append(" " * (width + 2) + "│ " + line)
    lines.append(_("total params: {params}   MACs: {macs} (FLOPs ≈ 2×MACs = {flops})").format(
        params=f"{a.total_params:,}", macs=a.macs_text(f"{a.total_macs:,}"),
        flops=f"{2 * a.total_macs:,}"))
    for why in a.uncounted:
        lines.append(_("not counted: {why}").format(why=why))
    for note in a.notes:
        lines.append(_("note: {note}").format(note=note))
    return "\n".join(lines)


def _pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (a CJK character takes two)."""
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(width - cols, 0)
    return fill + text if right else text + fill
