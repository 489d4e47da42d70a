"""Read a ``torch.export.save`` archive (``.pt2``) without executing anything in it.

``torch.export.load`` is not used: in torch 2.14 it unpickles pickled weights and constants with
``weights_only=False`` (``torch/export/pt2_archive/_package.py``), falls back to
``weights_only=False`` for the sample inputs (``_export/serde/serialize.py``
``deserialize_torch_artifact``), ``pickle.loads`` opaque constants, ``sympy.sympify`` s (that is,
``eval`` s) symbolic shape expressions and loads AOTInductor shared libraries. This reader opens
the zip, reads the program's JSON (``models/<name>.json``: the graph, every value's shape, the
``nn_module_stack`` of every node, the signature naming each weight) as plain data, and never
loads a weight: the analysis needs their shapes only, which the JSON records. An archive that
holds something only ``weights_only=False`` could load (a pickled payload, a custom object, an
AOTInductor build) is refused, and so is a sample-inputs pickle that the safe unpickler rejects.
"""

from __future__ import annotations

import io
import json
import operator
import zipfile
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vizapp import i18n

from .errors import FileError
from .graph import Builder, FileModel

MAX_JSON = 64 * 1024 * 1024  # bytes of program JSON read at most
MAX_UNPACKED = 1024 * 1024 * 1024  # the archive's declared unpacked size at most (zip bombs)



def _open(data: bytes, name: str) -> zipfile.ZipFile:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise FileError(i18n.deferred("{name} is not a readable .pt2 archive (a .pt2 is the zip file "
                      "torch.export.save writes; this one is truncated or not a zip): save it "
                      "again with torch.export.save(torch.export.export(model, (x,)), path)",
                      name=name)) from None
    if sum(i.file_size for i in infos) > MAX_UNPACKED:
        raise FileError(i18n.deferred("{name} declares more than 1 GB once unpacked: vizapp does not open it",
                      name=name))
    return z


def _member(z: zipfile.ZipFile, suffix: str) -> str | None:
    return next((n for n in z.namelist() if n.endswith(suffix)), None)


def _read(z: zipfile.ZipFile, member: str, name: str, limit: int = MAX_JSON) -> bytes:
    if z.getinfo(member).file_size > limit:
        raise FileError(i18n.deferred("{name}: {member} is too large to read", name=name, member=member))
    try:
        return z.read(member)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        raise FileError(i18n.deferred("{name} is truncated or damaged ({member} cannot be read): save it again "
                      "with torch.export.save", name=name, member=member)) from None


def _check_payloads(z: zipfile.ZipFile, name: str) -> None:
    """Refuse what only an unrestricted unpickler (or a shared library) could load."""
    names = z.namelist()
    if any("/data/aotinductor/" in n or n.startswith("data/aotinductor/") for n in names):
        raise FileError(i18n.deferred("{name} contains AOTInductor-compiled code (a shared library): vizapp "
                      "never loads code from a file; save the torch.export program alone",
                      name=name))
    for n in names:
        if n.endswith((".json",)) and ("/data/weights/" in n or "/data/constants/" in n
                                       or n.startswith("data/")):
            cfg = json.loads(_read(z, n, name) or b"{}").get("config", {})
            for fqn, meta in cfg.items():
                path = str(meta.get("path_name", ""))
                if meta.get("use_pickle") or not path.startswith(("weight_", "tensor_")):
                    raise FileError(i18n.deferred(
                        "{name} stores '{what}' as a pickled object, which only "
                        "torch.load(weights_only=False) can read, and that can run code from "
                        "the file: vizapp refuses it. Save plain tensors (torch.export.save of "
                        "a model whose weights are ordinary tensors)", name=name, what=fqn[:80]))
        elif n.endswith((".pt",)) and "/data/" in n:
            _check_pickle(z, n, name)


def _check_pickle(z: zipfile.ZipFile, member: str, name: str) -> None:
    """A pickled member (the sample inputs, a legacy weights file) must load with the
    restricted unpickler: torch.export.load would otherwise retry with weights_only=False."""
    try:
        torch.load(io.BytesIO(_read(z, member, name)), weights_only=True, map_location="meta")
    except FileError:
        raise
    except Exception:  # noqa: BLE001 - any refusal of the safe unpickler
        raise FileError(i18n.deferred("{name}: {member} is a pickle that torch.load(weights_only=True) refuses, "
                      "so only weights_only=False could load it, and that can run code from the "
                      "file: vizapp refuses it", name=name, member=member.rsplit("/", 1)[-1])) \
            from None


