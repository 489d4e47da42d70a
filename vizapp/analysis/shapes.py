"""Step 2 of the pipeline: shapes, MACs and worked arithmetic for every step.

:class:`ShapePass` is shaped like ``torch.fx.passes.shape_prop.ShapeProp``: :meth:`run`
walks the steps in order, :meth:`run_step` computes one step's value with the arithmetic
rules of :mod:`.rules` (which also write the explanation and count MACs) and stores its
:class:`~.rules.OpResult`; ops without a rule run on meta tensors, so nothing allocates real
activations and the cost does not depend on the input resolution. A step whose op cannot run
on its inputs stops the pass, the step named (:attr:`Propagated.failure`).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx
from torch.fx.node import map_aggregate
from torch.utils.flop_counter import FlopCounterMode

from vizapp import i18n
from vizapp.fmt import shape_text
from vizapp.meta_forward import meta_state

from . import rules
from .records import Shape
from .rules import Call, NoRule, OpResult, RFStep, ShapeError, TMeta
from .hooks import Unseen
from .shortcuts import find_shortcut
from .trace import Step, Traced


@dataclass
class Propagated:
    values: dict[str, Any]
    results: dict[str, OpResult]
    failure: tuple[str, ShapeError] | None
    order: list[str]  # step names that ran (the failing one included)
    sources: dict[str, str] = field(default_factory=dict)  # step → "rule" | "meta"
    # ``out, idx = pool(x)``: the getitem steps that pick a tensor out of an op's tuple → that op
    aliases: dict[str, str] = field(default_factory=dict)

    def tensor_of(self, name: str) -> TMeta | None:
        """The (first) tensor a step produced, following aliases."""
        return first_tensor(self.values.get(self.aliases.get(name, name)))


def first_tensor(v: Any) -> TMeta | None:
    """A TMeta, or the first TMeta of a tuple output (``MultiheadAttention``, ``LSTM``)."""
    if isinstance(v, TMeta):
        return v
    if isinstance(v, (tuple, list)) and v and isinstance(v[0], TMeta):
        return v[0]
    return None


def deep_first_tensor(v: Any) -> TMeta | None:
    """The first TMeta anywhere in a nested output (tuples, lists, named tuples, dict values
    in order): what a network returning ``{"logits": y, ...}`` or ``(y, aux)`` outputs."""
    if isinstance(v, TMeta):
        return v
    items = v.values() if isinstance(v, dict) else v \
        if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size) else ()
    for x in items:
        t = deep_first_tensor(x)
        if t is not None:
            return t
    return None


def to_tmeta(v: Any) -> Any:
    """Tensor → TMeta; containers (named tuples and dicts too) recursively; other values
    unchanged."""
    if isinstance(v, torch.Tensor):
        return TMeta(tuple(v.shape), v.dtype)
    if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        items = [to_tmeta(x) for x in v]
        return type(v)(*items) if hasattr(v, "_fields") else type(v)(items)
    if isinstance(v, dict):
        return {k: to_tmeta(x) for k, x in v.items()}
    return v


def to_meta_tensor(v: Any) -> Any:
    """TMeta → an empty meta tensor; containers recursively."""
    if isinstance(v, TMeta):
        return torch.empty(v.shape, dtype=v.dtype, device="meta")
    if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        items = [to_meta_tensor(x) for x in v]
        return type(v)(*items) if hasattr(v, "_fields") else type(v)(items)
    if isinstance(v, dict):
        return {k: to_meta_tensor(x) for k, x in v.items()}
    return v


_CATEGORY_WORDS = (("conv", "conv"), ("batchnorm", "bn"), ("batch_norm", "bn"), ("norm", "norm"),
                   ("pool", "pool"), ("linear", "linear"), ("relu", "act"), ("sigmoid", "act"),
                   ("tanh", "act"), ("gelu", "act"), ("silu", "act"), ("swish", "act"),
                   ("softmax", "act"), ("dropout", "dropout"), ("cat", "concat"),
                   ("concat", "concat"), ("add", "add"), ("view", "reshape"),
                   ("reshape", "reshape"), ("flatten", "reshape"), ("permute", "reshape"),
                   ("transpose", "reshape"))


def category_from_name(name: str) -> str:
    low = name.lower()
    for word, category in _CATEGORY_WORDS:
        if word in low:
            return category
    return "other"


def op_name(step: Step) -> str:
    if step.op == "call_module":
        return type(step.module).__name__
    if step.op == "call_method":
        return str(step.target)
    return getattr(step.target, "__name__", str(step.target)).lstrip("_")


def _kind_of(error: str, small: bool) -> str:
    """Which bug PyTorch's own message describes (an op vizapp has no rule for)."""
    e = error.lower()
    if small:
        return "too_small"
    if "channels" in e:
        return "channels"
    if "mat1 and mat2" in e:
        return "linear_features"
    if "invalid for input of size" in e or "view size" in e:
        return "reshape"
    if "sizes of tensors must match" in e or "must match the size of tensor" in e:
        return "join"
    return "other"


