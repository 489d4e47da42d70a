"""What a ``forward`` written in the code box may do with tensors: a whitelist of
``torch.nn.functional`` / ``torch`` functions and tensor methods, called with plain arguments
only, each checked on the meta device before it runs on real data (no operation may make a
tensor larger than :data:`~.limits.MAX_TENSOR_ELEMENTS`).

Under ``torch.fx`` (the analysis) the values are ``fx.Proxy`` objects and under the analysis'
meta runs meta tensors: neither holds memory, so neither needs the check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

from vizapp.i18n import msg

from . import limits

# torch.nn.functional as d2l and seed 003 use it (activations, pools, dropout, reshaping)
FUNCTIONAL = (
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardswish",
    "hardsigmoid", "hardtanh", "sigmoid", "tanh", "softmax", "log_softmax", "softplus",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "dropout", "dropout2d",
    "local_response_norm", "normalize", "pad", "interpolate", "pixel_shuffle",
)
# torch.<name>: joining, reshaping, arithmetic, reductions
TORCH_FUNCTIONS = (
    "cat", "concat", "stack", "flatten", "add", "sub", "mul", "div", "relu", "sigmoid", "tanh",
    "softmax", "mean", "sum", "amax", "squeeze", "unsqueeze", "transpose", "permute", "reshape",
    "chunk", "split", "exp", "maximum", "minimum",
)
# x.<name>(...)
TENSOR_METHODS = (
    "view", "reshape", "flatten", "size", "permute", "transpose", "contiguous", "squeeze",
    "unsqueeze", "mean", "sum", "amax", "relu", "sigmoid", "tanh", "softmax", "dim", "numel",
    "chunk", "split", "view_as", "reshape_as", "add", "mul", "sub", "div", "exp", "clone",
)
TENSOR_ATTRIBUTES = ("shape", "ndim")
# operations whose result is never larger than their largest input (or a few values more: a
# pooling window's padding): they skip the meta-device size check, which costs more than the
# operation on small tensors. Everything else (joins, padding, interpolation, adaptive pools,
# broadcasting arithmetic, indexing) is sized first.
NEVER_GROWS = frozenset({
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardswish",
    "hardsigmoid", "hardtanh", "sigmoid", "tanh", "softmax", "log_softmax", "softplus",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "dropout", "dropout2d",
    "local_response_norm", "normalize", "pixel_shuffle", "flatten", "squeeze", "unsqueeze",
    "transpose", "permute", "reshape", "view", "contiguous", "size", "dim", "numel", "mean",
    "sum", "amax", "chunk", "split", "view_as", "reshape_as", "exp", "clone", "-",
})


class Functional:
    """``F`` / ``nn.functional`` / ``torch.nn.functional`` in the box."""

    def __repr__(self) -> str:
        return "F"


FUNCTIONAL_NS = Functional()


@dataclass(frozen=True)
class TensorFunction:
    """``F.relu``, ``torch.cat`` …: a whitelisted function."""

    name: str  # as written: "F.relu", "torch.cat"
    fn: Callable[..., Any]


@dataclass(frozen=True)
class TensorMethod:
    """``x.view`` bound to a tensor (or an fx proxy of one)."""

    obj: Any
    name: str


def is_tensor(v: Any) -> bool:
    return isinstance(v, (torch.Tensor, fx.Proxy))


def functional(name: str) -> TensorFunction | None:
    return TensorFunction(f"F.{name}", getattr(F, name)) if name in FUNCTIONAL else None


def torch_function(name: str) -> TensorFunction | None:
    return TensorFunction(f"torch.{name}", getattr(torch, name)) if name in TORCH_FUNCTIONS \
        else None


def _plain(v: Any, depth: int = 0) -> bool:
    if depth > 4:
        return False
    if is_tensor(v) or v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)) and len(v) <= limits.MAX_SEQUENCE:
        return all(_plain(x, depth + 1) for x in v)
    return False


def _real(v: Any) -> bool:
    if isinstance(v, torch.Tensor):
        return v.device.type != "meta"
    if isinstance(v, (list, tuple)):
        return any(_real(x) for x in v)
    return False


def _meta(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.detach().to("meta")
    if isinstance(v, (list, tuple)):
        return type(v)(_meta(x) for x in v) if type(v) in (list, tuple) else tuple(
            _meta(x) for x in v)
    return v


def _sizes(v: Any) -> list[int]:
    if isinstance(v, torch.Tensor):
        return [v.numel()]
    if isinstance(v, (list, tuple)):
        return [n for x in v for n in _sizes(x)]
    return []


def checked_call(what: str, fn: Callable[..., Any], args: list[Any],
                 kwargs: dict[str, Any]) -> Any:
    """``fn(*args, **kwargs)`` for a whitelisted tensor operation: plain arguments only, and on
    real tensors the result's size is learnt on the meta device first (CodeError, never an
    allocation, when it is too large). Errors from the operation itself pass unchanged (the
    analysis names them)."""
    from .check import CodeError

    if "out" in kwargs or not all(_plain(v) for v in [*args, *kwargs.values()]):
        raise CodeError(msg("{what}(...) takes tensors, numbers and tuples here", what=what))
    if what.rsplit(".", 1)[-1] not in NEVER_GROWS and (_real(args) or
                                                       _real(list(kwargs.values()))):
        with torch.no_grad():
            shaped = fn(*_meta(args), **{k: _meta(v) for k, v in kwargs.items()})
        big = max(_sizes(shaped), default=0)
        if big > limits.MAX_TENSOR_ELEMENTS:
            raise CodeError(msg("{what}(...) would make a tensor of {n:,} values (at most "
                                "{cap:,})", what=what, n=big, cap=limits.MAX_TENSOR_ELEMENTS))
    return fn(*args, **kwargs)


def call_module(module: nn.Module, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """``self.conv1(x)`` inside ``forward``: tensors in, through the module's own ``__call__``
    (so fx records it and hooks see it)."""
    from .check import CodeError

    if kwargs or not args or not all(is_tensor(a) for a in args):
        raise CodeError(msg("a layer is called with tensors only, e.g. self.conv1(x)"))
    return module(*args)

