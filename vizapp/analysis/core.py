"""``analyze(model, input_shape, batch)``: trace → shapes, params, MACs, receptive fields and
worked arithmetic → frozen :class:`~vizapp.analysis.records.Analysis`.

Pipeline (torchinfo's shape: validate → capture → records):

1. **Trace** the model with ``torch.fx`` in eval mode (the caller's ``training`` flags are
   restored). A node's owning module comes from the tracer's module stack. If fx cannot trace
   (data-dependent control flow), :mod:`.hooks` captures the module calls instead and the
   result says so.
2. **Propagate** shapes node by node with the arithmetic rules of :mod:`.rules` (which also
   write the explanation and count MACs). Ops without a rule run on meta tensors — nothing
   allocates real activations, so the cost does not depend on the input resolution.
3. **Records**: per-node records, the module hierarchy as blocks (aggregated params/MACs,
   boundary inputs/outputs, a repeat key for folding), receptive fields, and — when an op
   cannot run — a :class:`~vizapp.analysis.records.Failure` naming the node, the cause, the fix
   and the smallest input size that works.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Iterator

import torch
from torch import fx, nn
from torch.fx.node import map_aggregate

from . import rules as R
from .records import Analysis, Block, Failure, Node, ReceptiveField, Shape
from .rules import Call, NoRule, OpResult, RFStep, ShapeError, TMeta, fmt_shape


# ----------------------------------------------------------------------------- tracing
@dataclass
class Step:
    """One fx node, prepared once per trace (reused by the min-input search)."""

    name: str
    op: str  # placeholder | call_module | call_function | call_method | get_attr | output
    target: Any
    args: Any
    kwargs: Any
    module: nn.Module | None
    module_path: str
    inputs: tuple[str, ...]  # names of nodes feeding this one


@dataclass
class Traced:
    steps: list[Step]
    model: nn.Module
    method: str = "fx"
    notes: tuple[str, ...] = ()


class VizTracer(fx.Tracer):
    """The default fx tracer; leaf modules are torch.nn's own (Conv2d, BatchNorm2d …)."""


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode and restore each one's flag afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield
    finally:
        for m, t in flags:
            m.training = t


def trace(model: nn.Module) -> Traced:
    """fx-trace ``model`` (in eval mode; the caller's mode is restored)."""
    with eval_mode(model):
        graph = VizTracer().trace(model)
    modules = dict(model.named_modules())
    steps = []
    for n in graph.nodes:
        module = modules.get(n.target) if n.op == "call_module" else None
        if n.op == "call_module":
            path = n.target
        else:
            stack = n.meta.get("nn_module_stack") or {}
            path = next(reversed(stack.values()))[0] if stack else ""
        steps.append(Step(n.name, n.op, n.target, n.args, n.kwargs, module, path,
                          tuple(a.name for a in n.all_input_nodes)))
    return Traced(steps, model)


# ----------------------------------------------------------------------------- propagation
@dataclass
class Propagated:
    values: dict[str, Any]
    results: dict[str, OpResult]
    failure: tuple[str, ShapeError] | None
    order: list[str]  # step names that ran (the failing one included)


def _meta_of(v: Any) -> Any:
    """Tensor → TMeta; containers recursively; other values unchanged."""
    if isinstance(v, torch.Tensor):
        return TMeta(tuple(v.shape), v.dtype)
    if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        return type(v)(_meta_of(x) for x in v) if not hasattr(v, "_fields") else v
    return v


def _to_meta_tensor(v: Any) -> Any:
    if isinstance(v, TMeta):
        return torch.empty(v.shape, dtype=v.dtype, device="meta")
    if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        return type(v)(_to_meta_tensor(x) for x in v)
    if isinstance(v, dict):
        return {k: _to_meta_tensor(x) for k, x in v.items()}
    return v


def _meta_state(module: nn.Module) -> dict[str, torch.Tensor]:
    state = {}
    for k, p in module.named_parameters():
        state[k] = p if p.is_meta else torch.empty_like(p, device="meta")
    for k, b in module.named_buffers():
        state[k] = b if b.is_meta else torch.empty_like(b, device="meta")
    return state


