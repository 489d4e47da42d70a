"""Your own model: the code box's language, evaluated safely.

``evaluate(code)`` → ``nn.Module``. The code is parsed with :mod:`ast`, checked against a
whitelist (:mod:`.check`) and run by a small interpreter (:mod:`.interp`) that knows only
``torch.nn`` layer classes, ``OrderedDict``, lists/tuples/dicts, ``for``/``if``, ``def`` helpers,
``add_module``/``append``/``extend`` and a few builtins (``range``, ``len`` …). The model is the
last expression, or the variable ``net`` or ``model``. It is always built on the meta device
first; above :data:`limits.MAX_PARAMS` parameters it is refused before any memory is taken.

Classes (``class Net(nn.Module)`` with ``__init__`` and ``forward``) are interpreted too
(:mod:`.boxclass`): ``__init__`` in the sandbox like the rest of the code, ``forward`` by the same
interpreter with the tensor operations of :mod:`.tensor_ops` only. With :func:`allow_code` on (the
environment variable ``VIZAPP_ALLOW_CODE=1``, set by ``vizapp app --allow-code`` on a personal
computer), code with classes runs as ordinary Python instead (:mod:`.trusted`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from vizapp.i18n import msg

from . import limits
from .check import CodeError, has_class, parse
from .sandbox import Description, describe, rebuild

ALLOW_ENV = "VIZAPP_ALLOW_CODE"

__all__ = ["CodeError", "Built", "allow_code", "evaluate", "build", "summary", "limits",
           "refusal"]


def allow_code() -> bool:
    """True when this process was started with the arbitrary-Python opt-in."""
    return os.environ.get(ALLOW_ENV, "") == "1"


@dataclass
class Built:
    """A model built from the box and its description (None for --allow-code classes)."""

    model: nn.Module
    description: Description | None
    trusted: bool = False  # built by exec (the --allow-code opt-in)


def _trusted(source: str) -> bool:
    return allow_code() and has_class(parse(source)) is not None


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _check_params(n: int) -> None:
    if n > limits.MAX_PARAMS:
        raise CodeError(msg("the model has {n:,} parameters; the app builds at most "
                            "{max_params:,} (make the layers smaller)", n=n,
                            max_params=limits.MAX_PARAMS))


def _build_trusted(source: str) -> Built:
    from .trusted import run_trusted

    with torch.device("meta"):
        _check_params(count_params(run_trusted(source)))
    if torch.get_default_device().type == "meta":
        with torch.device("meta"):
            return Built(run_trusted(source), None, trusted=True)
    return Built(run_trusted(source), None, trusted=True)


def build(source: str, input_shape: tuple[int, ...] | None = None) -> Built:
    """The model: evaluated in a sandboxed process (:func:`sandbox.describe`, cached) and
    rebuilt here from its description, on the caller's default device; ``input_shape``
    (C, H, W) sizes lazy layers. Raises :class:`CodeError`."""
    if _trusted(source):
        return _build_trusted(source)
    desc = describe(source, input_shape)
    return Built(rebuild(desc), desc)


def evaluate(source: str, input_shape: tuple[int, ...] | None = None) -> nn.Module:
    """The model the code describes (see :func:`build`)."""
    return build(source, input_shape).model


@dataclass(frozen=True)
class Summary:
    params: int
    layers: int
    trusted: bool


def summary(source: str, input_shape: tuple[int, ...] | None = None) -> Summary:
    """Check ``source`` (in the sandbox; cached): raises CodeError, else a small summary."""
    if _trusted(source):
        with torch.device("meta"):
            m = _build_trusted(source).model
        return Summary(count_params(m), sum(1 for _ in m.modules()), True)
    desc = describe(source, input_shape)
    return Summary(desc.params, desc.layers, False)


def refusal(source: str, input_shape: tuple[int, ...] | None = None) -> CodeError | None:
    """Why ``source`` is refused (its line and column as fields), or None when it builds."""
    try:
        summary(source, input_shape)
    except CodeError as exc:
        return exc
    return None