def read_pt2(data: bytes, name: str) -> FileModel:
    """A ``.pt2``'s program as a :class:`~.graph.FileModel` (raises only FileError)."""
    z = _open(data, name)
    member = next((n for n in z.namelist()
                   if "/models/" in "/" + n and n.endswith(".json")), None)
    if member is None:
        raise FileError(i18n.deferred("{name} is a zip file but not a torch.export program (it has no "
                      "models/<name>.json): save one with torch.export.save(torch.export.export("
                      "model, (x,)), path)", name=name))
    _check_payloads(z, name)
    try:
        program = json.loads(_read(z, member, name))
        gm = program["graph_module"]
        graph, signature = gm["graph"], gm["signature"]
    except FileError:
        raise
    except (ValueError, KeyError, TypeError):
        raise FileError(i18n.deferred("{name}: the program's JSON is not one this vizapp reads (written by "
                      "another torch version?): export it again with torch {version}",
                      name=name, version=torch.__version__.split("+")[0])) from None
    if program.get("range_constraints") or graph.get("sym_int_values"):
        raise FileError(i18n.deferred("{name} was exported with dynamic shapes: vizapp analyses one fixed input; "
                      "export with an example input and no dynamic_shapes", name=name))
    root = name.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "Model"
    try:
        return _Reader(graph, signature, name, root).read()
    except FileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, StopIteration) as exc:
        raise FileError(i18n.deferred(
            "{name}: the program's graph is not one vizapp can read ({error}): the file is "
            "damaged, or was written by another torch version; export it again", name=name,
            error=f"{type(exc).__name__}: {str(exc)[:80]}")) from None


def _sizes(meta: dict) -> tuple[int, ...]:
    out = []
    for s in meta.get("sizes", []):
        if "as_int" not in s:
            raise FileError(i18n.deferred("a tensor of this program has a symbolic size: export "
                                          "with a fixed input (no dynamic_shapes)"))
        out.append(int(s["as_int"]))
    return tuple(out)


_PLAIN = ("as_int", "as_float", "as_bool", "as_string", "as_ints", "as_floats", "as_bools",
          "as_scalar_type", "as_memory_format", "as_layout", "as_device")


def _stack(meta: dict) -> list[tuple[str, str]]:
    """``nn_module_stack`` as (path, type) pairs, outermost first."""
    out = []
    for entry in str(meta.get("nn_module_stack", "")).split(";"):
        parts = entry.split(",")
        if len(parts) >= 3:
            out.append((parts[1], parts[-1]))
    return out


PARAM = object()  # a handler's answer: the node only reshapes a weight (no graph value)


