"""BatchNorm laboratory: the numbers behind ``nn.BatchNorm1d/2d`` for any model and BN layer.

Seed 003's mechanics, measured instead of described:

- a BN layer normalises each **channel** with the mean and variance of that channel over
  every other axis — (N, H, W) for ``BatchNorm2d``, (N,) or (N, L) for ``BatchNorm1d``;
- normalisation uses the **biased** variance (divide by n), while ``running_var`` is updated
  with the **unbiased** one (divide by n − 1);
- ``running = (1 − momentum)·running + momentum·batch`` for a float momentum, and the plain
  cumulative average of all batches seen when ``momentum=None``;
- the module's train-mode output equals ``(x − mean)/sqrt(var + eps)·γ + β``.

Pipeline: deep-copy the model (the caller's model, training flags and buffers are never
touched) → capture each BN layer's input with forward hooks during one seeded train-mode
forward pass → replay every captured input through fresh copies of the layer in train and in
eval mode → plain frozen records (floats and tuples, no tensors). Nothing here imports
Streamlit.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from vizapp.i18n import N_, deferred, msg

Floats = tuple[float, ...]

# how many raw values per channel a record keeps for histograms (records stay small)
SAMPLE_VALUES = 512
SAMPLE_CHANNELS = 8


class BNError(ValueError):
    """A BN question that cannot be answered (no BN layer, unknown layer, too few values);
    the message names the cause and the fix."""


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class BNLayerStats:
    """Everything about one BN layer on one batch (train mode, from the layer's current buffers).

    Per-channel tuples have ``num_features`` entries (channel 0 first)."""

    name: str  # module path ("bn1", "layer1.0.bn2")
    type: str  # "BatchNorm2d"
    num_features: int
    eps: float
    momentum: float | None  # the layer's own momentum (None = cumulative average)
    affine: bool
    track_running_stats: bool
    input_shape: tuple[int, ...]  # (N, C, H, W) of the captured input
    values_per_channel: int  # n = N·H·W, the count each statistic averages over
    batch_mean: Floats  # mean over every axis but 1
    batch_var_biased: Floats  # divide by n: used to normalise
    batch_var_unbiased: Floats  # divide by n − 1: fed into running_var
    running_mean_before: Floats  # buffers before this pass (zeros/ones for a fresh model)
    running_var_before: Floats
    running_mean_after: Floats  # buffers after one train-mode pass with the layer's momentum
    running_var_after: Floats
    weight: Floats  # γ (ones when affine=False)
    bias: Floats  # β (zeros when affine=False)
    out_mean: Floats  # per-channel mean of the train-mode output (≈ β)
    out_std: Floats  # per-channel biased std of the train-mode output (≈ |γ|)
    max_abs_diff_manual: float  # |manual formula − module| (train mode), max over all values
    max_abs_diff_train_eval: float  # |train-mode output − eval-mode output| (running stats)
    sample_in: tuple[Floats, ...]  # first SAMPLE_VALUES input values of the first channels
    sample_out: tuple[Floats, ...]  # the same positions of the train-mode output

    @property
    def channels(self) -> int:
        return self.num_features

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("sample_in")
        d.pop("sample_out")
        d["input_shape"] = list(self.input_shape)
        return d


@dataclass(frozen=True)
class BNReport:
    """The BN layers of one model on one batch."""

    model: str
    input_shape: tuple[int, ...]  # (N, C, H, W) of the model input
    source: str  # "synthetic (seed 0)" or "given tensor"
    layers: tuple[BNLayerStats, ...]
    notes: tuple[str, ...] = ()
    # every BN layer that ran, in order: (name, mean |batch mean|, mean batch std) of its input
    profile: tuple[tuple[str, float, float], ...] = ()

    def layer(self, name: str) -> BNLayerStats:
        for s in self.layers:
            if s.name == name:
                return s
        raise BNError(unknown_layer_message(name, [s.name for s in self.layers]))

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "input_shape": list(self.input_shape),
                "source": self.source, "notes": list(self.notes),
                "layers": [s.to_dict() for s in self.layers]}


@dataclass(frozen=True)
class RunningEvolution:
    """running_mean/var of one layer over K train-mode passes, each on a new batch.

    Rows are steps; ``running_*`` has K + 1 rows (row 0 = before any pass). Only the first
    ``len(channels)`` channels are kept."""

    layer: str
    momentum: float | None
    steps: int
    channels: tuple[int, ...]
    running_mean: tuple[Floats, ...]
    running_var: tuple[Floats, ...]
    batch_mean: tuple[Floats, ...]  # K rows
    batch_var_unbiased: tuple[Floats, ...]  # K rows
    cumulative_mean: tuple[Floats, ...]  # K rows: average of batch_mean[0..k]
    cumulative_var: tuple[Floats, ...]  # K rows: average of batch_var_unbiased[0..k]

    @property
    def label(self) -> str:
        return momentum_label(self.momentum)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["momentum"] = self.momentum
        return d


@dataclass(frozen=True)
class BNDemo:
    """Seed 003's experiment: ``torch.manual_seed(S); x = torch.randn(4, 3, 2, 2)`` through a
    fresh ``BatchNorm2d(3)``, one train-mode step per momentum."""

    seed: int
    input_shape: tuple[int, ...]
    input: tuple[tuple[tuple[Floats, ...], ...], ...]  # x itself, nested lists
    batch_mean: Floats
    batch_var_biased: Floats
    batch_var_unbiased: Floats
    running_mean: dict[str, Floats]  # {"0.1": …, "1.0": …}
    running_var: dict[str, Floats]
    max_abs_diff_manual_vs_module: float
    output_mean: Floats
    output_std: Floats

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``vizapp bn --demo``."""
        return {
            "input_shape": list(self.input_shape),
            "batch_mean": list(self.batch_mean),
            "batch_var_biased": list(self.batch_var_biased),
            "batch_var_unbiased": list(self.batch_var_unbiased),
            "running_mean": {k: list(v) for k, v in self.running_mean.items()},
            "running_var": {k: list(v) for k, v in self.running_var.items()},
            "max_abs_diff_manual_vs_module": self.max_abs_diff_manual_vs_module,
        }


# ----------------------------------------------------------------------------- helpers
def momentum_label(m: float | None) -> str:
    return N_("None (cumulative average)") if m is None else f"{m:g}"


def parse_momentum(text: str | float | None) -> float | None:
    """``"0.1"`` → 0.1, ``"none"``/``"cumulative"`` → None; raises BNError otherwise."""
    if text is None or isinstance(text, float):
        return text
    s = str(text).strip().lower()
    if s in ("none", "null", "cumulative", "avg", "average"):
        return None
    try:
        m = float(s)
    except ValueError:
        raise BNError(msg("momentum must be a number in (0, 1] or 'none', got '{text}'",
                          text=text)) from None
    if not 0.0 < m <= 1.0:
        raise BNError(msg("momentum must be in (0, 1] (or 'none' for the cumulative average), got "
                          "{m:g}", m=m))
    return m


def bn_layers(model: nn.Module) -> list[tuple[str, _BatchNorm]]:
    """``(name, module)`` of every BatchNorm layer (1d/2d/3d, SyncBatchNorm), in definition
    order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _BatchNorm)]


def unknown_layer_message(name: str, names: Sequence[str]) -> str:
    if not names:
        return msg("this model has no BatchNorm layer (asked for '{name}')", name=name)
    return msg("no BatchNorm layer named '{name}'; BN layers: {names}", name=name,
               names=", ".join(names))


def channel_values(x: torch.Tensor) -> torch.Tensor:
    """``(C, n)``: every value of each channel (axis 1) in one row — the values BN averages."""
    if x.dim() < 2:
        raise BNError(msg("a BN input needs a batch and a channel axis, got shape {shape}",
                          shape=tuple(x.shape)))
    return x.detach().transpose(0, 1).reshape(x.shape[1], -1)


def batch_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel (mean, biased var, unbiased var) over every axis but 1, in float64."""
    v = channel_values(x).double()
    n = v.shape[1]
    mean = v.mean(1)
    var_b = v.var(1, unbiased=False)
    # unbiased = biased · n/(n − 1) (Bessel's correction)
    var_u = var_b * (n / (n - 1)) if n > 1 else torch.full_like(mean, float("nan"))
    return mean, var_b, var_u


def manual_bn(x: torch.Tensor, eps: float, weight: torch.Tensor | None,
              bias: torch.Tensor | None) -> torch.Tensor:
    """``(x − mean)/sqrt(var_biased + eps)·γ + β`` written out with broadcasting."""
    mean, var_b, _ = batch_stats(x)
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    y = (x.double() - mean.view(shape)) / torch.sqrt(var_b.view(shape) + eps)
    if weight is not None:
        y = y * weight.detach().double().view(shape)
    if bias is not None:
        y = y + bias.detach().double().view(shape)
    return y


def synthetic_batch(input_shape: Sequence[int], batch: int, seed: int = 0) -> torch.Tensor:
    """A deterministic ``randn`` batch ``(batch, *input_shape)`` from a private generator (the
    global RNG is left alone)."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn((int(batch), *[int(d) for d in input_shape]), generator=g)


def _floats(t: torch.Tensor | None, n: int, fill: float) -> Floats:
    if t is None:
        return tuple([fill] * n)
    return tuple(float(v) for v in t.detach().double().flatten().tolist())


def _max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


class _Stop(Exception):
    """Raised from a hook to end a forward pass once the wanted inputs are captured."""


def _check_values(name: str, x: torch.Tensor) -> None:
    n = x.numel() // max(1, x.shape[1])
    if n <= 1:
        raise BNError(msg("BN layer '{name}' sees only {n} value per channel (input {shape}): "
                          "train mode needs at least 2. Use a batch of 2 or more, or a larger "
                          "input.", name=name, n=n, shape=tuple(x.shape)))


def capture_bn_inputs(model: nn.Module, xs: torch.Tensor | Sequence[torch.Tensor],
                      names: Iterable[str] | None = None, train: bool = True
                      ) -> tuple[dict[str, _BatchNorm], list[dict[str, torch.Tensor]]]:
    """Run each batch of ``xs`` through one deep copy of ``model`` (train mode by default).

    Returns copies of the BN layers as they were *before* any pass and, per batch,
    ``{bn name: input tensor}``. When ``names`` is given, each pass stops as soon as those
    layers have been seen. The caller's model is not touched. (In train mode a BN layer's
    output does not depend on its running buffers, so the captured inputs do not depend on
    the order of the passes.)"""
    batches = [xs] if isinstance(xs, torch.Tensor) else list(xs)
    work = copy.deepcopy(model)
    work.train(train)
    layers = bn_layers(work)
    pristine = {n: copy.deepcopy(m) for n, m in layers}
    wanted = None if names is None else set(names)
    if wanted is not None:
        missing = wanted - set(pristine)
        if missing:
            raise BNError(unknown_layer_message(sorted(missing)[0], list(pristine)))
    device = next((p.device for p in work.parameters()), torch.device("cpu"))
    seen: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(_mod: nn.Module, args: tuple) -> None:
            if name not in seen:  # a layer called twice keeps its first input
                seen[name] = args[0].detach().clone()
            if wanted is not None and wanted <= set(seen):
                raise _Stop

        return hook

    handles = [mod.register_forward_pre_hook(hook_for(name)) for name, mod in layers
               if wanted is None or name in wanted]
    out: list[dict[str, torch.Tensor]] = []
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(0)  # dropout and friends: deterministic, global RNG restored
            for x in batches:
                seen = {}
                try:
                    work(x.to(device))
                except _Stop:
                    pass
                out.append(seen)
    except ValueError as exc:
        if "more than 1 value per channel" in str(exc):
            raise BNError(msg("a BN layer sees only 1 value per channel for input {shape}: train "
                              "mode needs a batch of 2 or more",
                              shape=tuple(batches[0].shape))) from None
        raise
    finally:
        for h in handles:
            h.remove()
    return pristine, out


# ----------------------------------------------------------------------------- one layer
def layer_stats(name: str, layer: _BatchNorm, x: torch.Tensor) -> BNLayerStats:
    """Statistics of ``layer`` on input ``x``; ``layer`` itself is not changed (copies run)."""
    _check_values(name, x)
    c = layer.num_features
    if x.shape[1] != c:
        raise BNError(msg("BN layer '{name}' expects {c} channels, its input has {got}", name=name,
                          c=c, got=x.shape[1]))
    mean, var_b, var_u = batch_stats(x)
    trained = copy.deepcopy(layer).train()
    evaluated = copy.deepcopy(layer).eval()
    with torch.no_grad():
        y_train = trained(x)
        y_eval = evaluated(x)
    w = layer.weight if layer.affine else None
    b = layer.bias if layer.affine else None
    y_manual = manual_bn(x, layer.eps, w, b)
    out_mean, out_var, _ = batch_stats(y_train)
    vin = channel_values(x)
    vout = channel_values(y_train)
    k = min(SAMPLE_CHANNELS, c)
    rm0, rv0 = layer.running_mean, layer.running_var
    return BNLayerStats(
        name=name, type=type(layer).__name__, num_features=c, eps=float(layer.eps),
        momentum=None if layer.momentum is None else float(layer.momentum),
        affine=bool(layer.affine), track_running_stats=bool(layer.track_running_stats),
        input_shape=tuple(x.shape), values_per_channel=int(vin.shape[1]),
        batch_mean=_floats(mean, c, 0.0), batch_var_biased=_floats(var_b, c, 0.0),
        batch_var_unbiased=_floats(var_u, c, 0.0),
        running_mean_before=_floats(rm0, c, float("nan")),
        running_var_before=_floats(rv0, c, float("nan")),
        running_mean_after=_floats(trained.running_mean, c, float("nan")),
        running_var_after=_floats(trained.running_var, c, float("nan")),
        weight=_floats(w, c, 1.0), bias=_floats(b, c, 0.0),
        out_mean=_floats(out_mean, c, 0.0), out_std=_floats(out_var.sqrt(), c, 0.0),
        max_abs_diff_manual=_max_abs(y_manual, y_train),
        max_abs_diff_train_eval=_max_abs(y_train, y_eval),
        sample_in=tuple(tuple(float(v) for v in vin[i, :SAMPLE_VALUES].tolist())
                        for i in range(k)),
        sample_out=tuple(tuple(float(v) for v in vout[i, :SAMPLE_VALUES].tolist())
                         for i in range(k)),
    )


# ----------------------------------------------------------------------------- a model
def analyze_bn(model: nn.Module, input_shape: Sequence[int] | None = None, *, batch: int = 4,
               seed: int = 0, x: torch.Tensor | None = None, layers: Sequence[str] | None = None,
               model_name: str | None = None, source: str | None = None) -> BNReport:
    """BN statistics of every (or the named) BN layer of ``model`` for one train-mode pass.

    The batch is ``x`` if given, else ``synthetic_batch(input_shape, batch, seed)``. The model
    is deep-copied; its buffers, parameters and training flag are left as they were."""
    if x is None:
        if input_shape is None:
            raise BNError(msg("give an input tensor x or an input_shape (C, H, W)"))
        x = synthetic_batch(input_shape, batch, seed)
        source = source or deferred("synthetic randn batch (seed {seed})", seed=seed)
    else:
        x = x.detach().float().cpu()
        source = source or deferred("given tensor")
    all_names = [n for n, _ in bn_layers(model)]
    if not all_names:
        raise BNError(msg("{model} has no BatchNorm layer; pick a model with BN (lenet-bn, "
                          "resnet18, densenet …)", model=model_name or type(model).__name__))
    if layers is not None:
        missing = sorted(set(layers) - set(all_names))
        if missing:
            raise BNError(unknown_layer_message(missing[0], all_names))
    mods, captured = capture_bn_inputs(model, x)
    inputs = captured[0]
    names = list(layers) if layers is not None else all_names
    stats, notes = [], []
    for n in names:
        if n not in inputs:
            notes.append(f"{n} did not run in the forward pass")
            continue
        stats.append(layer_stats(n, mods[n], inputs[n]))
    return BNReport(model=model_name or type(model).__name__, input_shape=tuple(x.shape),
                    source=source, layers=tuple(stats), notes=tuple(notes),
                    profile=input_profile(inputs))


def input_profile(inputs: dict[str, torch.Tensor]) -> tuple[tuple[str, float, float], ...]:
    """Per BN layer (execution order): the mean over channels of |batch mean| and of the
    batch std (biased) of its input — how far it is from mean 0, std 1."""
    out = []
    for name, x in inputs.items():
        if channel_values(x).shape[1] < 2:
            continue
        mean, var_b, _ = batch_stats(x)
        out.append((name, float(mean.abs().mean()), float(var_b.clamp_min(0).sqrt().mean())))
    return tuple(out)


def running_evolution(model: nn.Module, layer: str, input_shape: Sequence[int], *,
                      batch: int = 4, steps: int = 20,
                      momenta: Sequence[float | None] = (0.1, 1.0, None), seed: int = 0,
                      max_channels: int = 16) -> tuple[RunningEvolution, ...]:
    """K train-mode passes on K seeded batches (seed, seed+1, …): the layer's running stats
    after each pass, for each momentum, starting from the layer's current buffers.

    The K inputs of the layer are captured once (upstream BN layers use batch statistics in
    train mode, so the layer's inputs do not depend on the momentum) and replayed through a
    fresh copy of the layer per momentum."""
    if steps < 1:
        raise BNError(msg("steps must be at least 1, got {steps}", steps=steps))
    names = [n for n, _ in bn_layers(model)]
    if layer not in names:
        raise BNError(unknown_layer_message(layer, names))
    batches = [synthetic_batch(input_shape, batch, seed + k) for k in range(steps)]
    mods, captured = capture_bn_inputs(model, batches, [layer])
    base = mods[layer]
    xs = [got[layer] for got in captured if layer in got]
    if len(xs) != steps:
        raise BNError(msg("BN layer '{layer}' did not run in the forward pass", layer=layer))
    _check_values(layer, xs[0])
    if not base.track_running_stats:
        raise BNError(msg("BN layer '{layer}' has track_running_stats=False: it keeps no running "
                          "statistics", layer=layer))
    c = min(max_channels, base.num_features)
    stats = [batch_stats(x) for x in xs]
    bm = [s[0][:c] for s in stats]
    bv = [s[2][:c] for s in stats]
    cum_m = [torch.stack(bm[:i + 1]).mean(0) for i in range(steps)]
    cum_v = [torch.stack(bv[:i + 1]).mean(0) for i in range(steps)]

    def rows(ts: list[torch.Tensor]) -> tuple[Floats, ...]:
        return tuple(tuple(float(v) for v in t[:c].tolist()) for t in ts)

    out = []
    for m in momenta:
        bn = copy.deepcopy(base).train()
        bn.momentum = m
        bn.num_batches_tracked.zero_()
        rm, rv = [bn.running_mean.clone()], [bn.running_var.clone()]
        with torch.no_grad():
            for x in xs:
                bn(x)
                rm.append(bn.running_mean.clone())
                rv.append(bn.running_var.clone())
        out.append(RunningEvolution(layer=layer, momentum=m, steps=steps,
                                    channels=tuple(range(c)), running_mean=rows(rm),
                                    running_var=rows(rv), batch_mean=rows(bm),
                                    batch_var_unbiased=rows(bv), cumulative_mean=rows(cum_m),
                                    cumulative_var=rows(cum_v)))
    return tuple(out)


def expected_running(before: float, batch_values: Sequence[float], momentum: float | None
                     ) -> list[float]:
    """The momentum update written out, for checks and for the page's prose:
    ``r ← (1−m)·r + m·b``; with momentum None, ``r ← r + (b − r)/t`` (cumulative average)."""
    r, out = before, []
    for t, b in enumerate(batch_values, start=1):
        m = 1.0 / t if momentum is None else momentum
        r = (1.0 - m) * r + m * b
        out.append(r)
    return out


# ----------------------------------------------------------------------------- seed 003 demo
DEMO_SHAPE = (4, 3, 2, 2)


def seed_demo(seed: int = 0) -> BNDemo:
    """``torch.manual_seed(seed); x = torch.randn(4, 3, 2, 2)``; a fresh ``BatchNorm2d(3)``
    per momentum (0.1 and 1.0) does one train-mode step. The global RNG is restored after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        x = torch.randn(*DEMO_SHAPE)
    mean, var_b, var_u = batch_stats(x)
    running_mean: dict[str, Floats] = {}
    running_var: dict[str, Floats] = {}
    diff = 0.0
    y = None
    for m in (0.1, 1.0):
        bn = nn.BatchNorm2d(3, momentum=m).train()
        with torch.no_grad():
            y = bn(x)
        key = f"{m:.1f}"
        running_mean[key] = _floats(bn.running_mean, 3, 0.0)
        running_var[key] = _floats(bn.running_var, 3, 1.0)
        diff = max(diff, _max_abs(manual_bn(x, bn.eps, bn.weight, bn.bias), y))
    assert y is not None
    out_mean, out_var, _ = batch_stats(y)
    return BNDemo(seed=int(seed), input_shape=DEMO_SHAPE, input=tuple(
        tuple(tuple(tuple(float(v) for v in row) for row in ch) for ch in n) for n in x.tolist()),
        batch_mean=_floats(mean, 3, 0.0), batch_var_biased=_floats(var_b, 3, 0.0),
        batch_var_unbiased=_floats(var_u, 3, 0.0), running_mean=running_mean,
        running_var=running_var, max_abs_diff_manual_vs_module=diff,
        output_mean=_floats(out_mean, 3, 0.0), output_std=_floats(out_var.sqrt(), 3, 0.0))