_KIND_WORDS = (("conv", "conv"), ("norm", "bn"), ("pool", "pool"), ("linear", "linear"),
               ("relu", "act"), ("sigmoid", "act"), ("tanh", "act"), ("gelu", "act"),
               ("silu", "act"), ("swish", "act"), ("softmax", "act"), ("dropout", "dropout"),
               ("cat", "concat"), ("concat", "concat"), ("add", "add"), ("view", "reshape"),
               ("reshape", "reshape"), ("flatten", "reshape"), ("permute", "reshape"),
               ("transpose", "reshape"))


def _kind_from_name(name: str) -> str:
    low = name.lower()
    for word, kind in _KIND_WORDS:
        if word in low:
            return kind
    return "other"


def _op_name(step: Step) -> str:
    if step.op == "call_module":
        return type(step.module).__name__
    if step.op == "call_method":
        return str(step.target)
    t = step.target
    return getattr(t, "__name__", str(t)).lstrip("_")


def _execute_meta(step: Step, args: Any, kwargs: Any, explain: bool) -> OpResult:
    """Fallback: run the op on meta tensors (no arithmetic, no memory)."""
    margs, mkwargs = _to_meta_tensor(args), _to_meta_tensor(kwargs)
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            if step.op == "call_module":
                out = torch.func.functional_call(step.module, _meta_state(step.module),
                                                 tuple(margs), dict(mkwargs))
            elif step.op == "call_function":
                out = step.target(*margs, **mkwargs)
            else:
                self_obj, *rest = margs
                out = getattr(self_obj, step.target)(*rest, **mkwargs)
    except ShapeError:
        raise
    except Exception as exc:  # the op itself rejects these shapes
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        shapes = [fmt_shape(a.shape, True) for a in args if isinstance(a, TMeta)]
        small = any(w in msg.lower() for w in ("too small", "output size", "kernel size can't"))
        raise ShapeError(f"{_op_name(step)} failed on input {', '.join(shapes) or '—'}: {msg}",
                         "check the shapes entering this layer", spatial=small) from None
    value = _meta_of(out)
    name = _op_name(step)
    kind = _kind_from_name(name)
    if not isinstance(value, TMeta):
        return OpResult(value, name, "other", name)
    ins = [a for a in args if isinstance(a, TMeta)]
    text = ""
    if explain:
        src = ", ".join(fmt_shape(a.shape, True) for a in ins) or "—"
        text = (f"{name}: {src} → {fmt_shape(value.shape, True)} (shape computed by running the "
                f"op on a meta tensor; vizapp has no arithmetic rule for it)")
    rf = None
    if ins and len(value.shape) == 4 and len(ins[0].shape) == 4 and \
            value.shape[2:] == ins[0].shape[2:]:
        rf = RFStep("identity")
    macs = counter.get_total_flops() // 2
    return OpResult(value, name, kind, name, macs, text, "", (), rf)


def propagate(traced: Traced, input_shape: Shape, explain: bool = True) -> Propagated:
    """Shapes (and MACs, explanations) for every step, stopping at the first failure."""
    values: dict[str, Any] = {}
    results: dict[str, OpResult] = {}
    producers: dict[str, Step] = {}
    order: list[str] = []
    placeholders = 0
    for step in traced.steps:
        order.append(step.name)
        producers[step.name] = step
        if step.op == "placeholder":
            if placeholders == 0:
                values[step.name] = TMeta(tuple(input_shape))
                results[step.name] = OpResult(values[step.name], "input", "input", "input", 0,
                                              f"input tensor N×C×H×W = "
                                              f"{fmt_shape(input_shape, True)}" if explain else "",
                                              rf=RFStep("identity"))
            else:  # extra forward() arguments keep their defaults
                values[step.name] = None
            placeholders += 1
            continue
        if step.op == "get_attr":
            obj = traced.model
            for part in str(step.target).split("."):
                obj = getattr(obj, part)
            values[step.name] = _meta_of(obj)
            continue
        args = map_aggregate(step.args, lambda a: values[a.name] if isinstance(a, fx.Node) else a)
        kwargs = map_aggregate(step.kwargs,
                               lambda a: values[a.name] if isinstance(a, fx.Node) else a)
        if step.op == "output":
            values[step.name] = args[0]
            continue
        if step.op == "call_function" and _python_value_op(step.target, args):
            values[step.name] = step.target(*args, **kwargs)
            continue
        if step.op == "call_function" and step.target is getattr and \
                isinstance(args[0], TMeta):
            values[step.name] = _tensor_attr(args[0], args[1])
            continue
        if step.op == "call_method" and step.target in ("size", "dim") and \
                isinstance(args[0], TMeta):
            x = args[0]
            if step.target == "dim":
                values[step.name] = len(x.shape)
            else:
                d = args[1] if len(args) > 1 else kwargs.get("dim")
                values[step.name] = torch.Size(x.shape) if d is None else x.shape[d]
            continue
        kind = {"call_module": "module", "call_function": "function",
                "call_method": "method"}[step.op]
        target = step.module if step.op == "call_module" else step.target
        sources = _arg_sources(step, producers, results) if explain else ()
        call = Call(kind, target, tuple(args), dict(kwargs), step.module_path, explain, sources)
        try:
            rule = R.find_rule(call)
            res = None
            if rule is not None:
                try:
                    res = rule(call)
                except NoRule:
                    res = None
            if res is None:
                res = _execute_meta(step, args, kwargs, explain)
                res = replace(res, op=res.op) if res else res
                src = "meta"
            else:
                src = "rule"
        except ShapeError as err:
            return Propagated(values, results, (step.name, err), order)
        values[step.name] = res.value
        res.attrs = res.attrs + (("source", src),) if explain else res.attrs
        results[step.name] = res
    return Propagated(values, results, None, order)