def _short(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


class _Node:
    """One node of the program, decoded: op name, arguments by name, the owning path."""

    def __init__(self, raw: dict, reader: "_Reader"):
        target = str(raw.get("target", ""))
        self.target = target
        # aten ops by name (conv2d); another namespace's op keeps its full name (no rule)
        self.op = target.split(".")[-2] if target.startswith("torch.ops.aten.") else target
        self.args: dict[str, Any] = {}
        self.order: list[str] = []
        for a in raw.get("inputs", []):
            self.args[a["name"]] = reader.arg(a["arg"])
            self.order.append(a["name"])
        self.outputs = [o["as_tensor"]["name"] for o in raw.get("outputs", [])
                        if isinstance(o, dict) and "as_tensor" in o]
        for o in raw.get("outputs", []):
            if isinstance(o, dict) and "as_tensors" in o:
                self.outputs += [t["name"] for t in o["as_tensors"]]
        stack = _stack(raw.get("metadata", {}))
        self.types = {p: t for p, t in stack}
        self.leaf_path, self.leaf_type = stack[-1] if stack else ("", "")
        self.path = self.leaf_path

    def positional(self, i: int, default: Any = None) -> Any:
        return self.args[self.order[i]] if i < len(self.order) else default


class _Reader:
    def __init__(self, graph: dict, signature: dict, name: str, root: str):
        self.graph = graph
        self.name = name
        self.tensors = graph.get("tensor_values", {})
        self.params: dict[str, str] = {}  # value name → weight FQN
        self.inputs: list[str] = []
        for spec in signature.get("input_specs", []):
            kind, body = next(iter(spec.items()))
            if kind in ("parameter", "buffer", "tensor_constant"):
                self.params[body["arg"]["name"]] = str(body.get(f"{kind}_name", body.get(
                    "tensor_constant_name", "")))
            elif kind == "user_input" and "as_tensor" in body.get("arg", {}):
                self.inputs.append(body["arg"]["as_tensor"]["name"])
        stack = next((_stack(n.get("metadata", {})) for n in graph.get("nodes", [])
                      if n.get("metadata", {}).get("nn_module_stack")), [])
        self.b = Builder(_short(stack[0][1]) if stack else root)

    def arg(self, a: dict) -> Any:
        kind, value = next(iter(a.items()))
        if kind == "as_none":
            return None
        if kind == "as_tensor":
            return ("T", value["name"])
        if kind == "as_tensors":
            return [("T", t["name"]) for t in value]
        if kind in ("as_optional_tensor",):
            return ("T", value["as_tensor"]["name"]) if "as_tensor" in value else None
        if kind in _PLAIN:
            return value
        raise FileError(i18n.deferred(
            "{name}: an argument of kind '{kind}' is not one vizapp reads (symbolic sizes, "
            "custom objects): export with a fixed input", name=self.name, kind=kind[:40]))

    def shape(self, value: str) -> tuple[int, ...]:
        return _sizes(self.tensors.get(value, {}))

    def value(self, ref: Any) -> Any:
        """A tensor argument as an fx node (weights are not graph values)."""
        if isinstance(ref, tuple) and ref and ref[0] == "T":
            if ref[1] not in self.b.values:
                raise FileError(i18n.deferred("{name}: the value '{value}' is used before it is "
                                              "made: the program is damaged", name=self.name,
                                              value=ref[1][:60]))
            return self.b.values[ref[1]]
        if isinstance(ref, list):
            return [self.value(r) for r in ref]
        return ref

    def read(self) -> FileModel:
        if len(self.inputs) != 1:
            raise FileError(i18n.deferred(
                "{name} takes {n} tensor inputs: vizapp analyses programs of one image input "
                "(N×C×H×W)", name=self.name, n=len(self.inputs)))
        x = self.inputs[0]
        shape = self.shape(x)
        if len(shape) < 2:
            raise FileError(i18n.deferred("{name}: its input has shape {shape}; vizapp expects "
                                          "N×C×H×W", name=self.name, shape=str(shape)))
        self.b.values[x] = self.b.graph.placeholder(x)
        for raw in self.graph.get("nodes", []):
            self.convert(_Node(raw, self))
        outs = [self.value(self.arg(o)) for o in self.graph.get("outputs", [])]
        outs = [o for o in outs if o is not None]
        if not outs:
            raise FileError(i18n.deferred("{name}: the program returns no tensor",
                                          name=self.name))
        return self.b.finish(outs, shape, self.b.root_type)

    def convert(self, n: _Node) -> None:
        handler = _HANDLERS.get(n.op)
        node = handler(self, n) if handler is not None else None
        if node is PARAM:
            return
        if node is None:
            node = self.unknown(n)
        for out in n.outputs:
            self.b.values[out] = node

    def unknown(self, n: _Node) -> Any:
        tensors = [self.value(v) for v in n.args.values()
                   if isinstance(v, tuple) and v and v[0] == "T" and v[1] not in self.params]
        params = {self.params[v[1]]: self.shape(v[1]) for v in n.args.values()
                  if isinstance(v, tuple) and v and v[0] == "T" and v[1] in self.params}
        out = self.shape(n.outputs[0]) if n.outputs and n.outputs[0] in self.tensors else None
        return self.b.unknown_op(n.path, n.types, n.op, tuple(tensors), out, params=params)

    def fqn(self, ref: Any) -> str | None:
        """The weight name (``layer1.0.conv1.weight``) behind a tensor argument, or None."""
        return self.params.get(ref[1]) if isinstance(ref, tuple) and ref else None

    def module(self, n: _Node, cls: type, make: Any, args: tuple, must: bool,
               weights: dict[str, Any] | None = None) -> Any:
        """A call of a rebuilt ``cls`` module at the node's leaf path (when the file says that
        module ran there), else a child path (``must``: it holds weights) or None (the caller
        uses the functional form)."""
        if _short(n.leaf_type) == cls.__name__:
            parent = n.leaf_path.rpartition(".")[0]
            types = {p: t for p, t in n.types.items() if p != n.leaf_path}
            node = self.b.module(n.leaf_path, types, make, args,
                                 same=lambda m: type(m) is cls and _same(m, make),
                                 weights=weights)
            n.path = parent
            return node
        if not must:
            return None
        leaf = f"{n.leaf_path}.{n.op}" if n.leaf_path else n.op
        return self.b.module(leaf, n.types, make, args, same=lambda m: False, weights=weights)

    def function(self, n: _Node, fn: Any, args: tuple, kwargs: dict | None = None) -> Any:
        return self.b.function(n.leaf_path, n.types, fn, args, kwargs)


def _same(m: nn.Module, make: Any) -> bool:
    """A module called again (one ReLU thrice) has the same settings as the one made."""
    with torch.device("meta"):
        other = make()
    return repr(m) == repr(other) and \
        [p.shape for p in m.parameters()] == [p.shape for p in other.parameters()]


def _one(v: Any) -> Any:
    """[3, 3] → 3 (how such settings are written); other lists → tuples."""
    if isinstance(v, (list, tuple)):
        return v[0] if len(v) and all(e == v[0] for e in v) else tuple(v)
    return v


def _conv(r: _Reader, n: _Node) -> Any:
    w, b = n.args.get("weight"), n.args.get("bias")
    ws = r.shape(w[1]) if w else ()
    if len(ws) != 4:
        return None
    g = int(n.args.get("groups", 1))
    pad = n.args.get("padding", [0, 0])
    pad = pad if isinstance(pad, str) else tuple(pad)
    stride, dil = tuple(n.args.get("stride", [1, 1])), tuple(n.args.get("dilation", [1, 1]))

    def make() -> nn.Module:
        return nn.Conv2d(ws[1] * g, ws[0], tuple(ws[2:]), stride=stride, padding=pad,
                         dilation=dil, groups=g, bias=b is not None)
    return r.module(n, nn.Conv2d, make, (r.value(n.positional(0)),), must=True,
                    weights={"weight": r.fqn(w), "bias": r.fqn(b)})


def _bn(r: _Reader, n: _Node) -> Any:
    x = n.positional(0)
    xs = r.shape(x[1])
    cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}.get(len(xs))
    if cls is None:
        return None
    affine = n.args.get("weight") is not None
    track = n.args.get("running_mean") is not None

    def make() -> nn.Module:
        return cls(xs[1], eps=float(n.args.get("eps", 1e-5)),
                   momentum=float(n.args.get("momentum", 0.1)), affine=affine,
                   track_running_stats=track)
    return r.module(n, cls, make, (r.value(x),), must=True,
                    weights={k: r.fqn(n.args.get(k)) for k in ("weight", "bias", "running_mean",
                                                               "running_var")})


