"""The values the code box's interpreter hands around besides plain data: the ``nn`` namespace,
layer classes, builtins and bound methods. Calling anything else is refused."""

from __future__ import annotations

import difflib
import operator
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from torch import nn

from vizapp.i18n import msg

from . import limits
from .tensor_ops import FUNCTIONAL_NS


class Namespace:
    """``nn`` (or ``torch``): attribute access resolves layer classes only."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NN = Namespace("nn")
TORCH = Namespace("torch")


@lru_cache(maxsize=1)
def layer_names() -> tuple[str, ...]:
    """Every ``torch.nn`` class that is an ``nn.Module`` (Conv2d, Sequential, …)."""
    return tuple(sorted(n for n in dir(nn) if not n.startswith("_") and "Parallel" not in n
                        and isinstance(getattr(nn, n), type)
                        and issubclass(getattr(nn, n), nn.Module)))


@dataclass(frozen=True)
class Layer:
    """``nn.<name>``: a layer class the box may instantiate."""

    name: str

    @property
    def cls(self) -> type:
        return getattr(nn, self.name)


def layer(name: str) -> Layer:
    from .check import CodeError

    if name in layer_names():
        return Layer(name)
    close = difflib.get_close_matches(name, layer_names(), n=3, cutoff=0.6)
    lower = [n for n in layer_names() if n.lower() == name.lower()]
    hint = lower or close
    if hint:
        raise CodeError(msg("torch.nn has no layer {name}: did you mean nn.{hint}?", name=name,
                            hint=hint[0]))
    raise CodeError(msg("torch.nn has no layer {name} (the box builds torch.nn layers such as "
                        "Conv2d, Linear, ReLU, MaxPool2d, BatchNorm2d, Flatten, Sequential)",
                        name=name))


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class Method:
    """``obj.add_module`` / ``obj.append`` / ``obj.extend`` bound to an allowed object."""

    obj: Any
    name: str


def _range(*args: int) -> range:
    from .check import CodeError

    if not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        raise CodeError(msg("range() takes integers"))
    r = range(*args)
    if len(r) > limits.MAX_RANGE:
        raise CodeError(msg("range(...) has {n:,} steps; the box allows at most {max_range:,}",
                            n=len(r), max_range=limits.MAX_RANGE))
    return r


def _sum(items: Any, start: Any = 0) -> Any:
    from .check import CodeError

    items = list(items)
    if not all(isinstance(x, (int, float)) for x in [start, *items]):
        raise CodeError(msg("sum() adds numbers only"))
    return sum(items, start)


def _str(x: Any = "") -> str:
    from .check import CodeError

    if not isinstance(x, (int, float, str, bool)) and x is not None:
        raise CodeError(msg("str() takes a number or text here"))
    return str(x)


def _print(*args: Any, **kwargs: Any) -> None:
    return None  # accepted and ignored: the app shows the model instead


BUILTINS: dict[str, Any] = {b.name: b for b in (
    Builtin("range", _range), Builtin("len", len), Builtin("list", list),
    Builtin("tuple", tuple), Builtin("dict", dict), Builtin("zip", zip),
    Builtin("enumerate", enumerate), Builtin("min", min), Builtin("max", max),
    Builtin("sum", _sum), Builtin("abs", abs), Builtin("int", int), Builtin("float", float),
    Builtin("round", round), Builtin("reversed", reversed), Builtin("bool", bool),
    Builtin("str", _str), Builtin("print", _print), Builtin("OrderedDict", OrderedDict),
)}
BUILTINS.update({"nn": NN, "torch": TORCH, "F": FUNCTIONAL_NS, "True": True, "False": False,
                 "None": None})

BINOPS: dict[type, Callable[[Any, Any], Any]] = {}


def _binops() -> dict[type, Callable[[Any, Any], Any]]:
    import ast

    return {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
            ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
            ast.Pow: operator.pow}


BINOPS.update(_binops())
