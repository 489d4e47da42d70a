"""Memory before anything is allocated: output sizes from one pass on the meta device, what a
device can give, the estimate of a run (weights + activations) and the refusal that names a
batch that fits."""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from vizapp.i18n import msg

from .devices import cpu_memory
from .run_records import DTYPES, BuildEstimate, BuildRefused, MemoryEstimate, MemoryRefused

@dataclass(frozen=True)
class MetaProfile:
    """What one forward pass on meta tensors tells about a model's activations."""

    leaves: tuple[tuple[str, int], ...]  # (leaf name, output numel per sample)
    stages: tuple[tuple[str, str, tuple[int, ...]], ...]  # (child, type, output shape @ batch 1)


def meta_profile(model: nn.Module, input_shape: Sequence[int]) -> MetaProfile:
    """Output sizes of every leaf module and of every top-level child, from one forward pass
    on meta tensors (no memory, no arithmetic; the model's weights are not touched)."""
    target = getattr(model, "_orig_mod", model)  # a torch.compile wrapper
    params = {k: torch.empty_like(v, device="meta") for k, v in target.named_parameters()}
    buffers = {k: torch.empty_like(v, device="meta") for k, v in target.named_buffers()}
    leaves: dict[str, int] = {}
    stages: dict[str, tuple[str, tuple[int, ...]]] = {}
    n = 2  # BatchNorm1d in train mode refuses a batch of 1, even on meta
    handles = []

    def numel(out: Any) -> int:
        if isinstance(out, torch.Tensor):
            return out.numel()
        if isinstance(out, (tuple, list)):
            return sum(numel(o) for o in out)
        return 0

    def leaf_hook(name: str) -> Callable:
        def hook(_m: nn.Module, _a: Any, out: Any) -> None:
            leaves[name] = max(leaves.get(name, 0), numel(out) // n)
        return hook

    def stage_hook(name: str) -> Callable:
        def hook(m: nn.Module, _a: Any, out: Any) -> None:
            if name not in stages and isinstance(out, torch.Tensor):
                stages[name] = (type(m).__name__, (1, *out.shape[1:]))
        return hook

    for name, mod in target.named_modules():
        if name and not list(mod.children()):
            handles.append(mod.register_forward_hook(leaf_hook(name)))
    for name, mod in target.named_children():
        handles.append(mod.register_forward_hook(stage_hook(name)))
    try:
        x = torch.empty((n, *[int(d) for d in input_shape]), device="meta")
        with torch.no_grad():
            torch.func.functional_call(target, {**params, **buffers}, (x,))
    finally:
        for h in handles:
            h.remove()
    return MetaProfile(tuple(leaves.items()), tuple((k, t, s) for k, (t, s) in stages.items()))


@functools.lru_cache(maxsize=32)
def spec_profile(spec: Any) -> MetaProfile | None:
    """The meta profile of a spec's model, built on the meta device (no weights, no hooks on
    any shared model); None if the model cannot be built on meta."""
    from vizapp.zoo.meta_build import build_meta

    try:
        meta = build_meta(spec).eval()
        return meta_profile(meta, spec.input_shape)
    except Exception:  # noqa: BLE001 - fall back to profiling the real model
        return None


def param_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers, as they are stored now."""
    target = getattr(model, "_orig_mod", model)
    return sum(t.numel() * t.element_size() for t in
               [*target.parameters(), *target.buffers()])


def device_budget(device: torch.device) -> int | None:
    """Bytes a run may use on ``device``: 90 % of CUDA's free memory (plus what PyTorch's
    caching allocator holds unused), 80 % of the CPU's available RAM, MPS's recommended
    maximum; None where unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        unused = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(0.9 * (free + unused))
    if device.type == "mps":
        with contextlib.suppress(Exception):
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        return None
    _, avail = cpu_memory()
    return int(0.8 * avail) if avail else None


