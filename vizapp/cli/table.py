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

    from .errors import UserError

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
    """Like the seeds' ``print(name, 'output shape:\\t', X.shape)`` loop, with costs; every
    column as wide as its widest cell, so each starts at the same offset on every line."""
    rows = a.rows(depth)
    head = [_("name"), _("type"), _("output shape"), _("params"), _("MACs"), _("RF")]
    cells = [head] + [_cells(r) for r in rows]
    widths = [max(_cols(c[i]) for c in cells) for i in range(len(head))]
    right = (False, False, False, True, True, False)
    lines = [f"{a.model}  " + _("input {shape}").format(shape=list(a.input_shape))]
    for r, row in zip([None] + list(rows), cells):
        lines.append("  ".join(_pad(c, w, rt) for c, w, rt in zip(row, widths, right)).rstrip())
        if explain and r is not None and r.explanation:
            for line in r.explanation.splitlines():
                lines.append(" " * (widths[0] + 2) + "│ " + line)
    lines.append(_("total params: {params}   MACs: {macs} (FLOPs ≈ 2×MACs = {flops})").format(
        params=f"{a.total_params:,}", macs=a.macs_text(f"{a.total_macs:,}"),
        flops=f"{2 * a.total_macs:,}"))
    for why in a.uncounted:
        lines.append(_("not counted: {why}").format(why=why))
    for note in a.notes:
        lines.append(_("note: {note}").format(note=note))
    return "\n".join(lines)


def _cells(r) -> list[str]:
    shape = f"torch.Size({list(r.output_shape)})" if r.output_shape is not None else "—"
    rf = str(r.receptive_field.size[0]) if r.receptive_field else ""
    macs = ("≥ " if r.macs_note else "") + f"{r.macs:,}"
    return ["  " * (r.depth - 1) + r.name, r.type, shape, f"{r.params:,}", macs, rf]


def _cols(text: str) -> int:
    """Terminal columns of ``text`` (a CJK character takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (a CJK character takes two)."""
    fill = " " * max(width - _cols(text), 0)
    return fill + text if right else text + fill