def _python_value_op(target: Any, args: Any) -> bool:
    """operator.getitem on sizes/tuples, arithmetic on ints: plain Python."""
    import operator as op
    if target is op.getitem:
        return not isinstance(args[0], TMeta)
    if target in (op.mul, op.floordiv, op.truediv, op.sub, op.add) and \
            all(isinstance(a, (int, float)) for a in args):
        return True
    return False


def _tensor_attr(x: TMeta, name: str) -> Any:
    if name == "shape":
        return torch.Size(x.shape)
    if name == "dtype":
        return x.dtype
    if name == "ndim":
        return len(x.shape)
    if name == "device":
        return torch.device("meta")
    return getattr(torch.empty(x.shape, dtype=x.dtype, device="meta"), name)


def _arg_sources(step: Step, producers: dict[str, Step], results: dict[str, OpResult]
                 ) -> tuple[str, ...]:
    """For each input: "input" (the network input), "proj:<text>" (a 1×1 conv, possibly
    followed by BN, on a tensor that also feeds another input: a projection shortcut), or
    ""."""
    out = []
    ancestor_sets = [_ancestors(n, producers, 40) for n in step.inputs]
    for i, name in enumerate(step.inputs):
        p = producers.get(name)
        if p is None:
            out.append("")
            continue
        if p.op == "placeholder":
            out.append("input")
            continue
        tag = ""
        cur = p
        for _ in range(3):
            r = results.get(cur.name)
            if r is None:
                break
            if r.op == "conv2d" and dict(r.attrs).get("kernel") == (1, 1):
                feed = cur.inputs[0] if cur.inputs else None
                others = set().union(*(a for j, a in enumerate(ancestor_sets) if j != i)) \
                    if len(ancestor_sets) > 1 else set()
                if feed and feed in others:
                    a = dict(r.attrs)
                    s = a.get("stride", (1, 1))
                    tag = (f"proj:the 1×1 convolution '{cur.module_path}' ({a.get('in')}→"
                           f"{a.get('out')} channels" + (f", stride {s[0]}" if s != (1, 1) else "")
                           + ")")
                break
            if r.kind not in ("bn", "other") or not cur.inputs:
                break
            cur = producers.get(cur.inputs[0])
            if cur is None:
                break
        out.append(tag)
    return tuple(out)


def _ancestors(name: str, producers: dict[str, Step], limit: int) -> set[str]:
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


# ----------------------------------------------------------------------------- receptive field
def _rf_apply(step: RFStep | None, ins: list[ReceptiveField | None]) -> ReceptiveField | None:
    if step is None:
        return None
    ins = [r for r in ins if r is not None]
    if not ins or step.kind == "flat":
        return None
    if step.kind == "identity":
        return ins[0]
    if step.kind == "merge":
        return max(ins, key=lambda r: (r.size[0] * r.size[1], r.jump))
    r = ins[0]
    size = tuple(r.size[a] + (step.k[a] - 1) * r.jump[a] for a in (0, 1))
    jump = tuple(r.jump[a] * step.s[a] for a in (0, 1))
    start = tuple(r.start[a] + ((step.k[a] - 1) / 2 - step.p[a]) * r.jump[a] for a in (0, 1))
    return ReceptiveField(size, jump, start)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- analysis
