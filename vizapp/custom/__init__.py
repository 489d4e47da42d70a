"""Your own model: the code box's language, evaluated safely.

``evaluate(code)`` → ``nn.Module``. The code is parsed with :mod:`ast`, checked against a
whitelist (:mod:`.check`) and run by a small interpreter (:mod:`.interp`) that knows only
``torch.nn`` layer classes, ``OrderedDict``, lists/tuples/dicts, ``for``/``if``, ``def`` helpers,
``add_module``/``append``/``extend`` and a few builtins (``range``, ``len`` …). The model is the
last expression, or the variable ``net`` or ``model``. It is always built on the meta device
first; above :data:`limits.MAX_PARAMS` parameters it is refused before any memory is taken.

Classes with ``forward()`` are arbitrary Python: refused unless :func:`allow_code` is on (the
environment variable ``VIZAPP_ALLOW_CODE=1``, set by ``vizapp app --allow-code`` on a
personal computer), in which case :mod:`.trusted` runs them with ``exec``.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from vizapp.i18n import msg

from . import limits
from .check import CodeError, check, has_class, parse
from .interp import Interpreter

ALLOW_ENV = "VIZAPP_ALLOW_CODE"
MODEL_NAMES = ("net", "model")

__all__ = ["CodeError", "Built", "allow_code", "evaluate", "build", "summary", "limits"]


def allow_code() -> bool:
    """True when this process was started with the arbitrary-Python opt-in."""
    return os.environ.get(ALLOW_ENV, "") == "1"


@dataclass
class Built:
    """A model built from the box and, per module path, the call that created it."""

    model: nn.Module
    sites: dict[str, ast.Call]
    trusted: bool = False  # built by exec (the --allow-code opt-in)


def _pick(interp: Interpreter, last: object, tree: ast.Module) -> nn.Module:
    if isinstance(last, nn.Module) and isinstance(tree.body[-1], ast.Expr):
        return last
    for name in MODEL_NAMES:
        if isinstance(interp.scope.get(name), nn.Module):
            return interp.scope[name]
    raise CodeError(msg("the box must end with the model: an expression like nn.Sequential(...), "
                        "or a variable named net or model"))


def _interpret(tree: ast.Module) -> Built:
    interp = Interpreter(tree)
    try:
        last = interp.run()
    except RecursionError:
        raise CodeError(msg("the code nests too deeply")) from None
    model = _pick(interp, last, tree)
    sites = {path: interp.sites[id(m)] for path, m in model.named_modules()
             if id(m) in interp.sites}
    return Built(model, sites)


def _build_once(source: str) -> Built:
    tree = parse(source)
    cls = has_class(tree)
    if cls is not None and allow_code():
        from .trusted import run_trusted
        return Built(run_trusted(source), {}, trusted=True)
    check(tree)
    return _interpret(tree)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build(source: str) -> Built:
    """Build on meta, check the caps, then (unless the caller's default device is meta) build
    again for real. Raises :class:`CodeError`."""
    with torch.device("meta"):
        built = _build_once(source)
    n = count_params(built.model)
    if n > limits.MAX_PARAMS:
        raise CodeError(msg("the model has {n:,} parameters; the app builds at most "
                            "{max_params:,} (make the layers smaller)", n=n,
                            max_params=limits.MAX_PARAMS))
    if torch.get_default_device().type == "meta":
        return built
    return _build_once(source)


def evaluate(source: str) -> nn.Module:
    """The model the code describes (see :func:`build`)."""
    return build(source).model


@dataclass(frozen=True)
class Summary:
    params: int
    layers: int
    trusted: bool


@lru_cache(maxsize=256)
def summary(source: str) -> Summary:
    """Check ``source`` (meta build only; cached): raises CodeError, else a small summary."""
    with torch.device("meta"):
        built = _build_once(source)
    n = count_params(built.model)
    if n > limits.MAX_PARAMS:
        raise CodeError(msg("the model has {n:,} parameters; the app builds at most "
                            "{max_params:,} (make the layers smaller)", n=n,
                            max_params=limits.MAX_PARAMS))
    return Summary(n, sum(1 for _ in built.model.modules()), built.trusted)
