"""Step 4 of the pipeline: frozen records from the passes' results — one :class:`Node` per
tensor-producing step, the module hierarchy as :class:`Block` s (aggregated params/MACs,
boundary inputs/outputs, a repeat key for folding, the block's story), and the
:class:`Failure` when an op could not run."""

from __future__ import annotations

import hashlib
from typing import Any

from torch import fx, nn

from vizapp.fmt import shape_text

from .records import Analysis, Block, Failure, Node, ReceptiveField, Shape
from .rules import TMeta
from .shapes import Propagated, category_from_name, deep_first_tensor, first_tensor, op_name
from .stories import block_story
from .trace import Step, Traced

_MODULE_CATEGORIES = ((nn.Conv2d, "conv"), (nn.Linear, "linear"), (nn.BatchNorm2d, "bn"),
                      (nn.BatchNorm1d, "bn"), (nn.MaxPool2d, "pool"), (nn.AvgPool2d, "pool"))


def _category(st: Step) -> str:
    if st.module is not None:
        for t, category in _MODULE_CATEGORIES:
            if isinstance(st.module, t):
                return category
    return category_from_name(op_name(st))


class _Params:
    """Parameters of each module counted once (tied weights, re-used modules)."""

    def __init__(self) -> None:
        self.counted: set[int] = set()

    def __call__(self, st: Step) -> int:
        if st.module is None or id(st.module) in self.counted:
            return 0
        self.counted.add(id(st.module))
        return sum(p.numel() for p in st.module.parameters())


def nodes_from(traced: Traced, prop: Propagated, rfs: dict[str, ReceptiveField | None],
               rf_notes: dict[str, str]) -> tuple[list[Node], Shape | None]:
    """Nodes in execution order (the failing one last) and the network's output shape."""
    steps = {s.name: s for s in traced.steps}
    failed = prop.failure[0] if prop.failure else None
    params = _Params()
    nodes: list[Node] = []
    seen: set[str] = set()  # tensor-producing steps so far
    output_shape: Shape | None = None
    for name in prop.order:
        st = steps[name]
        ins = tuple(dict.fromkeys(prop.aliases.get(n, n) for n in st.inputs
                                  if prop.aliases.get(n, n) in seen))
        in_shapes = tuple(prop.tensor_of(n).shape for n in ins)
        if st.op == "output":
            src, first = _network_output(st, prop)
            if first is not None:
                output_shape = first.shape
                if src in ins:  # the step that made the output tensor comes first
                    ins = (src,) + tuple(i for i in ins if i != src)
                nodes.append(Node(
                    id="output", op="output", category="output", label="output", module_path="",
                    module_type="output", inputs=ins, input_shapes=(first.shape,),
                    output_shape=first.shape, params=0, macs=0,
                    rf=rfs.get(ins[0]) if ins else None,
                    explanation=f"network output {shape_text(first.shape, True)}"))
            continue
        if name == failed:
            nodes.append(Node(
                id=name, op=op_name(st).lower(), category=_category(st), label=op_name(st),
                module_path=st.module_path, module_type=op_name(st), inputs=ins,
                input_shapes=in_shapes, output_shape=None, params=params(st), macs=0, rf=None,
                explanation="✗ " + prop.failure[1].message, source="failed"))
            break
        res = prop.results.get(name)
        out = first_tensor(res.value) if res is not None else None
        if out is None:
            continue
        seen.add(name)
        placeholder = st.op == "placeholder"
        nodes.append(Node(
            id=name, op=res.op, category="input" if placeholder else res.category,
            label=res.label or res.op, module_path="" if placeholder else st.module_path,
            module_type=type(st.module).__name__ if st.module is not None else res.op,
            inputs=ins, input_shapes=in_shapes, output_shape=out.shape,
            params=params(st), macs=res.macs, rf=rfs.get(name), explanation=res.explanation,
            param_explanation=res.param_explanation, source=prop.sources.get(name, "rule"),
            attrs=res.attrs, shortcut=res.shortcut, macs_note=res.macs_note,
            rf_note=rf_notes.get(name, "")))
    return nodes, output_shape


def _network_output(st: Step, prop: Propagated) -> tuple[str | None, TMeta | None]:
    """The network's output tensor and the step that made it: the first tensor of what
    ``forward`` returns, however it is packed (a tensor, ``(y, aux)``, a named tuple,
    ``{"logits": y, ...}``, nested)."""
    def walk(a: Any) -> tuple[str | None, TMeta | None]:
        if isinstance(a, fx.Node):
            name = prop.aliases.get(a.name, a.name)
            t = deep_first_tensor(prop.values.get(name))
            return (name, t) if t is not None else (None, None)
        items = a.values() if isinstance(a, dict) else a if isinstance(a, (list, tuple)) else ()
        for x in items:
            found = walk(x)
            if found[1] is not None:
                return found
        return None, None

    src, t = walk(st.args[0] if st.args else None)
    if t is None:  # not made by a step (a constant): whatever tensor the value holds
        t = deep_first_tensor(prop.values.get(st.name))
    return src, t