def analyze(model: nn.Module, input_shape: tuple[int, int, int] | tuple[int, ...] = (3, 224, 224),
            batch: int = 1, *, name: str | None = None, search_min_input: bool = True) -> Analysis:
    """Analyse ``model`` for an input of ``batch × input_shape`` (C, H, W).

    Works on CPU or meta models, never runs real arithmetic, never modifies ``model``."""
    t0 = time.perf_counter()
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 4:
        batch, shape = shape[0], shape[1:]
    full = (int(batch),) + shape
    if any(s <= 0 for s in full):
        raise ValueError(f"input shape must be positive, got {full}")
    model_name = name or type(model).__name__
    notes: list[str] = []
    try:
        traced = trace(model)
    except Exception as exc:  # data-dependent control flow, unsupported Python …
        from .hooks import capture
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        traced = capture(model, full)
        notes.append(f"torch.fx could not trace this model ({first}); the graph was captured "
                     f"with forward hooks on its modules instead, so functional operations "
                     f"between modules (additions, concatenations) are not shown as nodes.")
    t1 = time.perf_counter()
    prop = propagate(traced, full, explain=True)
    t2 = time.perf_counter()
    analysis = _records(traced, prop, full, model_name, notes)
    t3 = time.perf_counter()
    if analysis.failure is not None and search_min_input:
        err = prop.failure[1] if prop.failure else None
        if err is not None and err.spatial:
            m = min_input_size(traced, full)
            if m is not None:
                f = analysis.failure
                fix = (f"{f.fix}. The smallest square input this network accepts is "
                       f"{m[0]}×{m[1]}")
                analysis = replace(analysis, failure=replace(f, min_input=m, fix=fix))
    t4 = time.perf_counter()
    timings = (("trace", t1 - t0), ("propagate", t2 - t1), ("records", t3 - t2),
               ("min_input", t4 - t3))
    return replace(analysis, timings=timings, method=traced.method,
                   notes=tuple(notes) + traced.notes)


def min_input_size(traced: Traced, full: Shape, limit: int = 8192) -> tuple[int, int] | None:
    """Smallest square H = W for which no op fails for lack of spatial size (a Linear whose
    in_features would then differ does not count: the zoo derives it from the input)."""
    def ok(side: int) -> bool:
        p = propagate(traced, (full[0], full[1], side, side), explain=False)
        return p.failure is None or not p.failure[1].spatial

    hi = 16
    while not ok(hi):
        hi *= 2
        if hi > limit:
            return None
    lo = 1
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return (lo, lo)


