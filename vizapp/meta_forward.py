"""One home for running modules on the meta device (shapes without memory or arithmetic).

A module is *on meta* when every parameter and buffer it has is a meta tensor (a module with
none is on meta too: it holds nothing real). :func:`meta_state` gives meta stand-ins for a
module's real tensors, so it can run on meta without being changed or copied. (Building a
model on meta in the first place is :mod:`vizapp.zoo.meta_build`.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def is_meta(module: nn.Module) -> bool:
    """True when the module holds no real tensors (all parameters/buffers meta, or none)."""
    tensors = [*module.parameters(), *module.buffers()]
    return all(t.is_meta for t in tensors)


def meta_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """Meta stand-ins for every parameter and buffer (meta ones are used as they are)."""
    state: dict[str, torch.Tensor] = {}
    for k, t in [*module.named_parameters(), *module.named_buffers()]:
        state[k] = t if t.is_meta else torch.empty_like(t, device="meta")
    return state


def meta_forward(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """``module(*args)`` on meta tensors, without touching the module's own weights."""
    with torch.no_grad():
        if is_meta(module):
            return module(*args, **kwargs)
        return torch.func.functional_call(module, meta_state(module), args, kwargs)