def _linear(r: _Reader, n: _Node) -> Any:
    ws = r.shape(n.args["weight"][1])
    if len(ws) != 2:
        return None
    bias = n.args.get("bias") is not None
    return r.module(n, nn.Linear, lambda: nn.Linear(ws[1], ws[0], bias=bias),
                    (r.value(n.positional(0)),), must=True,
                    weights={"weight": r.fqn(n.args["weight"]),
                             "bias": r.fqn(n.args.get("bias"))})


def _act(cls: type, fn: Any) -> Any:
    def handler(r: _Reader, n: _Node) -> Any:
        x = r.value(n.positional(0))
        inplace = n.op.endswith("_")

        def make() -> nn.Module:
            return cls(inplace=True) if inplace and "inplace" in cls.__init__.__code__.co_varnames \
                else cls()
        node = r.module(n, cls, make, (x,), must=False)
        return node if node is not None else r.function(n, fn, (x,))
    return handler


def _pool(is_max: bool) -> Any:
    def handler(r: _Reader, n: _Node) -> Any:
        k = n.args["kernel_size"]
        s = n.args.get("stride") or k
        kw: dict[str, Any] = dict(kernel_size=_one(k), stride=_one(s),
                                  padding=_one(n.args.get("padding", 0)),
                                  ceil_mode=bool(n.args.get("ceil_mode", False)))
        if is_max:
            kw["dilation"] = _one(n.args.get("dilation", 1))
        else:
            kw["count_include_pad"] = bool(n.args.get("count_include_pad", True))
            kw["divisor_override"] = n.args.get("divisor_override")
        cls = nn.MaxPool2d if is_max else nn.AvgPool2d
        x = r.value(n.positional(0))
        node = r.module(n, cls, lambda: cls(**kw), (x,), must=False)
        fn = F.max_pool2d if is_max else F.avg_pool2d
        return node if node is not None else r.function(n, fn, (x,), kw)
    return handler


