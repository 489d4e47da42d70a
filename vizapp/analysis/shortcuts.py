"""Which input of a residual addition is the shortcut, and what is on it.

A residual addition ``F(x) + s(x)`` has a *shortcut* input ``s(x)``: either ``x`` itself
(identity: ``x`` is also an ancestor of the other input) or a projection — a 1×1 convolution,
possibly followed by a normalisation, whose own input ``x`` also feeds the other input. The
result is a :class:`~.records.Shortcut` record; sentences are built from its fields."""

from __future__ import annotations

from typing import Mapping

from .records import Shortcut
from .rules import OpResult
from .trace import Step

_ANCESTOR_LIMIT = 60  # steps looked back from each input (a residual unit is far shorter)


def ancestors(name: str, producers: Mapping[str, Step], limit: int = _ANCESTOR_LIMIT) -> set[str]:
    """``name`` and the steps it depends on, at most ``limit`` of them."""
    seen: set[str] = set()
    frontier = [name]
    while frontier and len(seen) < limit:
        n = frontier.pop()
        if n in seen:
            continue
        seen.add(n)
        p = producers.get(n)
        if p is not None:
            frontier.extend(p.inputs)
    return seen


def _projection(name: str, others: set[str], producers: Mapping[str, Step],
                results: Mapping[str, OpResult]) -> Shortcut | None:
    """A 1×1 conv (then at most two normalisation/other steps) whose input feeds ``others``."""
    cur = producers.get(name)
    for _ in range(3):
        r = results.get(cur.name) if cur is not None else None
        if r is None:
            return None
        attrs = dict(r.attrs)
        if r.op == "conv2d" and attrs.get("kernel") == (1, 1):
            feed = cur.inputs[0] if cur.inputs else None
            if feed is None or feed not in others:
                return None
            return Shortcut(projection=True, layer=cur.module_path,
                            in_channels=attrs.get("in", 0), out_channels=attrs.get("out", 0),
                            stride=attrs.get("stride", (1, 1)))
        if r.category not in ("bn", "norm", "other") or not cur.inputs:
            return None
        cur = producers.get(cur.inputs[0])
    return None


def find_shortcut(step: Step, producers: Mapping[str, Step],
                  results: Mapping[str, OpResult]) -> Shortcut | None:
    """The shortcut of the addition ``step`` (two tensor inputs), or None when neither input
    is a shortcut of the other (a plain sum of two branches)."""
    ins = [n for n in step.inputs if n in results]
    if len(ins) != 2:
        return None
    anc = [ancestors(n, producers) for n in ins]
    for i in (0, 1):
        proj = _projection(ins[i], anc[1 - i], producers, results)
        if proj is not None:
            return proj
    for i in (0, 1):
        if ins[i] in anc[1 - i]:
            r = results[ins[i]]
            ch = r.value.shape[1] if hasattr(r.value, "shape") and len(r.value.shape) > 1 else 0
            return Shortcut(projection=False, in_channels=ch, out_channels=ch)
    return None