def execute_meta(step: Step, args: Any, kwargs: Any, explain: bool) -> OpResult:
    """Fallback: run the op on meta tensors (no arithmetic, no memory); MACs from
    ``FlopCounterMode``."""
    margs, mkwargs = to_meta_tensor(args), to_meta_tensor(kwargs)
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            if step.op == "call_module":
                out = torch.func.functional_call(step.module, meta_state(step.module),
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
        shapes = [shape_text(a.shape, True) for a in args if isinstance(a, TMeta)]
        small = any(w in msg.lower() for w in ("too small", "output size", "kernel size can't"))
        raise ShapeError(i18n.msg("{op} failed on input {shapes}: {error}", op=op_name(step),
                                  shapes=", ".join(shapes) or "—", error=msg),
                         i18n.msg("check the shapes entering this layer"),
                         spatial=small, kind=_kind_of(msg, small)) from None
    value = to_tmeta(out)
    name = op_name(step)
    if first_tensor(value) is None:
        return OpResult(value, name, "other", name)
    ins = [a for a in args if isinstance(a, TMeta)]
    text = ""
    if explain:
        src = ", ".join(shape_text(a.shape, True) for a in ins) or "—"
        text = (f"{name}: {src} → {shape_text(first_tensor(value).shape, True)} (shape computed "
                f"by running the "
                f"op on a meta tensor; vizapp has no arithmetic rule for it)")
    rf = None
    out_shape = first_tensor(value).shape
    if ins and len(out_shape) == 4 and len(ins[0].shape) == 4 and out_shape[2:] == ins[0].shape[2:]:
        rf = RFStep("identity")
    macs = counter.get_total_flops() // 2
    if isinstance(step.target, Unseen) and step.target.macs:  # hooks: ops between modules
        macs += step.target.macs
        if explain:
            text += i18n.msg("; MACs of these operations = {macs} (counted while the model ran)",
                             macs=f"{step.target.macs:,}")
    res = OpResult(value, name, category_from_name(name), name, macs, text, "", (), rf)
    if getattr(step.module, "unknown_note", ""):  # a model file's op without a rule
        res.macs_note = step.module.unknown_note
    elif macs == 0 and step.module is not None and \
            any(p.dim() >= 2 for p in step.module.parameters()):
        res.macs_note = (f"MACs not counted for {name}: vizapp has no rule for it and the "
                         f"meta run counted none")
    return res


def _python_value_op(target: Any, args: Any) -> bool:
    """operator.getitem on sizes/tuples, arithmetic on ints: plain Python."""
    if target is operator.getitem:
        return not isinstance(args[0], TMeta)
    return target in (operator.mul, operator.floordiv, operator.truediv, operator.sub,
                      operator.add) and all(isinstance(a, (int, float)) for a in args)


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


_CALL_TYPES = {"call_module": "module", "call_function": "function", "call_method": "method"}


class ShapePass:
    """Propagate shapes through ``traced`` for one input shape (see the module docstring)."""

    def __init__(self, traced: Traced, explain: bool = True):
        self.traced = traced
        self.explain = explain

    def run(self, input_shape: Shape) -> Propagated:
        self.input_shape = tuple(input_shape)
        self.values: dict[str, Any] = {}
        self.results: dict[str, OpResult] = {}
        self.sources: dict[str, str] = {}
        self.producers: dict[str, Step] = {}
        self.aliases: dict[str, str] = {}
        self.placeholders = 0
        order: list[str] = []
        for step in self.traced.steps:
            order.append(step.name)
            self.producers[step.name] = step
            try:
                self.values[step.name] = self.run_step(step)
            except ShapeError as err:
                return Propagated(self.values, self.results, (step.name, err), order,
                                  self.sources, self.aliases)
        return Propagated(self.values, self.results, None, order, self.sources, self.aliases)

    def _resolve(self, a: Any) -> Any:
        return map_aggregate(a, lambda v: self.values[v.name] if isinstance(v, fx.Node) else v)

    def run_step(self, step: Step) -> Any:
        """The value of one step (a TMeta for tensors); records its OpResult when it is an op."""
        if step.op == "placeholder":
            return self._placeholder(step)
        if step.op == "get_attr":
            obj = self.traced.model
            for part in str(step.target).split("."):
                obj = getattr(obj, part)
            return to_tmeta(obj)
        args, kwargs = self._resolve(step.args), self._resolve(step.kwargs)
        if step.op == "output":
            return args[0]
        if step.target is torch._assert and len(args) > 1 and isinstance(args[1], str):
            args = (args[0], self._proxy_values(args[1])) + tuple(args[2:])
        plain = self._plain_python(step, args, kwargs)
        if plain is not NotImplemented:
            return plain
        res, source = self._op_result(step, args, kwargs)
        self.results[step.name] = res
        self.sources[step.name] = source
        return res.value

    def _proxy_values(self, text: str) -> str:
        """An assert's message was formatted while fx traced (``Input height
        (Proxy(getitem_2)) doesn't match model (240)``): each proxy becomes its value."""
        def value(m: re.Match) -> str:
            v = self.values.get(m.group(1), m.group(0))
            return shape_text(v.shape) if isinstance(v, TMeta) else str(v)
        return re.sub(r"Proxy\((\w+)\)", value, text)

    def _placeholder(self, step: Step) -> Any:
        self.placeholders += 1
        if self.placeholders > 1:  # extra forward() arguments keep their defaults (fx puts a
            # default in the placeholder's args: timm's ``is_causal=False`` must stay False)
            return to_tmeta(step.args[0]) if step.args else None
        value = TMeta(self.input_shape)
        text = f"input tensor N×C×H×W = {shape_text(self.input_shape, True)}" \
            if self.explain else ""
        self.results[step.name] = OpResult(value, "input", "input", "input", 0, text,
                                           rf=RFStep("identity"))
        return value

    def _plain_python(self, step: Step, args: Any, kwargs: Any) -> Any:
        """Values that are not tensor ops (sizes, getattr on tensors, int arithmetic)."""
        if step.op == "call_function" and _python_value_op(step.target, args):
            value = step.target(*args, **kwargs)
            src = step.inputs[0] if step.inputs else None
            if isinstance(value, TMeta) and src is not None and \
                    self.aliases.get(src, src) in self.results:
                self.aliases[step.name] = self.aliases.get(src, src)
            return value
        if step.op == "call_function" and step.target is getattr and isinstance(args[0], TMeta):
            return _tensor_attr(args[0], args[1])
        if step.op == "call_method" and step.target in ("size", "dim") and \
                isinstance(args[0], TMeta):
            x = args[0]
            if step.target == "dim":
                return len(x.shape)
            d = args[1] if len(args) > 1 else kwargs.get("dim")
            return torch.Size(x.shape) if d is None else x.shape[d]
        return NotImplemented

    def _pre_flatten(self, step: Step) -> tuple[int, ...] | None:
        """The shape entering the flatten/reshape that feeds ``step`` directly (if one does)."""
        src = self.producers.get(step.inputs[0]) if step.inputs else None
        res = self.results.get(src.name) if src is not None else None
        if res is None or res.op not in ("flatten", "reshape") or not src.inputs:
            return None
        before = first_tensor(self.values.get(self.aliases.get(src.inputs[0], src.inputs[0])))
        return before.shape if before is not None else None

    def _op_result(self, step: Step, args: Any, kwargs: Any) -> tuple[OpResult, str]:
        target = step.module if step.op == "call_module" else step.target
        from_input = tuple(self.producers[n].op == "placeholder" if n in self.producers else False
                           for n in step.inputs)
        call = Call(_CALL_TYPES[step.op], target, tuple(args), dict(kwargs), step.module_path,
                    self.explain, from_input, pre_flatten=self._pre_flatten(step),
                    input_hw=tuple(self.input_shape[2:]))
        if self.explain and rules.is_add(call):
            call.shortcut = find_shortcut(step, self.producers, self.results)
        rule = rules.find_rule(call)
        if rule is not None:
            try:
                return rule(call), "rule"
            except NoRule:
                pass
        return execute_meta(step, args, kwargs, self.explain), "meta"
