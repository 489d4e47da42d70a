"""Build a model without its weights: every parameter and buffer on the ``meta`` device.

``with torch.device("meta")`` is the usual way, but some builders do arithmetic with real
tensors while they build (torchvision's RegNets compute their widths with ``torch.arange`` and
``.tolist()``), which fails on meta. For those, only the *factory* calls that create
parameters and buffers (``torch.empty``/``zeros``/``ones``/``full`` without a device) are sent
to meta; the builder's own arithmetic stays on the CPU. Either way no weight memory is used.
(Running a module on meta is :mod:`vizapp.meta_forward`.)"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

_FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full}


class _ParamsOnMeta(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = dict(kwargs or {})
        if func in _FACTORIES and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def build_meta(spec: Any) -> nn.Module:
    """The spec's module with meta parameters and buffers (validated first, like build_model)."""
    from .registry import build_model

    try:
        with torch.device("meta"):
            return build_model(spec)
    except (NotImplementedError, RuntimeError):
        pass
    with _ParamsOnMeta():
        return build_model(spec)


def weight_bytes(model: nn.Module) -> int:
    """Bytes of a model's parameters and buffers as stored (works on meta modules)."""
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
