"""Read an ONNX model with the ``onnx`` package (a protobuf: reading it runs no code).

Layers are rebuilt from their attributes and initializer shapes (Conv → ``nn.Conv2d``, Gemm →
``nn.Linear``, BatchNormalization, pools …), so vizapp's own rules give shapes, MACs, receptive
fields and the worked arithmetic; ``onnx.shape_inference`` fills the shapes of ops without a rule
(counted as unknown, said on their row). Name scopes (``/layer1/layer1.0/conv1/Conv``, as the
torch exporter writes them) give the module paths, hence the blocks and folds; weight names
(``layer1.0.conv1.weight``) give a layer's exact path.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vizapp import i18n

from .errors import FileError
from .graph import Builder, FileModel

MIN_OPSET = 7
MAX_DECLARED = 2 ** 30  # bytes one tensor may declare at most (whatever the file holds)



def _load(data: bytes, name: str) -> Any:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, TypeError):
        model = None
    if model is None or not model.graph.node:
        raise FileError(i18n.deferred("{name} is not a readable ONNX model (the protobuf is truncated, damaged "
                      "or another kind of file): export it again with torch.onnx.export", name=name))
    return model


def _check(model: Any, name: str) -> int:
    import onnx
    from onnx import TensorProto

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    newest = onnx.defs.onnx_opset_version()
    if opset is None or not MIN_OPSET <= opset <= newest:
        raise FileError(i18n.deferred("{name} uses ONNX opset {opset}; this vizapp reads opsets {lo} to {hi}: "
                      "export with opset_version={hi} or lower", name=name, opset=str(opset),
                      lo=MIN_OPSET, hi=newest))
    for t in model.graph.initializer:
        if t.data_location == TensorProto.EXTERNAL or t.external_data:
            raise FileError(i18n.deferred("{name} keeps its weights in external data files ('{tensor}'): "
                          "vizapp opens one self-contained file; export without external data "
                          "(a model under 2 GB)", name=name, tensor=t.name[:80]))
        declared = math.prod(t.dims) * _itemsize(t.data_type)
        if declared > MAX_DECLARED or declared > _stored(t):
            raise FileError(i18n.deferred("{name} declares the tensor '{tensor}' of {size} but the file holds "
                          "{held}: the file is damaged or not what it claims; export it again",
                          name=name, tensor=t.name[:80], size=_bytes_text(declared),
                          held=_bytes_text(_stored(t))))
    return opset


def _itemsize(data_type: int) -> int:
    import onnx.helper

    try:
        return onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize
    except (KeyError, ValueError, TypeError):
        return 1


def _stored(t: Any) -> int:
    if t.raw_data:
        return len(t.raw_data)
    fields = (t.float_data, t.int32_data, t.int64_data, t.double_data, t.uint64_data,
              t.string_data)
    n = sum(len(f) for f in fields)
    return n * _itemsize(t.data_type) if n else (0 if math.prod(t.dims) else 0)


def _bytes_text(n: int) -> str:
    from vizapp.fmt import bytes_text

    return bytes_text(n)


def _dims(value_info: Any) -> tuple[Any, ...] | None:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                 for d in t.shape.dim)


def _attrs(node: Any) -> dict[str, Any]:
    import onnx.helper

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _scope_path(node_name: str) -> str:
    """``/layer1/layer1.0/conv1/Conv`` → ``layer1.0.conv1`` (each scope is either the full
    path or a name inside the one before it)."""
    parts = [p for p in node_name.split("/") if p][:-1]
    path = ""
    for p in parts:
        path = p if not path or p.startswith(path + ".") else f"{path}.{p}"
    return path


def read_onnx(data: bytes, name: str) -> FileModel:
    """An ONNX model as a :class:`~.graph.FileModel` (raises only FileError)."""
    import onnx

    model = _load(data, name)
    _check(model, name)
    notes = []
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as exc:  # noqa: BLE001 - inference is a help, vizapp's rules come first
        notes.append(f"ONNX shape inference stopped ({type(exc).__name__}): shapes of ops "
                     f"without a vizapp rule may be missing")
    try:
        return _Reader(model, name, notes).read()
    except FileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise FileError(i18n.deferred(
            "{name}: a node of the graph is not one vizapp can read ({error}): the file is "
            "damaged or uses the op in a way vizapp does not know", name=name,
            error=f"{type(exc).__name__}: {str(exc)[:80]}")) from None


def _sym(pads: Any, n: int = 2) -> tuple[int, ...] | None:
    """ONNX pads (begin…, end…) → torch's symmetric padding, or None when asymmetric."""
    pads = list(pads or [0] * (2 * n))
    if pads[:n] != pads[n:]:
        return None
    return tuple(pads[:n])