def estimate_memory(model: nn.Module, input_shape: Sequence[int], batch: int, dtype: str,
                    device: torch.device, resident: bool = True,
                    profile: MetaProfile | None = None) -> MemoryEstimate:
    """Static estimate of an inference run: weights (+ their half-precision autocast copies)
    + input + activations, where the activation peak of one sample is taken as 3 × the
    largest leaf output (an op's input, its output and one skip/concat tensor alive at once —
    no activations are kept for backward under inference_mode). ``resident``: the weights
    are already on the device (they then count against the free memory already).
    ``profile``: a precomputed meta profile (:func:`spec_profile`); without it ``model`` gets
    forward hooks for one meta pass."""
    prof = profile or meta_profile(model, input_shape)
    el = DTYPES[dtype].itemsize
    pbytes = param_bytes(model)
    in_bytes = math.prod(int(d) for d in input_shape) * 4  # the input is created in fp32
    largest, big = max(prof.leaves, key=lambda t: t[1], default=("", 0))
    per_sample = 3 * big * el + in_bytes
    weights = pbytes + (pbytes // 2 if dtype != "fp32" else 0)  # autocast casts weights
    total = weights + per_sample * batch
    budget = device_budget(device)
    max_batch = None
    if budget is not None:
        avail = budget + (pbytes if resident else 0) - weights
        max_batch = max(0, avail // per_sample) if per_sample else None
    return MemoryEstimate(device=str(device), batch=batch, dtype=dtype, param_bytes=pbytes,
                          activation_bytes_per_sample=per_sample,
                          activation_bytes=per_sample * batch,
                          total_bytes=total,
                          budget_bytes=None if budget is None else budget + (
                              pbytes if resident else 0),
                          max_batch=max_batch, largest_layer=largest)


def suggest_batch(max_batch: int | None) -> int | None:
    """The largest power of two ≤ max_batch (None when nothing fits)."""
    if not max_batch or max_batch < 1:
        return None
    return 1 << int(math.floor(math.log2(max_batch)))


def check_fits(estimate: MemoryEstimate) -> None:
    """Raise :class:`MemoryRefused` naming a batch that fits when the estimate does not fit."""
    if estimate.fits:
        return
    fits = suggest_batch(estimate.max_batch)
    fix = (msg("use a batch of {fits} or less (the estimate allows up to {max}).", fits=fits,
               max=estimate.max_batch)
           if fits else msg("even batch 1 does not fit: use a smaller input or another device."))
    raise MemoryRefused(msg("not run: {text}.", text=estimate.text()), fix)


# ----------------------------------------------------------------------------- real-weight builds
BUILD_BUDGET_BYTES = 3 << 29  # weights (+ a copy) + one pass a page builds per visitor: 1.5 GiB


@functools.lru_cache(maxsize=64)
def _meta_weights(spec: Any) -> int:
    from vizapp.zoo.meta_build import build_meta, weight_bytes

    return weight_bytes(build_meta(spec))


def estimate_build(spec: Any, batch: int, budget: int | None = None,
                   weight_copies: int = 1) -> BuildEstimate:
    """What building ``spec`` with real weights and running one pass of ``batch`` costs, from
    the meta device only (no weight memory): parameter and buffer bytes + the activation peak
    (3 × the largest layer output per sample, fp32) + the input."""
    pbytes = _meta_weights(spec)
    prof = spec_profile(spec)
    big = max((n for _, n in prof.leaves), default=0) if prof else 0
    per_sample = 3 * big * 4 + math.prod(int(d) for d in spec.input_shape) * 4
    return BuildEstimate(label=getattr(spec, "label", ""), batch=int(batch), param_bytes=pbytes,
                         activation_bytes=per_sample * int(batch),
                         budget_bytes=BUILD_BUDGET_BYTES if budget is None else budget,
                         weight_copies=weight_copies)


def check_build(spec: Any, batch: int = 1, budget: int | None = None,
                weight_copies: int = 1) -> BuildEstimate:
    """Raise :class:`BuildRefused` (cause and fix, with the numbers) when building the spec's
    real weights and one pass of ``batch`` would exceed the budget; else the estimate."""
    est = estimate_build(spec, batch, budget, weight_copies)
    if est.fits:
        return est
    if est.param_bytes * est.weight_copies > est.budget_bytes:
        fix = msg("pick a smaller model, fewer classes or a smaller input (Linear layers sized "
                  "from the input grow with it).")
    else:
        fix = msg("use a smaller batch or input.")
    raise BuildRefused(msg("not built: {text}.", text=est.text()), fix)
