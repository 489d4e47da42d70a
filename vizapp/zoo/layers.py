"""Small building helpers shared by the family modules."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def seq(*items: tuple[str, nn.Module]) -> nn.Sequential:
    """``nn.Sequential`` with named children (the seed page 003's OrderedDict style)."""
    return nn.Sequential(OrderedDict(items))


def flat_features(features: nn.Module, in_channels: int, height: int, width: int,
                  fallback: int) -> int:
    """The in_features a Linear after ``features`` + Flatten needs for this input, computed by
    running ``features`` on a meta tensor (no memory, no arithmetic). If the input is too small
    for the feature extractor, return ``fallback`` so the model still builds and the analysis
    can point at the layer that fails (and the smallest input that works)."""
    try:
        with torch.no_grad():
            x = torch.empty(1, in_channels, height, width, device="meta")
            y = features.to("meta")(x) if _on_meta(features) else _meta_forward(features, x)
        n = int(y[0].numel())
        return n if n > 0 else fallback
    except Exception:  # too-small input, channel mismatch: reported by the analysis
        return fallback


def _on_meta(m: nn.Module) -> bool:
    p = next(iter(m.parameters()), None)
    return p is not None and p.is_meta


def _meta_forward(features: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``features`` on meta without touching its real weights: a meta copy of each
    parameter is swapped in via ``torch.func.functional_call``."""
    params = {k: torch.empty_like(v, device="meta") for k, v in features.named_parameters()}
    buffers = {k: torch.empty_like(v, device="meta") for k, v in features.named_buffers()}
    return torch.func.functional_call(features, {**params, **buffers}, (x,))
