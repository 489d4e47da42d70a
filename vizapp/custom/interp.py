"""The code box's interpreter: walks the checked syntax tree and evaluates it with its own
rules (no ``exec``, no Python attribute lookup), counting steps, iterations, recursion, layers
and time. Every layer it creates remembers the call that made it (for the one-click fixes)."""

from __future__ import annotations

import ast
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from vizapp.i18n import msg

from . import limits, tensor_ops
from .boxclass import (CURRENT, PROGRAM_OF, BoxClass, BoxModule, Program, box_class,
                       get_attribute, new_instance, set_attribute)
from .check import CodeError, check, is_super_init, parse
from .layer_args import check_layer_call
from .tensor_ops import FUNCTIONAL_NS, TensorFunction, TensorMethod, is_tensor
from .values import BINOPS, BUILTINS, NN, TORCH, Builtin, Layer, Method, Namespace, layer

PLAIN = (int, float, bool, str, type(None))


class _Return(Exception):
    def __init__(self, value: Any):
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass
class Function:
    """A ``def`` from the box."""

    node: ast.FunctionDef


@dataclass
class BoundMethod:
    """``self.method`` of a box class instance."""

    obj: BoxModule
    node: ast.FunctionDef


@dataclass
class Interpreter:
    tree: ast.Module
    steps: int = 0
    iterations: int = 0
    depth: int = 0
    layers: int = 0
    started: float = field(default_factory=time.monotonic)
    scope: dict[str, Any] = field(default_factory=dict)  # the box's top-level names
    sites: dict[int, ast.Call] = field(default_factory=dict)  # id(layer) -> the call
    calls: dict[int, tuple] = field(default_factory=dict)  # id(layer) -> (args, kwargs)
    keep: list[Any] = field(default_factory=list)  # keeps ids stable while sites are used
    program: Program | None = None  # the box's classes, for the instances it makes
    forward: bool = False  # running a forward pass: layers are called, none is made
    layer_calls: int = 0  # layers called by this forward pass (all classes together)

    # ------------------------------------------------------------------ bookkeeping
    def tick(self, node: ast.AST) -> None:
        self.steps += 1
        cap = limits.MAX_FORWARD_STEPS if self.forward else limits.MAX_STEPS
        if self.steps > cap:
            raise CodeError(msg("the code takes more than {max_steps:,} steps to run",
                                max_steps=cap),
                            getattr(node, "lineno", None))
        if self.steps % 256 == 0 and not self.forward and \
                time.monotonic() - self.started > limits.MAX_SECONDS:
            raise CodeError(msg("the code takes longer than {max_seconds:g} s to build",
                                max_seconds=limits.MAX_SECONDS),
                            getattr(node, "lineno", None))

    def iterate(self, node: ast.AST, items: Any):
        if not isinstance(items, (list, tuple, range, dict, str, zip, enumerate, reversed,
                                  nn.Sequential, nn.ModuleList, type(iter([])))) or \
                is_tensor(items):
            raise CodeError(msg("cannot loop over {what}", what=_kind(items)), node.lineno)
        for item in items:
            self.iterations += 1
            if self.iterations > limits.MAX_ITERATIONS:
                raise CodeError(msg("the loops run more than {max_iterations:,} times in all",
                                    max_iterations=limits.MAX_ITERATIONS), node.lineno)
            yield item

    # ------------------------------------------------------------------ statements
    def run(self) -> Any:
        """Run the module; return the value of its last expression statement (or None)."""
        last = None
        for stmt in self.tree.body:
            last = self.stmt(stmt, self.scope)
        return last

    def body(self, stmts: list[ast.stmt], env: dict[str, Any]) -> None:
        for s in stmts:
            self.stmt(s, env)

    def stmt(self, s: ast.stmt, env: dict[str, Any]) -> Any:
        self.tick(s)
        if isinstance(s, ast.Expr):
            if is_super_init(s.value):
                return None  # super().__init__(): the instance is an nn.Module already
            return self.expr(s.value, env)
        if isinstance(s, ast.Assign):
            value = self.expr(s.value, env)
            for t in s.targets:
                self.assign(t, value, env)
        elif isinstance(s, ast.AugAssign):
            if not isinstance(s.target, ast.Name):
                raise CodeError(msg("+= and friends work on plain names only"), s.lineno)
            old = self.name(s.target, env)
            self.assign(s.target, self.binop(s, s.op, old, self.expr(s.value, env)), env)
        elif isinstance(s, ast.For):
            self.loop(s, env)
        elif isinstance(s, ast.If):
            self.body(s.body if self.expr(s.test, env) else s.orelse, env)
        elif isinstance(s, ast.FunctionDef):
            env[s.name] = Function(s)
        elif isinstance(s, ast.ClassDef):
            env[s.name] = box_class(s)
        elif isinstance(s, ast.Return):
            raise _Return(None if s.value is None else self.expr(s.value, env))
        elif isinstance(s, ast.Break):
            raise _Break()
        elif isinstance(s, ast.Continue):
            raise _Continue()
        # ast.Import / ImportFrom: only the no-op imports pass the check (nn, torch are there)
        return None

    def loop(self, s: ast.For, env: dict[str, Any]) -> None:
        for item in self.iterate(s, self.expr(s.iter, env)):
            self.assign(s.target, item, env)
            try:
                self.body(s.body, env)
            except _Break:
                return
            except _Continue:
                continue
        self.body(s.orelse, env)

    def assign(self, target: ast.expr, value: Any, env: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = list(self.iterate(target, value))
            if len(items) != len(target.elts):
                raise CodeError(msg("cannot unpack {n} values into {k} names", n=len(items),
                                    k=len(target.elts)), target.lineno)
            for t, v in zip(target.elts, items):
                self.assign(t, v, env)
        elif isinstance(target, ast.Attribute):
            obj = self.expr(target.value, env)
            if not isinstance(obj, BoxModule) or self.forward:
                raise CodeError(msg("only self.<name> = ... in __init__ sets an attribute"),
                                target.lineno)
            try:
                set_attribute(obj, target.attr, value)
            except CodeError as exc:
                raise CodeError(exc.reason, target.lineno) from None
            _check_size(value, target)
        elif isinstance(target, ast.Subscript):
            obj = self.expr(target.value, env)
            if not isinstance(obj, (list, dict, OrderedDict)):
                raise CodeError(msg("cannot assign into {what}", what=_kind(obj)), target.lineno)
            key = self.expr(target.slice, env)
            try:
                obj[key] = value
            except (IndexError, TypeError, KeyError) as exc:
                raise CodeError(msg("cannot assign item: {exc}", exc=str(exc)),
                                target.lineno) from None
        else:
            raise CodeError(msg("you can assign to names only"), target.lineno)

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ast.expr, env: dict[str, Any]) -> Any:
        self.tick(e)
        if isinstance(e, ast.Constant):
            if isinstance(e.value, (bytes, complex)) or e.value is Ellipsis:
                raise CodeError(msg("{type} literals are not needed",
                                    type=type(e.value).__name__), e.lineno)
            return e.value
        if isinstance(e, ast.Name):
            return self.name(e, env)
        if isinstance(e, ast.Attribute):
            return self.attribute(e, env)
        if isinstance(e, ast.Call):
            return self.call(e, env)
        if isinstance(e, (ast.List, ast.Tuple)):
            items = self.elements(e.elts, env)
            return items if isinstance(e, ast.List) else tuple(items)
        if isinstance(e, ast.Dict):
            return self.dict_display(e, env)
        if isinstance(e, ast.BinOp):
            return self.binop(e, e.op, self.expr(e.left, env), self.expr(e.right, env))
        if isinstance(e, ast.UnaryOp):
            return self.unary(e, self.expr(e.operand, env))
        if isinstance(e, ast.BoolOp):
            return self.boolop(e, env)
        if isinstance(e, ast.Compare):
            return self.compare(e, env)
        if isinstance(e, ast.IfExp):
            return self.expr(e.body if self.expr(e.test, env) else e.orelse, env)
        if isinstance(e, ast.Subscript):
            return self.subscript(e, env)
        if isinstance(e, ast.Slice):
            return slice(*(None if p is None else self.expr(p, env)
                           for p in (e.lower, e.upper, e.step)))
        if isinstance(e, (ast.ListComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(e, env)
        if isinstance(e, ast.JoinedStr):
            return self.fstring(e, env)
        raise CodeError(msg("{type} is outside what the box accepts", type=type(e).__name__),
                        e.lineno)

    def name(self, e: ast.Name, env: dict[str, Any]) -> Any:
        for scope in (env, self.scope, BUILTINS):
            if e.id in scope:
                return scope[e.id]
        raise CodeError(msg("name '{id}' is not defined", id=e.id), e.lineno)

    def attribute(self, e: ast.Attribute, env: dict[str, Any]) -> Any:
        obj = self.expr(e.value, env)
        try:
            found = self.attribute_of(obj, e.attr)
        except CodeError as exc:
            raise CodeError(exc.reason, e.lineno) from None
        if found is _MISSING:
            raise CodeError(msg("{what} has no .{attr} the box allows", what=_kind(obj),
                                attr=e.attr), e.lineno)
        return found

    def attribute_of(self, obj: Any, attr: str) -> Any:
        """``obj.attr`` where the box allows it (else ``_MISSING``)."""
        found = _namespace_attribute(obj, attr)
        if found is not _MISSING:
            return found
        if isinstance(obj, BoxModule):
            return get_attribute(obj, attr, BoundMethod)
        if is_tensor(obj):
            if attr in tensor_ops.TENSOR_ATTRIBUTES:
                return getattr(obj, attr)
            return TensorMethod(obj, attr) if attr in tensor_ops.TENSOR_METHODS else _MISSING
        if not self.forward and (attr == "add_module" and isinstance(obj, nn.Module) or
                                 attr in ("append", "extend") and
                                 isinstance(obj, (list, nn.Sequential, nn.ModuleList))):
            return Method(obj, attr)
        if isinstance(obj, (nn.Sequential, nn.ModuleDict)) and attr in obj._modules:
            return obj._modules[attr]  # a named layer of a container: self.features.conv1
        return _MISSING

    def elements(self, elts: list[ast.expr], env: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for el in elts:
            if isinstance(el, ast.Starred):
                out.extend(self.iterate(el, self.expr(el.value, env)))
            else:
                out.append(self.expr(el, env))
            _check_size(out, el)
        return out

    def dict_display(self, e: ast.Dict, env: dict[str, Any]) -> dict:
        d: dict[Any, Any] = {}
        for k, v in zip(e.keys, e.values):
            if k is None:
                raise CodeError(msg("**mapping in a dict display is not allowed"), e.lineno)
            d[_hashable(self.expr(k, env), e)] = self.expr(v, env)
        return d

    def binop(self, e: ast.AST, op: ast.operator, a: Any, b: Any) -> Any:
        fn = BINOPS.get(type(op))
        line = getattr(e, "lineno", None)
        if fn is None:
            raise CodeError(msg("operator {type} is not needed here", type=type(op).__name__), line)
        if is_tensor(a) or is_tensor(b):
            return self.tensor_call(e, type(op).__name__, fn, [a, b], {})
        _check_operands(op, a, b, line)
        try:
            result = fn(a, b)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
            raise CodeError(f"{exc}", line) from None
        _check_size(result, e)
        return result

    def unary(self, e: ast.UnaryOp, v: Any) -> Any:
        if isinstance(e.op, ast.Not):
            return not v
        if is_tensor(v) and isinstance(e.op, ast.USub):
            import operator

            return self.tensor_call(e, "-", operator.neg, [v], {})
        if not isinstance(v, (int, float)):
            raise CodeError(msg("unary {type} needs a number", type=type(e.op).__name__), e.lineno)
        return {ast.USub: lambda x: -x, ast.UAdd: lambda x: +x,
                ast.Invert: lambda x: ~x}[type(e.op)](v)

    def boolop(self, e: ast.BoolOp, env: dict[str, Any]) -> Any:
        value: Any = None
        for v in e.values:
            value = self.expr(v, env)
            if isinstance(e.op, ast.And) and not value or isinstance(e.op, ast.Or) and value:
                return value
        return value

    def compare(self, e: ast.Compare, env: dict[str, Any]) -> bool:
        import operator
        ops = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
               ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
               ast.Is: operator.is_, ast.IsNot: operator.is_not,
               ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
        left = self.expr(e.left, env)
        for op, right_e in zip(e.ops, e.comparators):
            right = self.expr(right_e, env)
            try:
                if not ops[type(op)](left, right):
                    return False
            except TypeError as exc:
                raise CodeError(str(exc), e.lineno) from None
            left = right
        return True

    def subscript(self, e: ast.Subscript, env: dict[str, Any]) -> Any:
        obj = self.expr(e.value, env)
        key = self.expr(e.slice, env)
        if is_tensor(obj):
            import operator

            return self.tensor_call(e, "[]", operator.getitem, [obj, key], {})
        if not isinstance(obj, (list, tuple, str, dict, range, nn.Sequential, nn.ModuleList,
                                nn.ModuleDict)):
            raise CodeError(msg("cannot index {what}", what=_kind(obj)), e.lineno)
        try:
            return obj[key]
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise CodeError(f"{type(exc).__name__}: {exc}", e.lineno) from None

    def comprehension(self, e: Any, env: dict[str, Any]) -> Any:
        local = dict(env)
        out: list[Any] = []
        self._generate(e, e.generators, local, out)
        return dict(out) if isinstance(e, ast.DictComp) else out

    def _generate(self, e: Any, gens: list[ast.comprehension], env: dict[str, Any],
                  out: list[Any]) -> None:
        if not gens:
            if isinstance(e, ast.DictComp):
                out.append((_hashable(self.expr(e.key, env), e), self.expr(e.value, env)))
            else:
                out.append(self.expr(e.elt, env))
            return
        g = gens[0]
        if g.is_async:
            raise CodeError(msg("async comprehensions are not allowed"), e.lineno)
        for item in self.iterate(e, self.expr(g.iter, env)):
            self.assign(g.target, item, env)
            if all(self.expr(c, env) for c in g.ifs):
                self._generate(e, gens[1:], env, out)

    def fstring(self, e: ast.JoinedStr, env: dict[str, Any]) -> str:
        parts = []
        for v in e.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
                continue
            value = self.expr(v.value, env)
            if not isinstance(value, PLAIN):
                raise CodeError(msg("f-strings may show numbers and text, not {what}",
                                    what=_kind(value)),
                                e.lineno)
            spec = "".join(str(c.value) for c in getattr(v.format_spec, "values", []))
            _check_format_widths(spec, e)
            try:
                parts.append(format(value, spec))
            except (ValueError, TypeError) as exc:
                raise CodeError(msg("f-string: {exc}", exc=str(exc)), e.lineno) from None
        text = "".join(parts)
        _check_size(text, e)
        return text

    # ------------------------------------------------------------------ calls
    def call(self, e: ast.Call, env: dict[str, Any]) -> Any:
        fn = self.expr(e.func, env)
        args = self.elements(e.args, env)
        kwargs: dict[str, Any] = {}
        for kw in e.keywords:
            value = self.expr(kw.value, env)
            if kw.arg is None:
                if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                    raise CodeError(msg("**kwargs needs a dict with text keys"), e.lineno)
                kwargs.update(value)
            else:
                kwargs[kw.arg] = value
        if isinstance(fn, Layer):
            if self.forward:
                raise CodeError(msg("forward() uses the layers __init__ made: build nn.{name} "
                                    "in __init__ as self.<name>", name=fn.name), e.lineno)
            return self.make_layer(e, fn, args, kwargs)
        if isinstance(fn, (Function, BoundMethod)):
            return self.call_function(e, fn, args, kwargs)
        if isinstance(fn, Method):
            return self.call_method(e, fn, args, kwargs)
        if isinstance(fn, Builtin):
            return self.call_builtin(e, fn, args, kwargs)
        if isinstance(fn, BoxClass):
            return self.instantiate(e, fn, args, kwargs)
        if isinstance(fn, TensorFunction):
            return self.tensor_call(e, fn.name, fn.fn, args, kwargs)
        if isinstance(fn, TensorMethod):
            return self.tensor_call(e, f".{fn.name}", getattr(fn.obj, fn.name), args, kwargs)
        if isinstance(fn, nn.Module):
            return self.call_layer(e, fn, args, kwargs)
        raise CodeError(msg("{what} cannot be called", what=_kind(fn)), e.lineno)

    def call_layer(self, e: ast.Call, module: nn.Module, args: list[Any],
                   kwargs: dict[str, Any]) -> Any:
        if not self.forward:
            raise CodeError(msg("calling a layer runs it on data; the box only describes the "
                                "model (the app runs it for you)"), e.lineno)
        self.layer_calls += 1  # one forward pass of a class: as many layer calls as a model
        if self.layer_calls > limits.MAX_LAYER_CALLS:
            raise CodeError(msg("one pass through the model calls its layers more than {cap:,} "
                                "times", cap=limits.MAX_LAYER_CALLS), e.lineno)
        try:
            return tensor_ops.call_module(module, args, kwargs)
        except CodeError as exc:
            raise CodeError(exc.reason, exc.line or e.lineno, exc.col) from None

    def tensor_call(self, e: ast.AST, what: str, fn: Any, args: list[Any],
                    kwargs: dict[str, Any]) -> Any:
        try:
            return tensor_ops.checked_call(what, fn, args, kwargs)
        except CodeError as exc:
            raise CodeError(exc.reason, exc.line or getattr(e, "lineno", None)) from None

    def instantiate(self, e: ast.Call, cls: BoxClass, args: list[Any],
                    kwargs: dict[str, Any]) -> BoxModule:
        """``Net(...)``: a new instance, then its ``__init__`` with ``self`` bound."""
        if self.forward:
            raise CodeError(msg("forward() uses the layers __init__ made: create {cls}(...) in "
                                "__init__", cls=cls.name), e.lineno)
        if "forward" not in cls.methods:
            raise CodeError(msg("class {cls} has no forward(self, x): the app needs it to know "
                                "what the layers do with the input", cls=cls.name),
                            cls.node.lineno)
        self.layers += 1
        if self.layers > limits.MAX_MODULES:
            raise CodeError(msg("the code creates more than {max_modules:,} layers",
                                max_modules=limits.MAX_MODULES), e.lineno)
        obj = new_instance(self.program, cls)
        self.keep.append(obj)
        init = cls.methods.get("__init__")
        if init is not None:
            self.call_function(e, BoundMethod(obj, init), args, kwargs)
        elif args or kwargs:
            raise CodeError(msg("{cls}() takes no arguments (it has no __init__)", cls=cls.name),
                            e.lineno)
        self.sites[id(obj)] = e
        return obj

    def make_layer(self, e: ast.Call, fn: Layer, args: list[Any], kwargs: dict[str, Any]):
        try:  # first: it stops at the first value of the wrong type (no walk over a huge list)
            check_layer_call(fn.name, args, kwargs)
        except CodeError as exc:
            raise CodeError(exc.reason, e.lineno) from None
        for v in [*args, *kwargs.values()]:
            _check_layer_arg(v, fn.name, e.lineno)
        self.layers += 1
        if self.layers > limits.MAX_MODULES:
            raise CodeError(msg("the code creates more than {max_modules:,} layers",
                                max_modules=limits.MAX_MODULES),
                            e.lineno)
        try:
            module = fn.cls(*args, **kwargs)
        except CodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - the layer's own complaint, with the line
            text = _rephrase(exc, fn.name)
            if not text.startswith(f"nn.{fn.name}("):
                text = f"nn.{fn.name}(...): {text}"
            raise CodeError(text, e.lineno) from None
        self.sites[id(module)] = e
        self.calls[id(module)] = (list(args), dict(kwargs))
        self.keep.append(module)
        return module

    def call_function(self, e: ast.Call | None, fn: Function | BoundMethod, args: list[Any],
                      kwargs: dict[str, Any]) -> Any:
        if isinstance(fn, BoundMethod):
            args = [fn.obj, *args]
        a = fn.node.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            raise CodeError(msg("functions in the box take plain parameters only (no *args, "
                                "**kwargs)"), fn.node.lineno)
        names = [p.arg for p in a.args]
        line = fn.node.lineno if e is None else e.lineno
        if len(args) > len(names):
            raise CodeError(msg("{name}() takes {n} arguments but {k} were given",
                                name=fn.node.name, n=len(names), k=len(args)), line)
        local = dict(zip(names, args))
        defaults = dict(zip(names[len(names) - len(a.defaults):], a.defaults))
        for k, v in kwargs.items():
            if k not in names or k in local:
                raise CodeError(msg("{name}() got an unexpected or repeated argument '{arg}'",
                                    name=fn.node.name, arg=k), line)
            local[k] = v
        for n in names:
            if n not in local:
                if n not in defaults:
                    raise CodeError(msg("{name}() is missing the argument '{arg}'",
                                        name=fn.node.name, arg=n), line)
                local[n] = self.expr(defaults[n], self.scope)
        self.depth += 1
        try:
            if self.depth > limits.MAX_DEPTH:
                raise CodeError(msg("functions call each other more than {max_depth} deep",
                                    max_depth=limits.MAX_DEPTH),
                                line)
            self.body(fn.node.body, local)
        except _Return as r:
            return r.value
        finally:
            self.depth -= 1
        return None

    def call_method(self, e: ast.Call, m: Method, args: list[Any], kwargs: dict[str, Any]):
        if m.name == "add_module":
            if len(args) != 2 or kwargs or not isinstance(args[0], str) or \
                    not isinstance(args[1], nn.Module):
                raise CodeError(msg("add_module takes a name and a layer: add_module(\"conv1\", "
                                    "nn.Conv2d(...))"), e.lineno)
        elif m.name == "append" and (len(args) != 1 or kwargs):
            raise CodeError(msg("append takes one value"), e.lineno)
        elif m.name == "extend" and (len(args) != 1 or kwargs):
            raise CodeError(msg("extend takes one list"), e.lineno)
        if isinstance(m.obj, nn.Module) and m.name != "add_module":
            items = args if m.name == "append" else list(self.iterate(e, args[0]))
            if not all(isinstance(x, nn.Module) for x in items):
                raise CodeError(msg("{cls}.{method} takes layers", cls=type(m.obj).__name__,
                                    method=m.name), e.lineno)
        if m.name == "extend":
            args = [list(self.iterate(e, args[0]))]
        try:
            getattr(m.obj, m.name)(*args)
        except (KeyError, TypeError, ValueError) as exc:
            raise CodeError(f"{m.name}: {exc}", e.lineno) from None
        _check_size(m.obj, e)
        return None

    def call_builtin(self, e: ast.Call, b: Builtin, args: list[Any], kwargs: dict[str, Any]):
        if "key" in kwargs or not all(isinstance(v, (*PLAIN, list, tuple, dict))
                                      for v in [*args, *kwargs.values()]
                                      if b.name not in ("list", "tuple", "OrderedDict", "dict",
                                                        "len", "zip", "enumerate", "reversed",
                                                        "print", "min", "max", "sum")):
            raise CodeError(msg("{name}() takes numbers, text and lists here (no key=, no "
                                "layers)", name=b.name), e.lineno)
        if b.name in ("min", "max", "sorted", "sum") and any(
                isinstance(x, nn.Module) for x in [*args, *(args[0] if args and isinstance(
                    args[0], (list, tuple)) else [])]):
            raise CodeError(msg("{name}() takes numbers, text and lists here (no key=, no "
                                "layers)", name=b.name), e.lineno)
        if b.name in ("list", "tuple", "dict", "OrderedDict", "min", "max", "sorted") and args \
                and not isinstance(args[0], (*PLAIN, list, tuple, dict, range)):
            args = [list(self.iterate(e, args[0])), *args[1:]]
        try:
            out = b.fn(*args, **kwargs)
        except CodeError as exc:
            raise CodeError(exc.reason, e.lineno) from None
        except (TypeError, ValueError, OverflowError, KeyError) as exc:
            raise CodeError(f"{b.name}(): {exc}", e.lineno) from None
        _check_size(out, e)
        return out


_MISSING = object()


def _namespace_attribute(obj: Any, attr: str) -> Any:
    """``torch.nn``, ``nn.Conv2d``, ``nn.functional``, ``F.relu``, ``torch.cat`` (or
    ``_MISSING``)."""
    if obj is TORCH:
        if attr == "nn":
            return NN
        return tensor_ops.torch_function(attr) or _MISSING
    if obj is NN:
        if attr == "functional":
            return FUNCTIONAL_NS
        return layer(attr)
    if obj is FUNCTIONAL_NS:
        found = tensor_ops.functional(attr)
        if found is None:
            raise CodeError(msg("F.{name} is not among the functions a forward() in the box may "
                                "use (activations, pools, dropout, padding)", name=attr))
        return found
    return _MISSING


def program_of(source: str) -> Program:
    """Parse and check ``source`` (never run it) and collect its ``def`` s and classes."""
    tree = parse(source)
    check(tree)
    return program_from(source, tree)


def program_from(source: str, tree: ast.Module) -> Program:
    """The program of an already checked tree."""
    scope: dict[str, Any] = {}
    for s in tree.body:
        if isinstance(s, ast.FunctionDef):
            scope[s.name] = Function(s)
        elif isinstance(s, ast.ClassDef):
            scope[s.name] = box_class(s)
    return Program(source, tree, scope, run_method)


PROGRAM_OF.append(program_of)


def run_method(obj: BoxModule, name: str, args: list[Any]) -> Any:
    """Run ``obj``'s method ``name`` (its ``forward``) in forward mode. Nested box modules of
    one pass share the outermost call's interpreter, so its step budget covers the pass."""
    program = obj.box_program
    current = CURRENT.get()
    if current is not None and current.tree is program.tree:
        return current.call_function(None, BoundMethod(obj, obj.box_class.methods[name]), args, {})
    interp = Interpreter(program.tree, scope=dict(program.scope), program=program, forward=True)
    token = CURRENT.set(interp)
    try:
        return interp.call_function(None, BoundMethod(obj, obj.box_class.methods[name]), args, {})
    except RecursionError:
        raise CodeError(msg("the code nests too deeply")) from None
    finally:
        CURRENT.reset(token)


# ---------------------------------------------------------------------------- checks
def _kind(v: Any) -> str:
    if isinstance(v, Namespace):
        return msg("the {name} namespace", name=v.name)
    if isinstance(v, Layer):
        return f"nn.{v.name}"
    if isinstance(v, Function):
        return msg("the function {name}", name=v.node.name)
    if isinstance(v, BoxClass):
        return msg("the class {name}", name=v.name)
    if is_tensor(v):
        return msg("a tensor")
    if isinstance(v, nn.Module):
        return msg("a {type} layer", type=type(v).__name__)
    return msg("a value of type {type}", type=type(v).__name__)


def _hashable(k: Any, e: ast.AST) -> Any:
    if not isinstance(k, (*PLAIN, tuple)):
        raise CodeError(msg("dictionary keys must be numbers or text, not {what}", what=_kind(k)),
                        getattr(e, "lineno", None))
    return k


def _check_operands(op: ast.operator, a: Any, b: Any, line: int | None) -> None:
    nums = (int, float)
    if isinstance(a, nums) and isinstance(b, nums):
        if isinstance(op, ast.Pow) and (abs(b) > limits.MAX_INT_BITS
                                        or abs(a) > 2 ** limits.MAX_INT_BITS):
            raise CodeError(msg("that power is far too large for a layer size"), line)
        return
    if isinstance(op, ast.Mult) and isinstance(a, (str, list, tuple)) and isinstance(b, int) \
            or isinstance(op, ast.Mult) and isinstance(b, (str, list, tuple)) and isinstance(a, int):
        seq, n = (a, b) if isinstance(b, int) else (b, a)
        if len(seq) * max(n, 0) > limits.MAX_SEQUENCE:
            raise CodeError(msg("that repetition makes more than {max_sequence:,} items",
                                max_sequence=limits.MAX_SEQUENCE),
                            line)
        return
    if isinstance(op, ast.Add) and type(a) is type(b) and isinstance(a, (str, list, tuple)):
        return
    if isinstance(op, ast.Mod) and isinstance(a, str) and (
            isinstance(b, PLAIN) or isinstance(b, tuple) and all(isinstance(x, PLAIN) for x in b)):
        _check_format_widths(a, line, percent=True)
        return
    raise CodeError(msg("unsupported operation {op} between {a} and {b}", op=type(op).__name__,
                        a=_kind(a), b=_kind(b)), line)


_PERCENT_WIDTH = re.compile(r"%[#0 +-]*(\*|\d*)(?:\.(\*|\d*))?")


def _check_format_widths(text: str, where: Any, percent: bool = False) -> None:
    """Refuse a format width or precision that would build a huge string before any size
    check (``f'{1:1000000000}'``, ``'%*d' % (200000000, 1)``)."""
    line = where if isinstance(where, int) or where is None else getattr(where, "lineno", None)
    numbers = [n for pair in _PERCENT_WIDTH.findall(text) for n in pair] if percent \
        else re.findall(r"\d+", text)
    if "*" in numbers:
        raise CodeError(msg("'%*d'-style widths are not supported: write the width as a number"),
                        line)
    if any(n and int(n) > limits.MAX_FORMAT_WIDTH for n in numbers):
        raise CodeError(msg("a format width above {max_width} characters",
                            max_width=limits.MAX_FORMAT_WIDTH), line)


def _check_size(v: Any, e: ast.AST) -> None:
    line = getattr(e, "lineno", None)
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > limits.MAX_INT_BITS:
        raise CodeError(msg("the number is larger than 2**{max_int_bits}",
                            max_int_bits=limits.MAX_INT_BITS), line)
    if isinstance(v, (str, list, tuple, dict)) and len(v) > limits.MAX_SEQUENCE:
        raise CodeError(msg("more than {max_sequence:,} items in one list or text",
                            max_sequence=limits.MAX_SEQUENCE), line)


def _check_layer_arg(v: Any, name: str, line: int) -> None:
    if isinstance(v, (*PLAIN, nn.Module)):
        return
    if isinstance(v, (list, tuple)):
        for x in v:
            _check_layer_arg(x, name, line)
        return
    if isinstance(v, dict):
        for k, x in v.items():
            _check_layer_arg(k, name, line)
            _check_layer_arg(x, name, line)
        return
    raise CodeError(msg("nn.{name}(...) takes numbers, text, tuples and layers, not {what}",
                        name=name, what=_kind(v)),
                    line)


def _rephrase(exc: Exception, name: str) -> str:
    text = str(exc).split("\n")[0]
    for prefix in (f"{name}.__init__()", "__init__()"):
        text = text.replace(prefix, f"nn.{name}()")
    return text


# ---------------------------------------------------------------------------- the box's code
MODEL_NAMES = ("net", "model")


def _pick(interp: Interpreter, last: object, tree: ast.Module) -> nn.Module:
    """The last expression if it is a model; else ``net`` / ``model``; else the model the last
    top-level assignment made (seed 003's ``model4 = Net4()``); else an instance of the last
    class (when it needs no arguments)."""
    if isinstance(last, nn.Module) and isinstance(tree.body[-1], ast.Expr):
        return last
    for name in MODEL_NAMES:
        if isinstance(interp.scope.get(name), nn.Module):
            return interp.scope[name]
    assigned = [interp.scope.get(t.id) for s in tree.body if isinstance(s, ast.Assign)
                for t in s.targets if isinstance(t, ast.Name)]
    models = [m for m in assigned if isinstance(m, nn.Module)]
    if models:
        return models[-1]
    classes = [s for s in tree.body if isinstance(s, ast.ClassDef)]
    if classes:
        cls = interp.scope[classes[-1].name]
        return interp.instantiate(ast.Call(func=ast.Name(cls.name), args=[], keywords=[],
                                           lineno=cls.node.lineno), cls, [], {})
    raise CodeError(msg("the box must end with the model: an expression like nn.Sequential(...), "
                        "or a variable named net or model"))


def evaluate_source(source: str) -> tuple[Interpreter, nn.Module]:
    """Parse, check and interpret ``source`` in this process; the interpreter (its record of
    calls and call sites) and the model. Only the sandbox's child process calls this (see
    :mod:`.sandbox`)."""
    tree = parse(source)
    check(tree)
    interp = Interpreter(tree, program=program_from(source, tree))
    try:
        last = interp.run()
    except RecursionError:
        raise CodeError(msg("the code nests too deeply")) from None
    return interp, _pick(interp, last, tree)
