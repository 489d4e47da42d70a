"""Small building helpers shared by the family modules."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from vizapp.meta_forward import meta_forward

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


def fit_input_knob():
    """The ``fit_input`` knob of families whose classifier starts with a Linear on the
    flattened features (a fresh dataclass field each call)."""
    from .base import knob

    return knob(True, label="size fc1 to the input",
                help="On: the first Linear layer's in_features follow the input size (the row "
                     "says when it differs from the seed's number). Off: build it as the seed "
                     "wrote it — another input size then fails at fc1, as it would in PyTorch.")


def first_linear(features: nn.Module, cfg, out_features: int) -> nn.Linear:
    """The first Linear after ``features`` + Flatten. Its in_features as the seed writes them
    are the flattened size at the family's default input (16·5·5 = 400 for LeNet on 28×28);
    with ``cfg.fit_input`` they follow the actual input instead, and the layer remembers the
    seed's number (``seed_in_features``) so the analysis can say it was resized, and that it
    follows the input (``fits_input``: the minimum-input search ignores its in_features)."""
    defaults = type(cfg)()
    seed_in = flat_features(features, cfg.in_channels, defaults.height, defaults.width, 1)
    if not cfg.fit_input:
        return nn.Linear(seed_in, out_features)
    n = flat_features(features, cfg.in_channels, cfg.height, cfg.width, seed_in)
    lin = nn.Linear(n, out_features)
    lin.fits_input = True  # rebuilt for every input size: a mismatch here is not the input's fault
    if n != seed_in:
        lin.seed_in_features = seed_in
    return lin