def _records(traced: Traced, prop: Propagated, full: Shape, model_name: str,
             notes: list[str]) -> Analysis:
    model = traced.model
    steps = {s.name: s for s in traced.steps}
    failed = prop.failure[0] if prop.failure else None
    # tensor-producing nodes, in execution order
    nodes: list[Node] = []
    rfs: dict[str, ReceptiveField | None] = {}
    counted: set[int] = set()
    tensor_names: set[str] = set()
    output_shape: Shape | None = None
    for name in prop.order:
        st = steps[name]
        if st.op == "output":
            outv = prop.values.get(name)
            first = outv[0] if isinstance(outv, (tuple, list)) and outv else outv
            if isinstance(first, TMeta):
                output_shape = first.shape
                ins = [n for n in st.inputs if n in tensor_names]
                nodes.append(Node("output", "output", "output", "output", "", "output",
                                  tuple(ins), (first.shape,), first.shape, 0, 0,
                                  rfs.get(ins[0]) if ins else None,
                                  f"network output {fmt_shape(first.shape, True)}"))
            continue
        if name == failed:
            err = prop.failure[1]
            ins = tuple(n for n in st.inputs if n in tensor_names)
            in_shapes = tuple(prop.values[n].shape for n in ins)
            nodes.append(Node(name, _op_name(st).lower(), _kind_for_step(st), _op_name(st),
                              st.module_path, _op_name(st), ins, in_shapes, None,
                              _params_once(st, counted), 0, None,
                              f"✗ {err.message}", "", "failed"))
            break
        res = prop.results.get(name)
        if res is None or not isinstance(res.value, TMeta):
            continue
        ins = tuple(n for n in st.inputs if n in tensor_names)
        in_shapes = tuple(prop.values[n].shape for n in ins)
        rf = _rf_apply(res.rf, [rfs.get(n) for n in ins]) if st.op != "placeholder" else \
            ReceptiveField((1, 1), (1, 1), (0.0, 0.0))
        if rf is not None and len(res.value.shape) != 4:
            rf = None
        rfs[name] = rf
        tensor_names.add(name)
        attrs = dict(res.attrs)
        source = attrs.pop("source", "rule")
        mtype = type(st.module).__name__ if st.module is not None else res.op
        nodes.append(Node(name, res.op, res.kind if st.op != "placeholder" else "input",
                          res.label or res.op, st.module_path if st.op != "placeholder" else "",
                          mtype, ins, in_shapes, res.value.shape, _params_once(st, counted),
                          res.macs, rf, res.explanation, res.param_explanation, source,
                          tuple(attrs.items())))
    blocks = _blocks(model, nodes, model_name)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(b.numel() for b in model.buffers())
    failure = None
    if prop.failure:
        name, err = prop.failure
        st = steps[name]
        ins = tuple(n for n in st.inputs if n in tensor_names)
        failure = Failure(name, st.module_path, _op_name(st),
                          tuple(prop.values[n].shape for n in ins), err.message, err.fix)
        output_shape = None
    return Analysis(model_name, full, tuple(nodes), blocks, total, trainable, buffers,
                    sum(n.macs for n in nodes), output_shape, traced.method, tuple(notes),
                    failure)


def _kind_for_step(st: Step) -> str:
    if st.module is not None:
        for t, kind in ((nn.Conv2d, "conv"), (nn.Linear, "linear"), (nn.BatchNorm2d, "bn"),
                        (nn.BatchNorm1d, "bn"), (nn.MaxPool2d, "pool"), (nn.AvgPool2d, "pool")):
            if isinstance(st.module, t):
                return kind
    return _kind_from_name(_op_name(st))


def _params_once(st: Step, counted: set[int]) -> int:
    if st.module is None or id(st.module) in counted:
        return 0
    counted.add(id(st.module))
    return sum(p.numel() for p in st.module.parameters())


def _blocks(model: nn.Module, nodes: list[Node], model_name: str) -> tuple[Block, ...]:
    modules = dict(model.named_modules())
    members: dict[str, list[int]] = {"": []}
    for i, n in enumerate(nodes):
        if n.kind in ("input", "output"):
            continue
        path = n.module_path
        while True:
            members.setdefault(path, []).append(i)
            if not path:
                break
            path = path.rpartition(".")[0]
    node_index = {n.id: i for i, n in enumerate(nodes)}
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for src in n.inputs:
            consumers.setdefault(src, []).append(i)

    def parent(path: str) -> str:
        return path.rpartition(".")[0]

    children: dict[str, list[str]] = {}
    for path in members:
        if path:
            children.setdefault(parent(path), []).append(path)
    for ch in children.values():
        ch.sort(key=lambda p: members[p][0])

    out: list[Block] = []

    def make(path: str) -> None:
        idx = members[path]
        inside = set(idx)
        ids = tuple(nodes[i].id for i in idx)
        idset = set(ids)
        ins: list[str] = []
        for i in idx:
            for src in nodes[i].inputs:
                if src not in idset and src not in ins:
                    ins.append(src)
        outs = [nodes[i].id for i in idx
                if any(c not in inside for c in consumers.get(nodes[i].id, ()))]
        if not outs and idx:
            outs = [nodes[idx[-1]].id]
        last = nodes[node_index[outs[-1]]] if outs else None
        mod = modules.get(path, model)
        params = sum(p.numel() for p in mod.parameters()) if mod is not None else 0
        macs = sum(nodes[i].macs for i in idx)
        in_shapes = tuple(nodes[node_index[s]].output_shape for s in ins
                          if nodes[node_index[s]].output_shape is not None)
        btype = type(mod).__name__
        depth = 0 if not path else path.count(".") + 1
        name = path.rpartition(".")[2] if path else model_name
        block_nodes = [nodes[i] for i in idx]
        expl = _block_story(btype, block_nodes, in_shapes, last.output_shape if last else None,
                            params)
        key = _repeat_key(path, btype, block_nodes, in_shapes)
        out.append(Block(path, name, btype, depth, tuple(children.get(path, ())), ids,
                         tuple(ins), tuple(outs), in_shapes,
                         last.output_shape if last else None, params, macs,
                         last.rf if last else None, expl, key))
        for c in children.get(path, ()):
            make(c)

    make("")
    return tuple(out)


