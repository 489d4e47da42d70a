"""Inside the network while it learns: per layer, the weights' and gradients' norms and
distributions, and the mean/std/distribution of what each BatchNorm and activation puts out.

Sampled on the steps the loop logs anyway (a few a second at most): forward hooks that do
nothing unless armed for that step, one strided sample of at most :data:`SAMPLE` values per
tensor for the histogram (norm, mean and std use the whole tensor). Why sigmoid without
BatchNorm stalls shows here: the sigmoid outputs pile up near 0 and 1 (``saturated``) and the
first layers' gradients are orders of magnitude smaller than the last ones'."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from .fit import ACTIVATIONS
from .records import LayerStats

SAMPLE = 4096  # values of one tensor in its histogram
BINS = 24
MAX_LAYERS = 16  # of each kind (parameter layers; BatchNorms and activations)
BOUNDED = {nn.Sigmoid: (0.0, 1.0), nn.Tanh: (-1.0, 1.0)}


def _stats(t: torch.Tensor, bounds: tuple[float, float] | None = None) -> tuple:
    v = t.detach().float().flatten()
    if v.numel() == 0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, (0,) * BINS, None
    stride = max(1, v.numel() // SAMPLE)
    sample = v[::stride][:SAMPLE]
    sample = sample[torch.isfinite(sample)]  # a diverging run: its NaNs are not binned
    if sample.numel() == 0:
        nan = float("nan")
        return nan, nan, nan, nan, nan, (0,) * BINS, None
    lo, hi = float(sample.min()), float(sample.max())
    if hi <= lo:
        hi = lo + 1e-12
    counts = tuple(int(c) for c in torch.histc(sample, BINS, lo, hi).tolist())
    sat = None
    if bounds is not None:
        a, b = bounds
        sat = float(((v <= a + 0.05) | (v >= b - 0.05)).float().mean())
    std = float(v.std()) if v.numel() > 1 else 0.0
    return float(v.mean()), std, float(v.norm()), lo, hi, counts, sat


def param_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Conv and Linear layers (their ``weight``), first :data:`MAX_LAYERS`."""
    out = [(n, m) for n, m in model.named_modules()
           if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))
           and isinstance(getattr(m, "weight", None), torch.Tensor)]
    return out[:MAX_LAYERS]


def output_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """BatchNorm and activation layers (their output), first :data:`MAX_LAYERS`."""
    out = [(n, m) for n, m in model.named_modules()
           if isinstance(m, (nn.modules.batchnorm._BatchNorm, *ACTIVATIONS))]
    return out[:MAX_LAYERS]


class Inside:
    """Hooks on one model; :meth:`arm` before a logged step's forward pass, :meth:`after_backward`
    between its backward pass and the optimizer's step, :meth:`remove` at the end."""

    def __init__(self, model: nn.Module, emit: Callable[[LayerStats], None]):
        self.emit = emit
        self.params = param_layers(model)
        self.armed = False
        self.where = (0, 0.0)  # (step, epochs done) of the armed step
        self.handles = [m.register_forward_hook(self._hook(name, BOUNDED.get(type(m))))
                        for name, m in output_layers(model)]

    def _hook(self, name: str, bounds: tuple[float, float] | None):
        def hook(_m: nn.Module, _args: tuple, out) -> None:
            if self.armed and isinstance(out, torch.Tensor):
                self._emit(name, "act", out, bounds)
        return hook

    def _emit(self, name: str, kind: str, t: torch.Tensor, bounds=None) -> None:
        step, done = self.where
        with torch.no_grad():
            self.emit(LayerStats(step, done, name, kind, *_stats(t, bounds)))

    def arm(self, on: bool, step: int, epochs_done: float) -> None:
        self.armed, self.where = on, (step, epochs_done)

    def after_backward(self) -> None:
        if not self.armed:
            return
        for name, m in self.params:
            self._emit(name, "weight", m.weight)
            if m.weight.grad is not None:
                self._emit(name, "grad", m.weight.grad)
        self.armed = False

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
