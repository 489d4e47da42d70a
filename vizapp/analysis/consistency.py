"""Facts every correct :class:`~vizapp.analysis.records.Analysis` satisfies, checked before a
result is shared (cached) with other visitors.

A result that breaks one (e.g. ResNet-50 with 2 nodes and its output equal to its input, as two
overlapping traces once produced) is a bug somewhere upstream; it must be computed again, never
served to the next visitor of that configuration."""

from __future__ import annotations

from typing import Sequence

from .records import Analysis


class InconsistentAnalysis(RuntimeError):
    """An analysis that fails its own consistency checks; ``problems`` lists them."""

    def __init__(self, model: str, problems: Sequence[str]):
        super().__init__(f"the analysis of {model} is inconsistent: {'; '.join(problems)}")
        self.problems = tuple(problems)


def problems(a: Analysis, input_shape: Sequence[int] | None = None) -> list[str]:
    """What is wrong with ``a`` (empty when consistent). ``input_shape``: the (N, C, H, W) the
    analysis was asked for."""
    out: list[str] = []
    if input_shape is not None and tuple(a.input_shape) != tuple(input_shape):
        out.append(f"input {tuple(a.input_shape)} but {tuple(input_shape)} was asked for")
    if not a.nodes:
        return out + ["no nodes"]
    first, last = a.nodes[0], a.nodes[-1]
    if first.op != "input" or tuple(first.output_shape or ()) != tuple(a.input_shape):
        out.append(f"the first node is {first.op} {first.output_shape}, not the input "
                   f"{tuple(a.input_shape)}")
    ids = [n.id for n in a.nodes]
    if len(set(ids)) != len(ids):
        out.append("node ids repeat")
    seen: set[str] = set()
    for n in a.nodes:
        missing = [i for i in n.inputs if i not in seen]
        if missing:
            out.append(f"node {n.id} reads {missing[0]} before it exists")
            break
        seen.add(n.id)
    macs = sum(n.macs for n in a.nodes)
    if a.total_macs != macs:
        out.append(f"total MACs {a.total_macs:,} ≠ the nodes' sum {macs:,}")
    if a.failure is None:
        out += _complete(a, last)
    return out


def _complete(a: Analysis, last) -> list[str]:
    """Checks that hold when the analysis ran to the end."""
    out = []
    if len(a.nodes) < 3:
        out.append(f"only {len(a.nodes)} nodes for a complete analysis")
    if last.op != "output" or a.output_shape is None or \
            tuple(last.output_shape or ()) != tuple(a.output_shape):
        out.append(f"output {a.output_shape} ≠ the last node's {last.op} {last.output_shape}")
    elif a.output_shape[0] != a.input_shape[0]:
        out.append(f"batch {a.input_shape[0]} in but {a.output_shape[0]} out")
    root = next((b for b in a.blocks if b.path == ""), None)
    if root is None:
        out.append("no block for the whole model")
    else:
        if root.params != a.total_params:
            out.append(f"total params {a.total_params:,} ≠ the model block's {root.params:,}")
        if root.macs != a.total_macs:
            out.append(f"total MACs {a.total_macs:,} ≠ the model block's {root.macs:,}")
    return out


def check(a: Analysis, input_shape: Sequence[int] | None = None) -> Analysis:
    """``a`` itself, or :class:`InconsistentAnalysis` naming what is wrong."""
    found = problems(a, input_shape)
    if found:
        raise InconsistentAnalysis(a.model, found)
    return a
