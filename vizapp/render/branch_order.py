"""Branches drawn in ``torch.cat`` order: GoogLeNet's Inception concatenates p1, p2, p3, p4 —
the graph should show them left to right (top to bottom when laid out left-to-right) in that
order, which Graphviz's crossing minimisation does not promise.

For every concatenation whose inputs are parallel branches from one fork (each input traced
back along single-input nodes to a tensor that several nodes consume), the first drawn nodes of
the branches are chained in cat order by invisible edges with ``minlen=0``: flat edges, which
Graphviz draws left to right on one rank (top to bottom with ``rankdir=LR``). (``ordering=out``
is ignored by the layout engine, and a ``rank=same`` subgraph breaks nodes inside clusters.)
DenseNet's ``cat([X, Y])``, where X is itself the fork, is left alone."""

from __future__ import annotations

from typing import Any

MAX_WALK = 64


def branch_heads(analysis: Any, cat: Any) -> tuple[str, list[str]] | None:
    """(the fork, the first node of each branch feeding ``cat`` in its input order), or None
    when the inputs are not parallel branches from one fork."""
    consumers = analysis.consumers()
    heads, forks = [], set()
    for inp in cat.inputs:
        prev, cur = None, inp
        for _ in range(MAX_WALK):
            if len(consumers.get(cur, ())) >= 2:
                break
            node = analysis.node(cur) if cur in analysis.order() else None
            if node is None or len(node.inputs) != 1:
                return None
            prev, cur = cur, node.inputs[0]
        else:
            return None
        if prev is None:  # the input is the fork itself (DenseNet's X)
            return None
        heads.append(prev)
        forks.add(cur)
    if len(forks) != 1 or len(set(heads)) != len(heads) or len(heads) < 2:
        return None
    return forks.pop(), heads


def cat_order(analysis: Any, view: Any) -> list[str]:
    """DOT statements (one per drawn concatenation of branches) fixing the branch order."""
    out: list[str] = []
    done: set[str] = set()
    for n in analysis.nodes:
        if n.op != "cat" or view.rep.get(n.id) is None:
            continue
        found = branch_heads(analysis, n)
        if not found:
            continue
        fork, heads = found
        units = [view.rep.get(h) for h in heads]
        src = view.rep.get(fork)
        if None in units or src is None or len(set(units)) != len(units) or \
                view.rep[n.id] in units or src in units or src in done:
            continue
        done.add(src)
        chain = " -> ".join(f'"{u}"' for u in units)
        out.append(f"  {chain} [style=invis, minlen=0];")
    return out