def _adaptive(is_max: bool) -> Any:
    def handler(r: _Reader, n: _Node) -> Any:
        size = _one(n.args["output_size"])
        cls = nn.AdaptiveMaxPool2d if is_max else nn.AdaptiveAvgPool2d
        x = r.value(n.positional(0))
        node = r.module(n, cls, lambda: cls(size), (x,), must=False)
        fn = F.adaptive_max_pool2d if is_max else F.adaptive_avg_pool2d
        return node if node is not None else r.function(n, fn, (x, size))
    return handler


def _flatten(r: _Reader, n: _Node) -> Any:
    s, e = int(n.args.get("start_dim", 0)), int(n.args.get("end_dim", -1))
    x = r.value(n.positional(0))
    node = r.module(n, nn.Flatten, lambda: nn.Flatten(s, e), (x,), must=False)
    return node if node is not None else r.function(n, torch.flatten, (x, s, e))


def _dropout(r: _Reader, n: _Node) -> Any:
    p = float(n.args.get("p", 0.5))
    x = r.value(n.positional(0))
    node = r.module(n, nn.Dropout, lambda: nn.Dropout(p), (x,), must=False)
    return node if node is not None else r.function(n, F.dropout, (x, p, False))


def _add(r: _Reader, n: _Node) -> Any:
    a, b = n.positional(0), n.positional(1)
    if not (isinstance(b, tuple) and b and b[0] == "T") or b[1] in r.params or \
            n.args.get("alpha", 1) != 1:
        return None
    return r.function(n, operator.add, (r.value(a), r.value(b)))


def _cat(r: _Reader, n: _Node) -> Any:
    return r.function(n, torch.cat, (r.value(n.positional(0)), int(n.args.get("dim", 0))))


def _mean(r: _Reader, n: _Node) -> Any:
    dims = tuple(n.args.get("dim") or ())
    if _short(n.leaf_type) == "AdaptiveAvgPool2d" and set(dims) in ({-1, -2}, {2, 3}) and \
            n.args.get("keepdim"):  # a decomposed AdaptiveAvgPool2d(1)
        return r.module(n, nn.AdaptiveAvgPool2d, lambda: nn.AdaptiveAvgPool2d(1),
                        (r.value(n.positional(0)),), must=False)
    return r.function(n, torch.mean, (r.value(n.positional(0)), tuple(n.args.get("dim") or ()),
                                      bool(n.args.get("keepdim", False))))


def _reshape(r: _Reader, n: _Node) -> Any:
    size = n.positional(1)
    if not isinstance(size, list):
        return None
    return r.function(n, torch.reshape, (r.value(n.positional(0)), tuple(size)))


def _convolution(r: _Reader, n: _Node) -> Any:
    """Core ATen's convolution (after run_decompositions): a Conv2d unless transposed."""
    return None if n.args.get("transposed") else _conv(r, n)


def _permute(r: _Reader, n: _Node) -> Any:
    """A weight transposed for addmm: still that weight (no graph value, no op)."""
    src = n.positional(0)
    if isinstance(src, tuple) and src[1] in r.params and n.outputs:
        r.params[n.outputs[0]] = r.params[src[1]]
        return PARAM
    return None