def _one(v: Any) -> Any:
    v = tuple(v)
    return v[0] if v and all(e == v[0] for e in v) else v


class _Reader:
    def __init__(self, model: Any, name: str, notes: list[str]):
        from onnx import numpy_helper

        g = model.graph
        self.g, self.name = g, name
        self.inits = {t.name: tuple(t.dims) for t in g.initializer}
        self.consts: dict[str, Any] = {t.name: numpy_helper.to_array(t) for t in g.initializer
                                       if math.prod(t.dims) <= 64}
        self.shapes = {v.name: _dims(v) for v in [*g.value_info, *g.input, *g.output]}
        self.alias: dict[str, str] = {}
        self.leaf_paths: set[str] = set()
        # paths that hold other modules: an op scoped there is a function of its forward
        # (F.relu in an Inception block), not a leaf module
        self.containers: set[str] = set()
        for path in [_scope_path(n.name) for n in g.node] + [t.name for t in g.initializer]:
            parts = path.split(".")
            self.containers.update(".".join(parts[:i]) for i in range(1, len(parts)))
        stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        self.b = Builder(stem if stem.isidentifier() else "OnnxModel")
        self.b.notes.extend(notes)

    def src(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def val(self, name: str) -> Any:
        name = self.src(name)
        if name not in self.b.values:
            raise FileError(i18n.deferred("{name}: the value '{value}' is used before any node makes it: the "
                          "graph is damaged or not in order", name=self.name, value=name[:60]))
        return self.b.values[name]

    def read(self) -> FileModel:
        inputs = [i for i in self.g.input if i.name not in self.inits]
        if len(inputs) != 1:
            raise FileError(i18n.deferred("{name} takes {n} inputs: vizapp analyses models of one image input "
                          "(N×C×H×W)", name=self.name, n=len(inputs)))
        dims = _dims(inputs[0]) or ()
        shape = tuple(d if isinstance(d, int) and d > 0 else (1 if i == 0 else None)
                      for i, d in enumerate(dims))
        if len(shape) < 2 or None in shape:
            raise FileError(i18n.deferred("{name}: its input '{input}' has shape {shape}; vizapp needs a fixed "
                          "N×C×H×W (export with a fixed image size; only the batch may be "
                          "dynamic)", name=self.name, input=inputs[0].name[:60], shape=str(dims)))
        self.b.values[inputs[0].name] = self.b.graph.placeholder("x")
        for node in self.g.node:
            self.convert(node)
        outs = [self.val(o.name) for o in self.g.output]
        return self.b.finish(outs, shape, self.b.root_type)

    def types(self, node: Any) -> dict[str, str]:
        """Class names by path when the exporter recorded them (the dynamo exporter's
        metadata), else none (containers are then called ``Block``)."""
        import ast

        meta = {p.key: p.value for p in node.metadata_props}
        try:
            scopes = ast.literal_eval(meta.get("pkg.torch.onnx.name_scopes", "[]"))
            classes = ast.literal_eval(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
        except (ValueError, SyntaxError):
            return {}
        if not isinstance(scopes, list) or not isinstance(classes, list):
            return {}
        return {str(p): str(c) for p, c in zip(scopes, classes)}

    def path(self, node: Any, weight: str | None = None) -> str:
        if weight and weight.endswith(".weight") and (weight in self.inits or
                                                      weight in self.alias):
            return weight[: -len(".weight")]
        path = _scope_path(node.name)
        head, _, tail = path.rpartition("_")
        if tail.isdigit() and head in self.leaf_paths:  # the 2nd call of one module: relu_1
            return head
        return path

    def convert(self, node: Any) -> None:
        op = node.op_type
        ins = [self.src(i) for i in node.input]
        if op == "Identity" and ins:
            self.alias[node.output[0]] = ins[0]
            return
        if op == "Constant":
            from onnx import numpy_helper

            a = next((x for x in node.attribute if x.name == "value"), None)
            if a is not None and math.prod(a.t.dims) <= 4096:  # shapes and scalars only
                self.consts[node.output[0]] = numpy_helper.to_array(a.t)
            return
        handler = _HANDLERS.get(op) if node.domain in ("", "ai.onnx") else None
        fx_node = handler(self, node, ins, _attrs(node)) if handler is not None else None
        if fx_node is None:
            fx_node = self.unknown(node, ins)
        for out in node.output:
            self.b.values[out] = fx_node

    def unknown(self, node: Any, ins: list[str]) -> Any:
        acts = tuple(self.val(i) for i in ins if i in self.b.values)
        params = {i: self.inits[i] for i in ins if i in self.inits}
        dims = self.shapes.get(node.output[0]) if node.output else None
        out = None
        if dims is not None:
            out = tuple(d if isinstance(d, int) and d > 0 else (1 if k == 0 else -1)
                        for k, d in enumerate(dims))
            out = None if -1 in out else out
        label = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        return self.b.unknown_op(_scope_path(node.name), self.types(node), label, acts, out,
                                 params=params)

    def module(self, node: Any, path: str, make: Any, args: tuple, reuse: bool = False,
               weights: dict[str, Any] | None = None) -> Any:
        path = path or node.op_type.lower()
        node_ = self.b.module(path, self.types(node), make, args,
                              same=(lambda m: repr(m) == repr(_meta(make))) if reuse else
                              (lambda m: False), weights=weights)
        self.leaf_paths.add(path)
        return node_

    def function(self, node: Any, fn: Any, args: tuple, kwargs: dict | None = None) -> Any:
        return self.b.function(_scope_path(node.name), self.types(node), fn, args, kwargs)

    def rank(self, name: str) -> int | None:
        d = self.shapes.get(name)
        return len(d) if d is not None else None


def _meta(make: Any) -> nn.Module:
    with torch.device("meta"):
        return make()


def _conv(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    w = r.inits.get(ins[1]) if len(ins) > 1 else None
    pad = _sym(a.get("pads"))
    if w is None or len(w) != 4 or pad is None or a.get("auto_pad", b"NOTSET") not in (
            b"NOTSET", b"VALID", "NOTSET", "VALID"):
        return None
    g = int(a.get("group", 1))
    bias = len(ins) > 2 and bool(ins[2])

    def make() -> nn.Module:
        return nn.Conv2d(w[1] * g, w[0], tuple(a.get("kernel_shape", w[2:])),
                         stride=tuple(a.get("strides", (1, 1))), padding=pad,
                         dilation=tuple(a.get("dilations", (1, 1))), groups=g, bias=bias)
    return r.module(node, r.path(node, node.input[1]), make, (r.val(ins[0]),),
                    weights={"weight": (ins[1], False), "bias": (ins[2], False) if bias else None})


def _bn(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    scale = r.inits.get(ins[1]) if len(ins) > 1 else None
    cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}.get(
        r.rank(ins[0]) or 4)
    if scale is None or cls is None:
        return None

    def make() -> nn.Module:
        return cls(scale[0], eps=float(a.get("epsilon", 1e-5)),
                   momentum=round(1 - float(a.get("momentum", 0.9)), 6))
    names = ("weight", "bias", "running_mean", "running_var")
    return r.module(node, r.path(node, node.input[1]), make, (r.val(ins[0]),),
                    weights={k: (i, False) for k, i in zip(names, ins[1:5])})


def _linear(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    w = r.inits.get(ins[1]) if len(ins) > 1 else None
    if w is None or len(w) != 2 or a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or \
            a.get("beta", 1.0) != 1.0:
        return None
    trans = a.get("transB", 0) if node.op_type == "Gemm" else 0
    fin, fout = (w[1], w[0]) if trans else (w[0], w[1])
    bias = node.op_type == "Gemm" and len(ins) > 2 and ins[2] in r.inits
    return r.module(node, r.path(node, node.input[1]), lambda: nn.Linear(fin, fout, bias=bias),
                    (r.val(ins[0]),), weights={"weight": (ins[1], not trans),  # torch: out × in
                                               "bias": (ins[2], False) if bias else None})


def _act(cls: type, fn: Any, kw: Any = None) -> Any:
    def handler(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
        args = kw(a) if kw is not None else {}
        path = r.path(node)
        if not path or path in r.containers:
            return r.function(node, fn, (r.val(ins[0]),), args)
        return r.module(node, path, lambda: cls(**args), (r.val(ins[0]),), reuse=True)
    return handler


def _pool(is_max: bool) -> Any:
    def handler(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
        k = a.get("kernel_shape")
        pad = _sym(a.get("pads"))
        if k is None or len(k) != 2 or pad is None or a.get("auto_pad", b"NOTSET") not in (
                b"NOTSET", "NOTSET") or len(node.output) > 1:
            return None
        kw: dict[str, Any] = dict(kernel_size=_one(k), stride=_one(a.get("strides", (1, 1))),
                                  padding=_one(pad), ceil_mode=bool(a.get("ceil_mode", 0)))
        if is_max:
            kw["dilation"] = _one(a.get("dilations", (1, 1)))
        else:
            kw["count_include_pad"] = bool(a.get("count_include_pad", 0))
        cls = nn.MaxPool2d if is_max else nn.AvgPool2d
        if not r.path(node) or r.path(node) in r.containers:  # F.max_pool2d in a forward
            return r.function(node, F.max_pool2d if is_max else F.avg_pool2d, (r.val(ins[0]),),
                              kw)
        return r.module(node, r.path(node), lambda: cls(**kw), (r.val(ins[0]),), reuse=True)
    return handler


def _global(is_max: bool) -> Any:
    def handler(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
        if r.rank(ins[0]) not in (None, 4):
            return None
        cls = nn.AdaptiveMaxPool2d if is_max else nn.AdaptiveAvgPool2d
        if not r.path(node) or r.path(node) in r.containers:  # F.adaptive_avg_pool2d
            return r.function(node, F.adaptive_max_pool2d if is_max else F.adaptive_avg_pool2d,
                              (r.val(ins[0]), 1))
        return r.module(node, r.path(node), lambda: cls(1), (r.val(ins[0]),), reuse=True)
    return handler


def _flatten(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    if int(a.get("axis", 1)) != 1:
        return None
    return r.function(node, torch.flatten, (r.val(ins[0]), 1))


def _binary(fn: Any) -> Any:
    def handler(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
        if len(ins) != 2 or any(i not in r.b.values for i in ins):
            return None  # an operand that is a constant: no rule (an unknown op, its weights)
        return r.function(node, fn, (r.val(ins[0]), r.val(ins[1])))
    return handler


def _concat(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    if any(i not in r.b.values for i in ins):
        return None
    return r.function(node, torch.cat, ([r.val(i) for i in ins], int(a.get("axis", 0))))


def _dropout(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    return r.function(node, F.dropout, (r.val(ins[0]), float(a.get("ratio", 0.5)), False))


def _reshape(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    out = r.shapes.get(node.output[0])
    if out is None or not all(isinstance(d, int) and d > 0 for d in out[1:]):
        return None
    return r.function(node, torch.reshape, (r.val(ins[0]), (-1,) + tuple(out[1:])))


def _matmul(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    if len(ins) > 1 and ins[1] in r.inits:
        return _linear(r, node, ins, a)
    return _binary(torch.matmul)(r, node, ins, a)


def _clip(r: _Reader, node: Any, ins: list[str], a: dict) -> Any:
    lo = a.get("min", r.consts.get(ins[1]) if len(ins) > 1 else None)
    hi = a.get("max", r.consts.get(ins[2]) if len(ins) > 2 else None)
    if lo is None or hi is None or float(lo) != 0.0 or float(hi) != 6.0:
        return None
    return _act(nn.ReLU6, F.relu6)(r, node, ins[:1], a)


_HANDLERS = {
    "Conv": _conv, "BatchNormalization": _bn, "Gemm": _linear, "MatMul": _matmul,
    "Relu": _act(nn.ReLU, torch.relu), "Sigmoid": _act(nn.Sigmoid, torch.sigmoid),
    "Tanh": _act(nn.Tanh, torch.tanh), "Clip": _clip,
    "LeakyRelu": _act(nn.LeakyReLU, F.leaky_relu,
                      lambda a: {"negative_slope": float(a.get("alpha", 0.01))}),
    "Softmax": _act(nn.Softmax, F.softmax, lambda a: {"dim": int(a.get("axis", -1))}),
    "LRN": _act(nn.LocalResponseNorm, F.local_response_norm,
                lambda a: {"size": int(a["size"]), "alpha": float(a.get("alpha", 1e-4)),
                           "beta": float(a.get("beta", 0.75)), "k": float(a.get("bias", 1.0))}),
    "MaxPool": _pool(True), "AveragePool": _pool(False),
    "GlobalAveragePool": _global(False), "GlobalMaxPool": _global(True),
    "Flatten": _flatten, "Concat": _concat, "Dropout": _dropout, "Reshape": _reshape,
    "Add": _binary(operator.add), "Sub": _binary(operator.sub), "Mul": _binary(operator.mul),
    "Div": _binary(operator.truediv),
}


def weights_of(data: bytes, name: str, wanted: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The file's initializers behind ``wanted`` (module tensor path → (initializer name,
    transposed?)), as tensors (``onnx.numpy_helper``: data, no code)."""
    from onnx import numpy_helper

    inits = {t.name: t for t in _load(data, name).graph.initializer}
    out = {}
    for path, (init, transpose) in wanted.items():
        if init in inits:
            t = torch.from_numpy(numpy_helper.to_array(inits[init]).copy())
            out[path] = t.T.contiguous() if transpose else t
    return out
