"""The one target both file readers write to: a module tree on the meta device plus an fx graph
whose steps the analysis passes already know (call_module on ``nn.Conv2d``, ``operator.add``,
``torch.cat`` …).

A reader (:mod:`.pt2`, :mod:`.onnx_file`) walks its file's nodes and calls :meth:`Builder.module`
or :meth:`Builder.function` with the module path the file records (``nn_module_stack`` in a
``.pt2``, the name scope ``/layer1/layer1.0/conv1/Conv`` in ONNX) and the container types along
it. Containers become instances of classes named after the file's types (``Bottleneck``), so the
blocks, their stories and the folds (``Bottleneck ×35``) are computed exactly as for a model in
memory. Nothing of the file is executed: modules are rebuilt from their recorded hyper-parameters
and weight shapes, with meta weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from vizapp.analysis.trace import Traced, steps_from_graph

_NAME = re.compile(r"[^0-9A-Za-z_]")


# the end of an unknown op's row note (:func:`vizapp.modelfile.runnable` looks for it)
UNKNOWN_NOTE = "vizapp has no rule for this op; its output shape is the file's, its MACs are " \
    "not counted"


class FileBlock(nn.Module):
    """A container of a file model (its class is made per type name the file records)."""

    def forward(self, *args: Any) -> Any:  # pragma: no cover - never called: the graph runs
        raise RuntimeError("a block of a model file runs only through its file's graph")


class UnknownOp(nn.Module):
    """An op vizapp has no rule for: its output shape comes from the file (ONNX shape inference
    or the ``.pt2``'s recorded value), its MACs are not counted and the row says so."""

    def __init__(self, op: str, out_shape: tuple[int, ...] | None, fn: Any = None):
        super().__init__()
        self.op = op
        self.out_shape = out_shape
        self.fn = fn  # an aten op of a .pt2 (run on meta tensors) or None
        self.unknown_note = f"{op}: {UNKNOWN_NOTE}"

    def forward(self, *args: Any) -> Any:
        if self.fn is not None:
            return self.fn(*args)
        if self.out_shape is None:
            raise RuntimeError(f"{self.op}: no rule and the file records no output shape")
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        shape = list(self.out_shape)
        if first is not None and shape and first.dim() > 0:
            shape[0] = first.shape[0]  # the batch follows the input
        return torch.empty(shape, device="meta")


def _class_for(type_name: str, cache: dict[str, type]) -> type:
    short = _NAME.sub("_", type_name.rsplit(".", 1)[-1]) or "Block"
    if short[0].isdigit():
        short = "_" + short
    if short not in cache:
        cache[short] = type(short, (FileBlock,), {"__module__": "vizapp.modelfile.blocks"})
    return cache[short]


@dataclass
class Builder:
    """Collects the rebuilt modules and the graph (see the module docstring)."""

    root_type: str
    graph: fx.Graph = field(default_factory=fx.Graph)
    classes: dict[str, type] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # the file's value name → fx node
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    weights: dict[str, Any] = field(default_factory=dict)  # module tensor path → file's key

    def __post_init__(self) -> None:
        self.root = _class_for(self.root_type, self.classes)()

    def _container(self, path: str, types: dict[str, str]) -> nn.Module:
        """The container at ``path`` (made along the way with the recorded types)."""
        mod = self.root
        done = ""
        for part in path.split(".") if path else ():
            done = f"{done}.{part}" if done else part
            child = mod._modules.get(part)
            if child is None:
                child = _class_for(types.get(done, "Block"), self.classes)()
                mod.add_module(part, child)
            mod = child
        return mod

    def module(self, path: str, types: dict[str, str], make: Any, args: tuple,
               same: Any = None, weights: dict[str, Any] | None = None) -> fx.Node:
        """A call of the leaf module ``make()`` at ``path`` (reused when the file calls the
        same module again, e.g. one ``ReLU`` three times; else a fresh child path).
        ``weights``: the file's tensor behind each of its parameters and buffers (``{"weight":
        key}``, keys as the reader's weight loader takes them)."""
        parent, _, name = path.rpartition(".")
        name = _NAME.sub("_", name) or "op"
        holder = self._container(parent, types)
        existing = holder._modules.get(name)
        if existing is not None and not isinstance(existing, FileBlock) and \
                (same is None or same(existing)):
            return self.graph.call_module(f"{parent}.{name}" if parent else name, args)
        k, base = 1, name
        while name in holder._modules:
            name, k = f"{base}_{k}", k + 1
        with torch.device("meta"):
            holder.add_module(name, make())
        target = f"{parent}.{name}" if parent else name
        for pname, key in (weights or {}).items():
            if key is not None:
                self.weights[f"{target}.{pname}"] = key
        return self.graph.call_module(target, args)

    def function(self, path: str, types: dict[str, str], fn: Any, args: tuple,
                 kwargs: dict | None = None) -> fx.Node:
        """A function call (``operator.add``, ``torch.cat``) owned by the block at ``path``."""
        self._container(path, types)
        node = self.graph.call_function(fn, args, kwargs or {})
        node.meta["nn_module_stack"] = {path: (path, types.get(path, "Block"))}
        return node

    def unknown_op(self, path: str, types: dict[str, str], op: str, args: tuple,
                   out_shape: tuple[int, ...] | None, fn: Any = None,
                   params: dict[str, tuple[int, ...]] | None = None) -> fx.Node:
        """An op without a rule (counted as unknown; its weights still counted)."""
        self.unknown.append(op)

        def make() -> nn.Module:
            m = UnknownOp(op, out_shape, fn)
            for i, (pname, shape) in enumerate((params or {}).items()):
                m.register_parameter(f"w{i}", nn.Parameter(torch.empty(shape), False))
            return m
        leaf = path + "." + _NAME.sub("_", op.lower()) if path else _NAME.sub("_", op.lower())
        return self.module(leaf, types, make, args, same=lambda m: False)

    def finish(self, outputs: list[fx.Node], input_shape: tuple[int, ...],
               name: str) -> "FileModel":
        self.graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
        if self.unknown:
            ops = sorted(set(self.unknown))
            self.notes.append(f"{len(self.unknown)} op(s) vizapp has no rule for "
                              f"({', '.join(ops)}): shapes from the file, MACs not counted")
        traced = Traced(steps_from_graph(self.graph, self.root), self.root, method="file",
                        notes=tuple(self.notes))
        return FileModel(traced, tuple(input_shape), name, self.graph, tuple(self.unknown),
                         dict(self.weights))


@dataclass
class FileModel:
    """A model read from a file: its captured graph (ready for the analysis passes), the input
    shape the file was exported for (N, C, H, W), a display name, the fx graph over
    :attr:`model`'s modules and the ops without a rule (none: the rebuilt layers can run)."""

    traced: Traced
    input_shape: tuple[int, ...]
    name: str
    graph: fx.Graph | None = None
    unknown: tuple[str, ...] = ()
    weights: dict[str, Any] = field(default_factory=dict)  # module tensor path → file's key

    @property
    def model(self) -> nn.Module:
        return self.traced.model
