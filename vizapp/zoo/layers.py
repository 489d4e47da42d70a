"""Small building helpers shared by the family modules."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from vizapp.meta import meta_forward

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
        x = torch.empty(1, in_channels, height, width, device="meta")
        y = meta_forward(features, x)
        n = int(y[0].numel())
        return n if n > 0 else fallback
    except Exception:  # too-small input, channel mismatch: reported by the analysis
        return fallback
