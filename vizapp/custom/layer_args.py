"""What a ``torch.nn`` layer may be given, checked before it is built.

One rule for the code box's interpreter and for the rebuild of a model description (see
:mod:`.sandbox`): every argument is matched against the constructor's own type annotation
(``start_dim: int``, ``padding: str | int | tuple[int, int]``, ``padding_mode:
Literal['zeros', …]``); text is accepted only where the layer takes text, and then only one of
the words that layer knows (``padding='same'``, ``mode='bilinear'``, ``activation='gelu'``);
``device``/``dtype`` keywords are refused (the app decides where a model lives); integers are
bounded (a size of 10⁹ is not a layer, it is a way to hang the server). Anything else is a
:class:`~.check.CodeError` naming the layer and the argument.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from vizapp.i18n import msg

from .check import CodeError

MAX_INT = 2 ** 31 - 1  # any integer argument
# arguments that make the constructor (or the analysis) loop over them in Python
MAX_COUNT = {"num_layers": 100, "num_encoder_layers": 100, "num_decoder_layers": 100,
             "output_size": 4096, "num_heads": 4096, "groups": 1 << 20}
REFUSED = {"device", "dtype", "factory_kwargs", "_weight", "_freeze", "_random_samples",
           "custom_encoder", "custom_decoder"}
# the words each text argument knows (PyTorch's own lists)
WORDS: dict[str, frozenset[str]] = {
    "padding": frozenset({"same", "valid"}),
    "padding_mode": frozenset({"zeros", "reflect", "replicate", "circular"}),
    "mode": frozenset({"nearest", "linear", "bilinear", "bicubic", "trilinear", "area",
                       "nearest-exact", "sum", "mean", "max"}),
    "nonlinearity": frozenset({"tanh", "relu"}),
    "activation": frozenset({"relu", "gelu"}),
    "approximate": frozenset({"none", "tanh"}),
    "reduction": frozenset({"none", "mean", "sum", "batchmean"}),
    "upscale_factor": frozenset(),
}
# constructors taking *args/**kwargs: the signature their arguments really follow
_RNN_HINTS = {"input_size": int, "hidden_size": int, "num_layers": int, "bias": bool,
              "batch_first": bool, "dropout": float, "bidirectional": bool, "proj_size": int}
_RNN_ORDER = ("input_size", "hidden_size", "num_layers")
_CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}


def _say_value(v: Any) -> str:
    text = repr(v) if isinstance(v, (int, float, bool, type(None))) else type(v).__name__
    if isinstance(v, str):
        text = repr(v[:20] + ("…" if len(v) > 20 else ""))
    return text


def _refuse(layer: str, arg: str, v: Any, want: str) -> CodeError:
    return CodeError(msg("nn.{layer}(...): {arg}={value} is not allowed; {arg} takes {want}",
                         layer=layer, arg=arg, value=_say_value(v), want=want))


@lru_cache(maxsize=512)
def _signature(name: str) -> tuple[tuple[str, ...], dict[str, Any], bool]:
    """(parameter names in order, their annotations, whether it takes ``*args``)."""
    cls = getattr(nn, name)
    if name in ("RNN", "LSTM", "GRU"):
        return _RNN_ORDER, {**_RNN_HINTS, "nonlinearity": str}, False
    sig = inspect.signature(cls.__init__)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the plain rule
        hints = {}
    names = tuple(p.name for p in sig.parameters.values()
                  if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    var = any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values())
    return names, {n: hints.get(n, Any) for n in names}, var


def _fits(v: Any, hint: Any, arg: str) -> bool:
    """Does the plain value ``v`` fit the annotation ``hint``? (text only from :data:`WORDS`)"""
    if hint is Any or hint is inspect.Parameter.empty:
        return _scalar(v)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(v, h, arg) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return isinstance(v, str) and v in typing.get_args(hint)
    if hint is type(None) or hint is None:
        return v is None
    if hint is bool:
        return type(v) is bool
    if hint is int:
        return type(v) is int
    if hint is float:
        return type(v) in (int, float) and not (type(v) is float and math.isnan(v))
    if hint is str:
        return isinstance(v, str) and v in WORDS.get(arg, ())
    if origin in (tuple, list, Sequence) or hint is torch.Size:
        if type(v) not in (tuple, list):
            return False
        params = typing.get_args(hint)
        if hint is torch.Size:
            params = (int, ...)
        if len(params) == 2 and params[1] is Ellipsis:
            return all(_fits(x, params[0], arg) for x in v)
        if params:
            return len(params) == len(v) and all(_fits(x, h, arg) for x, h in zip(v, params))
        return all(_scalar(x) for x in v)
    if inspect.isclass(hint) and issubclass(hint, nn.Module):
        return isinstance(v, hint)
    if origin is Callable or hint is Callable:
        return isinstance(v, str) and v in WORDS.get(arg, ())
    return False  # a tensor, a callable, an options object …: not from the box


def _scalar(v: Any) -> bool:
    return type(v) in (bool, int, float, type(None)) and not (type(v) is float and math.isnan(v))


def _want(hint: Any, arg: str) -> str:
    words = ", ".join(repr(w) for w in sorted(WORDS.get(arg, ())))
    if hint is str and words:
        return msg("one of {words}", words=words)
    if "str" in str(hint) and words:
        return msg("{type} (text only as one of {words})", type=_hint_text(hint), words=words)
    if typing.get_origin(hint) is typing.Literal:
        return msg("one of {words}", words=", ".join(repr(w) for w in typing.get_args(hint)))
    return _hint_text(hint)


def _hint_text(hint: Any) -> str:
    if hint is Any:
        return msg("a number, True/False or None")
    text = str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")
    return text.replace("NoneType", "None").replace("torch.nn.modules.module.Module", "nn.Module")


def _bounded(layer: str, arg: str, v: Any) -> None:
    cap = MAX_COUNT.get(arg, MAX_INT)
    for x in (v if type(v) in (tuple, list) else (v,)):
        if type(x) is int and abs(x) > cap:
            raise CodeError(msg("nn.{layer}(...): {arg}={value:,} is too large (at most {cap:,} "
                                "here)", layer=layer, arg=arg, value=x, cap=cap))


def check_layer_call(layer: str, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """Raise :class:`CodeError` unless ``nn.<layer>(*args, **kwargs)`` gets what it takes."""
    if layer in _CONTAINERS:
        for v in [*args, *kwargs.values()]:
            _check_container_arg(layer, v)
        return
    names, hints, var = _signature(layer)
    for k in kwargs:
        if k in REFUSED:
            raise CodeError(msg("nn.{layer}(...): the {arg}= argument is not allowed here (the "
                                "app decides where and in which precision a model is built)",
                                layer=layer, arg=k))
        if k not in names and not (layer in ("RNN", "LSTM", "GRU") and k in hints):
            raise CodeError(msg("nn.{layer}(...) has no argument {arg}", layer=layer, arg=k))
    if len(args) > len(names) and not var:
        raise CodeError(msg("nn.{layer}(...) takes at most {n} arguments but {k} were given",
                            layer=layer, n=len(names), k=len(args)))
    for v in args[len(names):]:  # nn.Identity(*args): ignored by the layer, plain values only
        if not _scalar(v):
            raise _refuse(layer, "*args", v, _hint_text(Any))
    named = list(zip(names, args)) + list(kwargs.items())
    for arg, v in named:
        hint = hints.get(arg, Any)
        if isinstance(v, nn.Module) and not (inspect.isclass(hint) and issubclass(hint, nn.Module)
                                             or "Module" in str(hint)):
            raise _refuse(layer, arg, v, _want(hint, arg))
        if not isinstance(v, nn.Module) and not _fits(v, hint, arg):
            raise _refuse(layer, arg, v, _want(hint, arg))
        _bounded(layer, arg, v)


def _check_container_arg(layer: str, v: Any) -> None:
    if isinstance(v, nn.Module):
        return
    if isinstance(v, dict):  # OrderedDict / dict of layers
        for k, x in v.items():
            if not isinstance(k, str) or not isinstance(x, nn.Module):
                raise CodeError(msg("nn.{layer}(...) takes layers (a dict of name → layer)",
                                    layer=layer))
        return
    if isinstance(v, (list, tuple)):
        for x in v:
            ok = isinstance(x, nn.Module) or (isinstance(x, (list, tuple)) and len(x) == 2
                                              and isinstance(x[0], str)
                                              and isinstance(x[1], nn.Module))
            if not ok:
                raise CodeError(msg("nn.{layer}(...) takes layers", layer=layer))
        return
    raise CodeError(msg("nn.{layer}(...) takes layers, not {what}", layer=layer,
                        what=type(v).__name__))


# ------------------------------------------------------------- a layer's arguments, read back
_SQUARE = {"kernel_size", "stride", "padding", "dilation"}
# required constructor arguments written positionally (the rest by name, as d2l writes them)
_POSITIONAL = {"in_channels", "out_channels", "in_features", "out_features", "num_features",
               "normalized_shape", "num_groups", "num_channels", "size"}
_SKIP_ARGS = {"self", "device", "dtype"}


class NotPlain(Exception):
    pass


def plain(v: Any) -> Any:
    """``v`` as a plain literal value, or raise :class:`NotPlain`."""
    if isinstance(v, torch.Size):
        return tuple(int(x) for x in v)
    if type(v) in (bool, int, float, str, type(None)):
        return v
    if type(v) in (tuple, list):
        return type(v)(plain(x) for x in v)
    raise NotPlain


def _squash(name: str, v: Any) -> Any:
    if name in _SQUARE and isinstance(v, tuple) and v and all(x == v[0] for x in v):
        return v[0]
    return v


def call_values(m: nn.Module, sig: inspect.Signature) -> tuple[list, list] | None:
    """The layer's constructor arguments read back from its attributes: (positional values,
    [(name, value)] keywords), defaults left out; None when a required one cannot be read or
    is not a plain value. (The Code page writes constructors from these; the sandbox describes
    a lazy layer materialised by its input with them.)"""
    pos: list[Any] = []
    kw: list[tuple[str, Any]] = []
    for p in sig.parameters.values():
        if p.name in _SKIP_ARGS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(m, p.name):
            if p.default is p.empty:
                return None
            continue
        v = getattr(m, p.name)
        if isinstance(v, torch.Tensor) or v is None and p.name == "bias":
            v = v is not None  # bias=True/False
        try:
            v = _squash(p.name, plain(v))
        except NotPlain:
            return None
        if p.default is p.empty:
            if kw or p.name not in _POSITIONAL:  # by name, like kernel_size=5
                kw.append((p.name, v))
            else:
                pos.append(v)
        elif not _same(v, p.default):
            kw.append((p.name, v))
    return pos, kw


def _same(a: Any, b: Any) -> bool:
    """Equal to the default (bools only equal bools; 1 == 1.0 counts for numbers)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001
        return False