def _repeat_key(path: str, btype: str, nodes: list[Node], in_shapes: tuple) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(btype.encode())
    h.update(repr(in_shapes).encode())
    cut = len(path) + 1 if path else 0
    for n in nodes:
        h.update(repr((n.module_path[cut:], n.op, n.attrs, n.input_shapes, n.output_shape,
                       n.params)).encode())
    return h.hexdigest()


def _block_story(btype: str, nodes: list[Node], in_shapes: tuple, out_shape: Shape | None,
                 params: int) -> str:
    """Block-level worked arithmetic: what the block does to channels and size, with the
    pattern-specific sums (dense growth, inception concat, bottleneck expansion, transition)."""
    if not nodes:
        return ""
    leaf = len(nodes) == 1
    if leaf:
        n = nodes[0]
        return n.explanation + (f"\nParameters: {n.param_explanation}" if n.param_explanation
                                and n.param_explanation != "no parameters" else "")
    lines: list[str] = []
    x = in_shapes[0] if in_shapes else None
    if x is not None and out_shape is not None:
        lines.append(f"{btype}: {fmt_shape(x)} → {fmt_shape(out_shape)}")
        if len(x) == 4 and len(out_shape) == 4:
            bits = []
            if x[1] != out_shape[1]:
                bits.append(f"channels {x[1]} → {out_shape[1]}")
            if x[2:] != out_shape[2:]:
                if out_shape[2] and x[2] % out_shape[2] == 0 and x[2] != out_shape[2]:
                    bits.append(f"H×W {x[2]}×{x[3]} → {out_shape[2]}×{out_shape[3]} "
                                f"(÷{x[2] // out_shape[2]})")
                else:
                    bits.append(f"H×W {x[2]}×{x[3]} → {out_shape[2]}×{out_shape[3]}")
            if bits:
                lines[-1] += " (" + ", ".join(bits) + ")"
    cats = [n for n in nodes if n.op == "cat"]
    adds = [n for n in nodes if n.op == "add"]
    convs = [n for n in nodes if n.op == "conv2d"]
    # dense block: a chain of concatenations, each adding k channels to the running input
    last_parts = dict(cats[-1].attrs).get("parts", ()) if cats else ()
    dense = None
    if len(cats) >= 2 and len(last_parts) > 2:  # torchvision style: cat(all features so far)
        dense = (last_parts[0], list(last_parts[1:]))
    elif len(cats) >= 2 and all(len(dict(c.attrs).get("parts", ())) == 2 for c in cats):
        dense = (dict(cats[0].attrs)["parts"][0],  # seed style: X = cat((X, Y)) per layer
                 [dict(c.attrs)["parts"][1] for c in cats])
    if dense is not None:
        c0, ks = dense
        total = c0 + sum(ks)
        if len(set(ks)) == 1:
            lines.append(f"dense connections: every layer adds k = {ks[0]} channels to all "
                         f"earlier ones: c₀ + L·k = {c0} + {len(ks)}·{ks[0]} = {total} channels")
        else:
            lines.append("dense connections: " + f"{c0} + " + " + ".join(map(str, ks)) +
                         f" = {total} channels")
    elif len(cats) == 1:
        parts = dict(cats[0].attrs).get("parts", ())
        lines.append(f"{len(parts)} parallel branches concatenated: " +
                     " + ".join(map(str, parts)) + f" = {sum(parts)} channels")
    if adds:
        a = adds[-1]
        if "shortcut goes through" in a.explanation:
            lines.append("residual: output = F(x) + shortcut(x); " +
                         a.explanation.split("; ", 1)[1])
        elif "identity" in a.explanation:
            lines.append("residual: output = F(x) + x (identity shortcut: shapes already match)")
    main = [c for c in convs if "shortcut" not in c.module_path and "downsample" not in
            c.module_path and "conv3" != c.module_path.rpartition(".")[2] or len(convs) == 3]
    ks = [dict(c.attrs).get("kernel") for c in convs]
    if adds and len(convs) >= 3 and ks[0] == (1, 1) and ks[1] != (1, 1) and ks[2] == (1, 1):
        a0, a2 = dict(convs[0].attrs), dict(convs[2].attrs)
        w, e = a0["out"], a2["out"]
        if w and e % w == 0 and e != w:
            lines.append(f"bottleneck: 1×1 reduces {a0['in']} → {w} channels, the "
                         f"{ks[1][0]}×{ks[1][1]} conv works at {w}, 1×1 expands ×{e // w} to "
                         f"{w}·{e // w} = {e}")
    del main
    pools = [n for n in nodes if n.op == "avg_pool2d"]
    if not adds and not cats and len(convs) == 1 and ks[0] == (1, 1) and pools:
        a0 = dict(convs[0].attrs)
        ratio = a0["out"] / a0["in"] if a0["in"] else 0
        ps = pools[-1]
        lines.append(f"transition: the 1×1 conv compresses {a0['in']} → {a0['out']} channels "
                     f"(×{ratio:g}), the average pool halves H×W "
                     f"{fmt_shape(ps.input_shapes[0])[len(str(ps.input_shapes[0][1])) + 1:]} → "
                     f"{ps.output_shape[2]}×{ps.output_shape[3]}")
    if convs and not cats and not adds and out_shape is not None and x is not None:
        strided = [c for c in convs if dict(c.attrs).get("stride", (1, 1)) != (1, 1)]
        if strided and len(lines) == 1:
            lines.append(f"{len(strided)} strided convolution(s) shrink H×W")
    lines.append(f"parameters: {params:,}; MACs: {sum(n.macs for n in nodes):,}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- specs
def build_for_analysis(spec: Any) -> tuple[nn.Module, list[str]]:
    """Build a zoo spec's model on the meta device (no memory for weights); builders that do
    tensor arithmetic at construction fall back to CPU (and say so)."""
    from vizapp.zoo import build_model

    notes: list[str] = []
    try:
        with torch.device("meta"):
            model = build_model(spec)
    except Exception as exc:
        from vizapp.zoo import ConfigError
        if isinstance(exc, ConfigError):
            raise
        model = build_model(spec)
        notes.append(f"built on CPU with real weights: the builder cannot run on the meta "
                     f"device ({type(exc).__name__})")
    return model, notes


def analyze_spec(spec: Any) -> Analysis:
    """Analyse a :class:`vizapp.zoo.ModelSpec` (builds its model on meta)."""
    model, notes = build_for_analysis(spec)
    a = analyze(model, spec.input_shape, spec.batch, name=spec.label)
    return replace(a, notes=a.notes + tuple(notes)) if notes else a


def verify_with_meta(model: nn.Module, analysis: Analysis) -> list[str]:
    """Cross-check: run fx ``ShapeProp`` on meta tensors and list every node whose rule-computed
    shape differs (empty list = all agree)."""
    from torch.fx.passes.shape_prop import ShapeProp

    with eval_mode(model):
        src = model if _is_meta(model) else copy.deepcopy(model).to_empty(device="meta")
        meta_gm = fx.GraphModule(src, VizTracer().trace(src))
        x = torch.empty(analysis.input_shape, device="meta")
        ShapeProp(meta_gm).propagate(x)
    by_name = {n.name: n for n in meta_gm.graph.nodes}
    problems = []
    for node in analysis.nodes:
        if node.kind in ("input", "output") or node.output_shape is None:
            continue
        tm = by_name[node.id].meta.get("tensor_meta")
        if tm is None or not hasattr(tm, "shape"):
            continue
        if tuple(tm.shape) != tuple(node.output_shape):
            problems.append(f"{node.id}: rule {node.output_shape} vs meta {tuple(tm.shape)}")
    return problems


def _is_meta(m: nn.Module) -> bool:
    p = next(iter(m.parameters()), None)
    return p is None or p.is_meta

