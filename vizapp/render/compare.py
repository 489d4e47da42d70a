"""Two analyses side by side, stage by stage (no Streamlit here).

:func:`align` pairs the table rows of A and B: rows with the same name pair up (ResNet-18's
``b3`` with ResNet-50's ``b3``), the rest in order; a stage only one side has is paired with
None. :func:`diff_table` turns the pairs into plain records for a data frame.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Sequence

from vizapp.i18n import _
from vizapp.fmt import shape_text


@dataclass(frozen=True)
class Pair:
    a: Any | None  # a Row of A, or None
    b: Any | None

    @property
    def name(self) -> str:
        na = self.a.name if self.a is not None else None
        nb = self.b.name if self.b is not None else None
        if na and nb and na != nb:
            return f"{na} / {nb}"
        return na or nb or ""

    @property
    def shape_differs(self) -> bool:
        return (self.a is None or self.b is None
                or tuple(self.a.output_shape or ())[1:] != tuple(self.b.output_shape or ())[1:])


def align(rows_a: Sequence, rows_b: Sequence) -> list[Pair]:
    """Pair the rows of two tables, matching names where possible, in execution order."""
    names_a = [r.name for r in rows_a]
    names_b = [r.name for r in rows_b]
    sm = difflib.SequenceMatcher(a=names_a, b=names_b, autojunk=False)
    out: list[Pair] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out += [Pair(rows_a[i], rows_b[j]) for i, j in zip(range(i1, i2), range(j1, j2))]
        elif op == "replace":
            n = max(i2 - i1, j2 - j1)
            for k in range(n):
                ra = rows_a[i1 + k] if i1 + k < i2 else None
                rb = rows_b[j1 + k] if j1 + k < j2 else None
                out.append(Pair(ra, rb))
        elif op == "delete":
            out += [Pair(rows_a[i], None) for i in range(i1, i2)]
        else:  # insert
            out += [Pair(None, rows_b[j]) for j in range(j1, j2)]
    return out


def auto_depth(a, b, want: int = 4, limit: int = 3) -> int:
    """The shallowest depth at which both models have at least ``want`` rows (their stages)."""
    for d in range(1, limit + 1):
        if len(a.rows(d)) >= want and len(b.rows(d)) >= want:
            return d
    return 1


def diff_table(pairs: Sequence[Pair], batch_a: int = 1, batch_b: int = 1) -> list[dict]:
    """Records: stage, type(s), both shapes, params and MACs (per image: divided by each
    side's batch, so different batch sizes compare fairly) of both, and the changes."""
    recs = []
    for p in pairs:
        a, b = p.a, p.b
        ta, tb = (a.type if a else None), (b.type if b else None)
        ma = a.macs // max(batch_a, 1) if a else None
        mb = b.macs // max(batch_b, 1) if b else None
        recs.append({
            "stage": p.name,
            "type": (ta if ta == tb or tb is None else tb if ta is None
                     else f"{ta} / {tb}") or "—",
            "shape A": shape_text(a.output_shape) if a else "—",
            "shape B": shape_text(b.output_shape) if b else "—",
            "params A": a.params if a else None,
            "params B": b.params if b else None,
            "Δ params": (b.params if b else 0) - (a.params if a else 0),
            "MACs A": ma,
            "MACs B": mb,
            "Δ MACs": (mb or 0) - (ma or 0),
        })
    return recs


def summary(a, b, label_a: str, label_b: str) -> list[str]:
    """A few sentences on what differs overall."""
    lines = []

    def ratio(x: int, y: int) -> str:
        if x == 0:
            return "∞" if y else "1"
        r = y / x
        return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"

    na, nb = max(a.input_shape[0], 1), max(b.input_shape[0], 1)
    lines.append(_("**B** has **{p}** the parameters and **{m}** the MACs per image of "
                   "**A**.").format(p=ratio(a.total_params, b.total_params),
                                    m=ratio(a.total_macs // na, b.total_macs // nb)))
    if na != nb:
        lines.append(_("A runs a batch of {na} and B a batch of {nb}: MACs are compared per "
                       "image.").format(na=na, nb=nb))
    oa, ob = a.output_shape, b.output_shape
    if (oa is None) != (ob is None) or (oa is not None and oa[1:] != ob[1:]):
        lines.append(_("Outputs per image differ: A gives {a}, B gives {b}.").format(
            a=shape_text(oa), b=shape_text(ob)))
    return lines
