"""Fallback capture for models torch.fx cannot trace: forward hooks on the leaf modules while
the model runs on meta tensors. Produces the same :class:`~vizapp.analysis.trace.Traced` steps
(one per leaf-module call, wired by tensor identity), so the rules, records and graph work
unchanged; operations between modules (``+``, ``torch.cat``) are not seen."""

from __future__ import annotations

import torch
from torch import fx, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from vizapp.meta_forward import meta_state

from .trace import Step, Traced, eval_mode


class Unseen:
    """Stands for the functional operations between two module calls that hooks cannot see;
    it reproduces the tensor shape that was observed. ``macs``: what those operations
    multiplied and added (``q @ k.transpose(-2, -1)`` between two Linears), counted while the
    model ran."""

    __name__ = "functional ops (not traced)"

    def __init__(self, shape: tuple[int, ...], dtype: torch.dtype):
        self.shape, self.dtype = shape, dtype
        self.macs = 0

    def __call__(self, *args: object) -> torch.Tensor:
        return torch.empty(self.shape, dtype=self.dtype, device="meta")


class FlopTotal(TorchDispatchMode):
    """``torch.utils.flop_counter``'s formulas as a running total. Its ``FlopCounterMode`` also
    tracks modules with process-wide module hooks, which other threads (other sessions'
    trainings) would run into; this dispatch mode is the calling thread's alone."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def _first_tensor(v: object) -> torch.Tensor | None:
    """The first tensor of a forward's result (a tensor, tuples, named tuples, dict values)."""
    if isinstance(v, torch.Tensor):
        return v
    items = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else ()
    for x in items:
        t = _first_tensor(x)
        if t is not None:
            return t
    return None


def capture(model: nn.Module, full_shape: tuple[int, ...]) -> Traced:
    """Run ``model`` once on a meta input of ``full_shape`` with hooks on every leaf module.

    Longer than most functions here on purpose: the hook closure, the stand-in steps for
    unseen functional ops and the two attempts (meta tensors, then real zeros for
    data-dependent Python) all build the same graph and step list."""
    names = {m: n for n, m in model.named_modules()}
    producers: dict[int, str] = {}
    steps: list[Step] = []
    graph = fx.Graph()
    x_node = graph.placeholder("x")
    nodes_by_name = {"x": x_node}
    steps.append(Step("x", "placeholder", "x", (), {}, None, "", ()))
    failure: list[BaseException] = []
    keep: list[torch.Tensor] = []
    handles = []
    # FLOPs of the functional ops between module calls: counted while the model runs and
    # given to the next stand-in step (the one that reproduces their result)
    flops = FlopTotal()
    state = {"mark": 0, "pending": 0, "inside": 0, "last": None}

    def pre_hook(mod: nn.Module, args: tuple) -> None:
        if not state["inside"]:
            state["pending"] += flops.total - state["mark"]
        state["inside"] += 1

    def hook(mod: nn.Module, args: tuple, out: object) -> None:
        state["inside"] -= 1
        state["mark"] = flops.total
        path = names.get(mod, type(mod).__name__)
        base = path.replace(".", "_") or "module"
        name = base
        k = 1
        while name in nodes_by_name:
            k += 1
            name = f"{base}_{k}"
        arg_nodes = []
        inputs = []
        for a in args:
            if isinstance(a, torch.Tensor) and id(a) in producers:
                ref = nodes_by_name[producers[id(a)]]
                arg_nodes.append(ref)
                inputs.append(ref.name)
            elif isinstance(a, torch.Tensor):  # made by functions between modules: a stand-in
                src = nodes_by_name[steps[-1].name]  # step that reproduces the seen shape
                between = f"{name}_input"
                unseen = Unseen(tuple(a.shape), a.dtype)
                unseen.macs, state["pending"] = state["pending"] // 2, 0
                state["last"] = unseen
                ref = graph.call_function(unseen, (src,))
                ref.name = between
                nodes_by_name[between] = ref
                steps.append(Step(between, "call_function", ref.target, (src,), {}, None,
                                  names.get(mod, ""), (src.name,)))
                arg_nodes.append(ref)
                inputs.append(between)
            else:
                arg_nodes.append(a)
        node = graph.call_module(path, tuple(arg_nodes))
        node.name = name
        nodes_by_name[name] = node
        steps.append(Step(name, "call_module", path, tuple(arg_nodes), {}, mod, path,
                          tuple(dict.fromkeys(inputs))))
        if isinstance(out, torch.Tensor):
            producers[id(out)] = name
            keep.append(out)  # keep it alive so its id() is not reused by a later tensor

    for mod in model.modules():
        if not list(mod.children()):
            handles.append(mod.register_forward_pre_hook(pre_hook))
            handles.append(mod.register_forward_hook(hook))
    def run(real: bool) -> object:
        """One forward pass: on meta tensors, or (for data-dependent Python that needs real
        values, e.g. ``if y.sum() > 0``) on zeros with the model's own weights."""
        producers.clear()
        del steps[1:]
        for k in list(nodes_by_name):
            if k != "x":
                del nodes_by_name[k]
        if real:
            p = next(iter(model.parameters()), None)
            x = torch.zeros(full_shape, device=p.device if p is not None else "cpu")
        else:
            x = torch.empty(full_shape, device="meta")
        producers[id(x)] = "x"
        flops.total = 0
        state.update(mark=0, pending=0, inside=0, last=None)
        with eval_mode(model), torch.no_grad(), flops:
            if real:
                return model(x)
            return torch.func.functional_call(model, meta_state(model), (x,))

    out = None
    try:
        try:
            out = run(real=False)
        except Exception:
            is_meta = any(p.is_meta for p in model.parameters())
            if is_meta:
                raise
            out = run(real=True)
    except Exception as exc:  # the failing module is reported by the rules on replay
        failure.append(exc)
    finally:
        for h in handles:
            h.remove()
    last = steps[-1].name
    y = _first_tensor(out)
    state["pending"] += flops.total - state["mark"]
    if y is not None and id(y) in producers:
        last = producers[id(y)]
    elif y is not None and not failure:  # made by functions after the last module: a stand-in
        src = nodes_by_name[last]
        unseen = state["last"] = Unseen(tuple(y.shape), y.dtype)
        ref = graph.call_function(unseen, (src,))
        ref.name = last = "after_last_module"
        nodes_by_name[last] = ref
        steps.append(Step(last, "call_function", ref.target, (src,), {}, None, "", (src.name,)))
    if state["last"] is not None:  # functional ops whose result no later module read
        state["last"].macs += state["pending"] // 2
    out_node = graph.output(nodes_by_name[last])
    steps.append(Step("output", "output", "output", (nodes_by_name[last],), {}, None, "",
                      (last,)))
    del out_node
    notes = ()
    if failure:
        notes = (f"the forward pass stopped with: {str(failure[0]).splitlines()[0]}",)
    return Traced(steps, model, method="hooks", notes=notes)