def failure_from(traced: Traced, prop: Propagated, nodes: list[Node]) -> Failure | None:
    if not prop.failure:
        return None
    name, err = prop.failure
    st = next(s for s in traced.steps if s.name == name)
    known = {n.id for n in nodes if n.output_shape is not None}
    ins = tuple(prop.aliases.get(n, n) for n in st.inputs if prop.aliases.get(n, n) in known)
    return Failure(name, st.module_path, op_name(st), tuple(prop.tensor_of(n).shape for n in ins),
                   err.message, err.fix, features=err.features,
                   kind=getattr(err, "kind", "") or "other")


def assemble(traced: Traced, prop: Propagated,
             rfs: tuple[dict[str, ReceptiveField | None], dict[str, str]],
             full: Shape, model_name: str) -> Analysis:
    model = traced.model
    nodes, output_shape = nodes_from(traced, prop, *rfs)
    failure = failure_from(traced, prop, nodes)
    blocks = build_blocks(model, nodes, model_name)
    params = list(model.parameters())
    return Analysis(
        model=model_name, input_shape=full, nodes=tuple(nodes), blocks=blocks,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        buffers=sum(b.numel() for b in model.buffers()),
        total_macs=sum(n.macs for n in nodes),
        output_shape=None if failure else output_shape, method=traced.method, failure=failure)


# ----------------------------------------------------------------------------- blocks
def _members(nodes: list[Node]) -> dict[str, list[int]]:
    """Block path → indices of the nodes inside it (recursively); "" is the whole model."""
    members: dict[str, list[int]] = {"": []}
    for i, n in enumerate(nodes):
        if n.category in ("input", "output"):
            continue
        path = n.module_path
        while True:
            members.setdefault(path, []).append(i)
            if not path:
                break
            path = path.rpartition(".")[0]
    return members


def build_blocks(model: nn.Module, nodes: list[Node], model_name: str) -> tuple[Block, ...]:
    """The module hierarchy in pre-order (parent before children, children in exec order)."""
    modules = dict(model.named_modules())
    members = _members(nodes)
    index = {n.id: i for i, n in enumerate(nodes)}
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for src in n.inputs:
            consumers.setdefault(src, []).append(i)
    children: dict[str, list[str]] = {}
    for path in members:
        if path:
            children.setdefault(path.rpartition(".")[0], []).append(path)
    for ch in children.values():
        ch.sort(key=lambda p: members[p][0])
    out: list[Block] = []

    def make(path: str) -> None:
        idx = members[path]
        inside = set(idx)
        ids = tuple(nodes[i].id for i in idx)
        ins = list(dict.fromkeys(src for i in idx for src in nodes[i].inputs if src not in ids))
        outs = [nodes[i].id for i in idx
                if any(c not in inside for c in consumers.get(nodes[i].id, ()))]
        if not outs and idx:
            outs = [nodes[idx[-1]].id]
        last = nodes[index[outs[-1]]] if outs else None
        mod = modules.get(path, model)
        params = sum(p.numel() for p in mod.parameters())
        in_shapes = tuple(nodes[index[s]].output_shape for s in ins
                          if nodes[index[s]].output_shape is not None)
        btype = type(mod).__name__
        inner = [nodes[i] for i in idx]
        out_shape = last.output_shape if last else None
        out.append(Block(
            path=path, name=path.rpartition(".")[2] if path else model_name, type=btype,
            depth=path.count(".") + 1 if path else 0, children=tuple(children.get(path, ())),
            nodes=ids, inputs=tuple(ins), outputs=tuple(outs), input_shapes=in_shapes,
            output_shape=out_shape, params=params, macs=sum(n.macs for n in inner),
            rf=last.rf if last else None,
            explanation=block_story(btype, inner, in_shapes, out_shape, params),
            repeat_key=repeat_key(path, btype, inner, in_shapes)))
        for c in children.get(path, ()):
            make(c)

    make("")
    return tuple(out)


def repeat_key(path: str, btype: str, nodes: list[Node], in_shapes: tuple) -> str:
    """Equal keys = structurally identical blocks (same ops, attrs, shapes, params)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(btype.encode())
    h.update(repr(in_shapes).encode())
    cut = len(path) + 1 if path else 0
    for n in nodes:
        h.update(repr((n.module_path[cut:], n.op, n.attrs, n.input_shapes, n.output_shape,
                       n.params)).encode())
    return h.hexdigest()
