"""The code box's interpreter: walks the checked syntax tree and evaluates it with its own
rules (no ``exec``, no Python attribute lookup), counting steps, iterations, recursion, layers
and time. Every layer it creates remembers the call that made it (for the one-click fixes)."""

from __future__ import annotations

import ast
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from . import limits
from .check import CodeError
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
class Interpreter:
    tree: ast.Module
    steps: int = 0
    iterations: int = 0
    depth: int = 0
    layers: int = 0
    started: float = field(default_factory=time.monotonic)
    scope: dict[str, Any] = field(default_factory=dict)  # the box's top-level names
    sites: dict[int, ast.Call] = field(default_factory=dict)  # id(layer) -> the call
    keep: list[Any] = field(default_factory=list)  # keeps ids stable while sites are used

    # ------------------------------------------------------------------ bookkeeping
    def tick(self, node: ast.AST) -> None:
        self.steps += 1
        if self.steps > limits.MAX_STEPS:
            raise CodeError(f"the code takes more than {limits.MAX_STEPS:,} steps to run",
                            getattr(node, "lineno", None))
        if self.steps % 256 == 0 and time.monotonic() - self.started > limits.MAX_SECONDS:
            raise CodeError(f"the code takes longer than {limits.MAX_SECONDS:g} s to build",
                            getattr(node, "lineno", None))

    def iterate(self, node: ast.AST, items: Any):
        if not isinstance(items, (list, tuple, range, dict, str, zip, enumerate, reversed,
                                  nn.Sequential, nn.ModuleList, type(iter([])))):
            raise CodeError(f"cannot loop over {_kind(items)}", node.lineno)
        for item in items:
            self.iterations += 1
            if self.iterations > limits.MAX_ITERATIONS:
                raise CodeError(f"the loops run more than {limits.MAX_ITERATIONS:,} times in "
                                f"all", node.lineno)
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
            return self.expr(s.value, env)
        if isinstance(s, ast.Assign):
            value = self.expr(s.value, env)
            for t in s.targets:
                self.assign(t, value, env)
        elif isinstance(s, ast.AugAssign):
            if not isinstance(s.target, ast.Name):
                raise CodeError("+= and friends work on plain names only", s.lineno)
            old = self.name(s.target, env)
            self.assign(s.target, self.binop(s, s.op, old, self.expr(s.value, env)), env)
        elif isinstance(s, ast.For):
            self.loop(s, env)
        elif isinstance(s, ast.If):
            self.body(s.body if self.expr(s.test, env) else s.orelse, env)
        elif isinstance(s, ast.FunctionDef):
            env[s.name] = Function(s)
        elif isinstance(s, ast.Return):
            raise _Return(None if s.value is None else self.expr(s.value, env))
        elif isinstance(s, ast.Break):
            raise _Break()
        elif isinstance(s, ast.Continue):
            raise _Continue()
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
                raise CodeError(f"cannot unpack {len(items)} values into {len(target.elts)} "
                                f"names", target.lineno)
            for t, v in zip(target.elts, items):
                self.assign(t, v, env)
        elif isinstance(target, ast.Subscript):
            obj = self.expr(target.value, env)
            if not isinstance(obj, (list, dict, OrderedDict)):
                raise CodeError(f"cannot assign into {_kind(obj)}", target.lineno)
            key = self.expr(target.slice, env)
            try:
                obj[key] = value
            except (IndexError, TypeError, KeyError) as exc:
                raise CodeError(f"cannot assign item: {exc}", target.lineno) from None
        else:
            raise CodeError("you can assign to names only", target.lineno)

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ast.expr, env: dict[str, Any]) -> Any:
        self.tick(e)
        if isinstance(e, ast.Constant):
            if isinstance(e.value, (bytes, complex)) or e.value is Ellipsis:
                raise CodeError(f"{type(e.value).__name__} literals are not needed", e.lineno)
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
        raise CodeError(f"{type(e).__name__} is outside what the box accepts", e.lineno)

    def name(self, e: ast.Name, env: dict[str, Any]) -> Any:
        for scope in (env, self.scope, BUILTINS):
            if e.id in scope:
                return scope[e.id]
        raise CodeError(f"name '{e.id}' is not defined", e.lineno)

    def attribute(self, e: ast.Attribute, env: dict[str, Any]) -> Any:
        obj = self.expr(e.value, env)
        if obj is TORCH and e.attr == "nn":
            return NN
        if obj is NN:
            try:
                return layer(e.attr)
            except CodeError as exc:
                raise CodeError(exc.reason, e.lineno) from None
        if e.attr == "add_module" and isinstance(obj, nn.Module) or \
                e.attr in ("append", "extend") and isinstance(obj, (list, nn.Sequential,
                                                                     nn.ModuleList)):
            return Method(obj, e.attr)
        raise CodeError(f"{_kind(obj)} has no .{e.attr} the box allows", e.lineno)

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
                raise CodeError("**mapping in a dict display is not allowed", e.lineno)
            d[_hashable(self.expr(k, env), e)] = self.expr(v, env)
        return d

    def binop(self, e: ast.AST, op: ast.operator, a: Any, b: Any) -> Any:
        fn = BINOPS.get(type(op))
        line = getattr(e, "lineno", None)
        if fn is None:
            raise CodeError(f"operator {type(op).__name__} is not needed here", line)
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
        if not isinstance(v, (int, float)):
            raise CodeError(f"unary {type(e.op).__name__} needs a number", e.lineno)
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
        import operator as o
        ops = {ast.Eq: o.eq, ast.NotEq: o.ne, ast.Lt: o.lt, ast.LtE: o.le, ast.Gt: o.gt,
               ast.GtE: o.ge, ast.Is: o.is_, ast.IsNot: o.is_not,
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
        if not isinstance(obj, (list, tuple, str, dict, range, nn.Sequential, nn.ModuleList,
                                nn.ModuleDict)):
            raise CodeError(f"cannot index {_kind(obj)}", e.lineno)
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
            raise CodeError("async comprehensions are not allowed", e.lineno)
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
                raise CodeError(f"f-strings may show numbers and text, not {_kind(value)}",
                                e.lineno)
            spec = "".join(str(c.value) for c in getattr(v.format_spec, "values", []))
            try:
                parts.append(format(value, spec))
            except (ValueError, TypeError) as exc:
                raise CodeError(f"f-string: {exc}", e.lineno) from None
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
                    raise CodeError("**kwargs needs a dict with text keys", e.lineno)
                kwargs.update(value)
            else:
                kwargs[kw.arg] = value
        if isinstance(fn, Layer):
            return self.make_layer(e, fn, args, kwargs)
        if isinstance(fn, Function):
            return self.call_function(e, fn, args, kwargs)
        if isinstance(fn, Method):
            return self.call_method(e, fn, args, kwargs)
        if isinstance(fn, Builtin):
            return self.call_builtin(e, fn, args, kwargs)
        if isinstance(fn, nn.Module):
            raise CodeError("calling a layer runs it on data; the box only describes the model "
                            "(the app runs it for you)", e.lineno)
        raise CodeError(f"{_kind(fn)} cannot be called", e.lineno)

    def make_layer(self, e: ast.Call, fn: Layer, args: list[Any], kwargs: dict[str, Any]):
        for v in [*args, *kwargs.values()]:
            _check_layer_arg(v, fn.name, e.lineno)
        self.layers += 1
        if self.layers > limits.MAX_MODULES:
            raise CodeError(f"the code creates more than {limits.MAX_MODULES:,} layers",
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
        self.keep.append(module)
        return module

    def call_function(self, e: ast.Call, fn: Function, args: list[Any],
                      kwargs: dict[str, Any]) -> Any:
        a = fn.node.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            raise CodeError("functions in the box take plain parameters only (no *args, "
                            "**kwargs)", fn.node.lineno)
        names = [p.arg for p in a.args]
        if len(args) > len(names):
            raise CodeError(f"{fn.node.name}() takes {len(names)} arguments but {len(args)} "
                            f"were given", e.lineno)
        local = dict(zip(names, args))
        defaults = dict(zip(names[len(names) - len(a.defaults):], a.defaults))
        for k, v in kwargs.items():
            if k not in names or k in local:
                raise CodeError(f"{fn.node.name}() got an unexpected or repeated argument "
                                f"'{k}'", e.lineno)
            local[k] = v
        for n in names:
            if n not in local:
                if n not in defaults:
                    raise CodeError(f"{fn.node.name}() is missing the argument '{n}'", e.lineno)
                local[n] = self.expr(defaults[n], self.scope)
        self.depth += 1
        try:
            if self.depth > limits.MAX_DEPTH:
                raise CodeError(f"functions call each other more than {limits.MAX_DEPTH} deep",
                                e.lineno)
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
                raise CodeError("add_module takes a name and a layer: "
                                "add_module(\"conv1\", nn.Conv2d(...))", e.lineno)
        elif m.name == "append" and (len(args) != 1 or kwargs):
            raise CodeError("append takes one value", e.lineno)
        elif m.name == "extend" and (len(args) != 1 or kwargs):
            raise CodeError("extend takes one list", e.lineno)
        if isinstance(m.obj, nn.Module) and m.name != "add_module":
            items = args if m.name == "append" else list(self.iterate(e, args[0]))
            if not all(isinstance(x, nn.Module) for x in items):
                raise CodeError(f"{type(m.obj).__name__}.{m.name} takes layers", e.lineno)
        if m.name == "extend":
            args = [list(self.iterate(e, args[0]))]
        try:
            getattr(m.obj, m.name)(*args)
        except (KeyError, TypeError, ValueError) as exc:
            raise CodeError(f"{m.name}: {exc}", e.lineno) from None
        _check_size(m.obj, e)
        return None

    def call_builtin(self, e: ast.Call, b: Builtin, args: list[Any], kwargs: dict[str, Any]):
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


# ---------------------------------------------------------------------------- checks
def _kind(v: Any) -> str:
    if isinstance(v, Namespace):
        return f"the {v.name} namespace"
    if isinstance(v, Layer):
        return f"nn.{v.name}"
    if isinstance(v, Function):
        return f"the function {v.node.name}"
    if isinstance(v, nn.Module):
        return f"a {type(v).__name__} layer"
    return f"a value of type {type(v).__name__}"


def _hashable(k: Any, e: ast.AST) -> Any:
    if not isinstance(k, (*PLAIN, tuple)):
        raise CodeError(f"dictionary keys must be numbers or text, not {_kind(k)}",
                        getattr(e, "lineno", None))
    return k


def _check_operands(op: ast.operator, a: Any, b: Any, line: int | None) -> None:
    nums = (int, float)
    if isinstance(a, nums) and isinstance(b, nums):
        if isinstance(op, ast.Pow) and (abs(b) > limits.MAX_INT_BITS
                                        or abs(a) > 2 ** limits.MAX_INT_BITS):
            raise CodeError("that power is far too large for a layer size", line)
        return
    if isinstance(op, ast.Mult) and isinstance(a, (str, list, tuple)) and isinstance(b, int) \
            or isinstance(op, ast.Mult) and isinstance(b, (str, list, tuple)) and isinstance(a, int):
        seq, n = (a, b) if isinstance(b, int) else (b, a)
        if len(seq) * max(n, 0) > limits.MAX_SEQUENCE:
            raise CodeError(f"that repetition makes more than {limits.MAX_SEQUENCE:,} items",
                            line)
        return
    if isinstance(op, ast.Add) and type(a) is type(b) and isinstance(a, (str, list, tuple)):
        return
    if isinstance(op, ast.Mod) and isinstance(a, str) and (
            isinstance(b, PLAIN) or isinstance(b, tuple) and all(isinstance(x, PLAIN) for x in b)):
        return
    raise CodeError(f"unsupported operation {type(op).__name__} between {_kind(a)} and "
                    f"{_kind(b)}", line)


def _check_size(v: Any, e: ast.AST) -> None:
    line = getattr(e, "lineno", None)
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > limits.MAX_INT_BITS:
        raise CodeError(f"the number is larger than 2**{limits.MAX_INT_BITS}", line)
    if isinstance(v, (str, list, tuple, dict)) and len(v) > limits.MAX_SEQUENCE:
        raise CodeError(f"more than {limits.MAX_SEQUENCE:,} items in one list or text", line)


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
    raise CodeError(f"nn.{name}(...) takes numbers, text, tuples and layers, not {_kind(v)}",
                    line)


def _rephrase(exc: Exception, name: str) -> str:
    text = str(exc).split("\n")[0]
    for prefix in (f"{name}.__init__()", "__init__()"):
        text = text.replace(prefix, f"nn.{name}()")
    return text
