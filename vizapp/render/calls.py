"""A layer written as a student writes it — ``nn.Conv2d(1, 6, kernel_size=5, padding=2)`` —
from the fields of its analysis record (its type and settings), defaults left out as d2l leaves
them out. The exercise's prompts use it, so a question shows everything its answer needs."""

from __future__ import annotations

from typing import Any

_CONV = ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d")
_POOL = ("MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d")


def _one(v: Any) -> Any:
    """``(5, 5)`` → ``5``: a square setting written once."""
    if isinstance(v, (tuple, list)) and v and all(x == v[0] for x in v):
        return v[0]
    return tuple(v) if isinstance(v, list) else v


def layer_call(module_type: str, attrs: Any) -> str | None:
    """``nn.Conv2d(1, 6, kernel_size=5, padding=2)``, ``nn.MaxPool2d(kernel_size=3,
    stride=2)``, ``nn.Linear(400, 120)``, ``nn.BatchNorm2d(6)``, ``nn.ReLU()``; None when the
    record does not say enough (a block, an op of a forward)."""
    a = dict(attrs or ())
    t = module_type
    if t in _CONV and {"in", "out", "kernel"} <= set(a):
        parts = [str(a["in"]), str(a["out"]), f"kernel_size={_one(a['kernel'])}"]
        for key, name, default in (("stride", "stride", 1), ("padding", "padding", 0),
                                   ("dilation", "dilation", 1), ("groups", "groups", 1)):
            if key in a and _one(a[key]) != default:
                parts.append(f"{name}={_one(a[key])}")
        return f"nn.{t}({', '.join(parts)})"
    if t in _POOL and "kernel" in a:
        k = _one(a["kernel"])
        parts = [f"kernel_size={k}"]
        if "stride" in a:  # always said: its default (the kernel) surprises a student
            parts.append(f"stride={_one(a['stride'])}")
        for key, default in (("padding", 0), ("dilation", 1)):
            if key in a and _one(a[key]) != default:
                parts.append(f"{key}={_one(a[key])}")
        return f"nn.{t}({', '.join(parts)})"
    if t == "Linear" and {"in", "out"} <= set(a):
        return f"nn.Linear({a['in']}, {a['out']})"
    if t.startswith("BatchNorm") and "features" in a:
        return f"nn.{t}({a['features']})"
    if t.startswith("Adaptive") and "output_size" in a:
        return f"nn.{t}({_one(a['output_size'])})"
    if not a and t[:1].isupper() and t.isidentifier():
        return f"nn.{t}()"
    return None