def _addmm(r: _Reader, n: _Node) -> Any:
    """``bias + x @ weight.T`` (a decomposed Linear)."""
    b, x, w = n.positional(0), n.positional(1), n.positional(2)
    if not (isinstance(w, tuple) and w[1] in r.params and isinstance(b, tuple)
            and b[1] in r.params) or n.args.get("beta", 1) != 1 or n.args.get("alpha", 1) != 1:
        return None
    ws = r.shape(w[1])
    if len(ws) != 2:
        return None
    return r.module(n, nn.Linear, lambda: nn.Linear(ws[0], ws[1]), (r.value(x),), must=True,
                    weights={"weight": r.fqn(w), "bias": r.fqn(b)})  # the weight before .T


def _getitem(r: _Reader, n: _Node) -> Any:
    v, i = n.positional(0), n.positional(1)
    return r.value(v[int(i)] if isinstance(v, list) else v)


_HANDLERS = {
    "conv2d": _conv, "batch_norm": _bn, "linear": _linear,
    "relu": _act(nn.ReLU, torch.relu), "relu_": _act(nn.ReLU, torch.relu),
    "sigmoid": _act(nn.Sigmoid, torch.sigmoid), "sigmoid_": _act(nn.Sigmoid, torch.sigmoid),
    "tanh": _act(nn.Tanh, torch.tanh), "silu": _act(nn.SiLU, F.silu),
    "silu_": _act(nn.SiLU, F.silu), "gelu": _act(nn.GELU, F.gelu),
    "max_pool2d": _pool(True), "avg_pool2d": _pool(False),
    "adaptive_avg_pool2d": _adaptive(False), "adaptive_max_pool2d": _adaptive(True),
    "flatten": _flatten, "dropout": _dropout, "dropout_": _dropout,
    "add": _add, "add_": _add, "cat": _cat, "concat": _cat, "mean": _mean,
    "view": _reshape, "reshape": _reshape, "_operator.getitem": _getitem,
    # core ATen (ExportedProgram.run_decompositions())
    "convolution": _convolution, "_native_batch_norm_legit_no_training": _bn,
    "max_pool2d_with_indices": _pool(True), "permute": _permute, "t": _permute,
    "addmm": _addmm,
}


_DTYPES = {"FLOAT": torch.float32, "DOUBLE": torch.float64, "HALF": torch.float16,
           "BFLOAT16": torch.bfloat16, "LONG": torch.int64, "INT": torch.int32,
           "SHORT": torch.int16, "CHAR": torch.int8, "BYTE": torch.uint8, "BOOL": torch.bool}


def _dtype(code: Any) -> torch.dtype | None:
    from torch._export.serde.schema import ScalarType

    try:
        return _DTYPES.get(ScalarType(int(code)).name)
    except (ValueError, TypeError):
        return None


def weights_of(data: bytes, name: str, wanted: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The file's tensors behind ``wanted`` (module tensor path → weight name), read from the
    archive's raw payloads as data (never unpickled); empty when the program carries none
    (exported on the meta device)."""
    z = _open(data, name)
    member = _member(z, "data/weights/model_weights_config.json")
    if member is None:
        return {}
    root = member[: -len("data/weights/model_weights_config.json")]
    config = json.loads(_read(z, member, name)).get("config", {})
    out = {}
    for path, fqn in wanted.items():
        meta = config.get(fqn)
        tm = (meta or {}).get("tensor_meta") or {}
        dtype = _dtype(tm.get("dtype"))
        if meta is None or meta.get("use_pickle") or dtype is None or \
                (tm.get("device") or {}).get("type") == "meta":
            continue
        raw = _read(z, root + "data/weights/" + str(meta["path_name"]), name, MAX_UNPACKED)
        flat = torch.frombuffer(bytearray(raw), dtype=dtype)
        out[path] = torch.as_strided(flat, _sizes(tm), tuple(int(v["as_int"])
                                                             for v in tm.get("strides", [])),
                                     int(tm.get("storage_offset", {}).get("as_int", 0))).clone()
    return out
