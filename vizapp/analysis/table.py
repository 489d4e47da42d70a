"""The Shapes table's policy: which blocks and ops make its rows at a given depth, in what
order. It lives beside the analysis records (it reads an :class:`~.records.Analysis` and
writes :class:`Row` records) and is the one home of that policy: ``vizapp table``'s JSON, the
Shapes page, the report and the exercise all list these rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Row:
    """One line of the seed-style table."""

    name: str
    type: str
    depth: int
    output_shape: Shape | None
    params: int
    macs: int
    receptive_field: Any  # ReceptiveField | None
    explanation: str
    input_shapes: tuple[Shape, ...] = ()
    macs_note: str = ""  # non-empty: some MACs inside are not counted (``macs`` is a lower bound)
    rf_note: str = ""  # non-empty: the receptive field of this 4-D output is not computed

    def to_dict(self) -> dict[str, Any]:
        d = {
            "name": self.name,
            "type": self.type,
            "depth": self.depth,
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "params": self.params,
            "macs": None if self.macs_note and not self.macs else self.macs,
            "receptive_field": _rf_dict(self.receptive_field),
            "explanation": self.explanation,
        }
        if self.macs_note:
            d["macs_note"] = self.macs_note
        if self.rf_note:
            d["receptive_field_note"] = self.rf_note
        return d


def _rf_dict(rf: Any) -> dict[str, Any] | None:
    if rf is None:
        return None
    return {"size": list(rf.size), "jump": list(rf.jump), "start": list(rf.start)}


def rows(a: Any, depth: int = 1) -> list[Row]:
    """Seed-style rows: at depth 1 one row per direct child module, in execution order
    (what ``for name, layer in net.named_children()`` prints); deeper depths expand nested
    modules down to ``depth``. An expanded block also shows the concatenations and
    additions its own ``forward`` does between its children (where DenseNet's channels
    grow and residual shortcuts join); a container its parent iterates with its own ops in
    between (``for blk in self.net: X = cat(X, blk(X))``) is shown through (the analysis's
    one rule, :meth:`~.records.Analysis.is_transparent`). Blocks that did not run (after a
    failure) are left out."""
    out: list[Row] = []
    root = {b.path: b for b in a.blocks}.get("")
    if root is None:
        return out

    def visit(b: Any) -> None:
        for item in _items(a, b):
            if not hasattr(item, "children"):  # an op of the block itself
                out.append(Row(item.id, item.module_type, b.depth + 1, item.output_shape,
                               item.params, item.macs, item.rf, item.explanation,
                               item.input_shapes, item.macs_note, item.rf_note))
            elif item.depth < depth and item.children:
                visit(item)
            else:
                out.append(_row(a, item))

    visit(root)
    return out


def _items(a: Any, b: Any) -> list[Any]:
    """A block's children and its own concatenations/additions, in execution order;
    children interleaved with the block's own ops are replaced by their items."""
    order = a.order()
    own = [a.node(i) for i in b.nodes if a.node(i).module_path == b.path]
    items: list[tuple[int, Any]] = [
        (order[n.id], n) for n in own if n.category in ("concat", "add")]
    for cp in b.children:
        c = a.block(cp)
        if a.is_transparent(c):
            items += [(order[x.nodes[0]] if hasattr(x, "children") else order[x.id], x)
                      for x in _items(a, c)]
        else:
            items.append((order[c.nodes[0]], c))
    return [x for _, x in sorted(items, key=lambda t: t[0])]


def _row(a: Any, b: Any) -> Row:
    inner = [a.node(i) for i in b.nodes]
    macs_note = "; ".join(dict.fromkeys(n.macs_note for n in inner if n.macs_note))
    last = a.node(b.outputs[-1]) if b.outputs else None
    rf_note = last.rf_note if last is not None else ""
    return Row(b.path, b.type, b.depth, b.output_shape, b.params, b.macs, b.rf,
               b.explanation, b.input_shapes, macs_note, rf_note)
