"""Activation memory per top-level child ("stage") of one real forward pass, next to the
static estimate."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from .devices import resolve_device
from .lock import BusyError, lock_for
from .memory import check_build, check_fits, estimate_memory, meta_profile, spec_profile
from .model_cache import cached_model, release_memory
from .run_records import DTYPES, OutOfMemory, RunError, RunOptions, StageMemory
from .timing import is_oom, make_input, precision, synchronize


def stage_memory(spec: Any, options: RunOptions) -> tuple[StageMemory, ...]:
    """Activation memory per top-level child ("stage") for one forward pass: the measured
    size of each stage's output (any device) and, on CUDA, the measured peak allocation
    while the stage ran above what was allocated when it started; next to the static
    estimate (meta output numel × dtype size)."""
    device = resolve_device(options.device)
    if options.check_memory:
        check_build(spec, 1)
    model = cached_model(spec, device, options.channels_last, False)
    prof = spec_profile(spec) or meta_profile(model, spec.input_shape)
    est = estimate_memory(model, spec.input_shape, options.batch, options.dtype, device,
                          profile=prof)
    if options.check_memory:
        check_fits(est)
    measured = _measure_stages(spec, model, options, device)
    el = DTYPES[options.dtype].itemsize
    out = []
    for name, typ, shape1 in prof.stages:
        shape, nbytes, peak = measured.get(name, ((), 0, None))
        est_b = math.prod(shape1) * options.batch * el
        out.append(StageMemory(name, typ, shape, nbytes, est_b, peak))
    return tuple(out)


def _measure_stages(spec: Any, model: nn.Module, options: RunOptions, device: torch.device
                    ) -> dict[str, tuple[tuple[int, ...], int, int | None]]:
    """{stage: (output shape, output bytes, CUDA peak above the start or None)} of one
    forward pass under the device's lock (hooks on each top-level child; OutOfMemory with
    the memory released when the device runs out)."""
    measured: dict[str, tuple[tuple[int, ...], int, int | None]] = {}
    starts: dict[str, int] = {}
    cuda = device.type == "cuda"

    def pre(name: str) -> Callable:
        def hook(_m: nn.Module, _a: Any) -> None:
            if cuda and name not in measured:
                torch.cuda.synchronize(device)
                starts[name] = torch.cuda.memory_allocated(device)
                torch.cuda.reset_peak_memory_stats(device)
        return hook

    def post(name: str) -> Callable:
        def hook(_m: nn.Module, _a: Any, out: Any) -> None:
            if name in measured or not isinstance(out, torch.Tensor):
                return
            peak = None
            if cuda:
                torch.cuda.synchronize(device)
                peak = torch.cuda.max_memory_allocated(device) - starts.get(name, 0)
            measured[name] = (tuple(out.shape), out.numel() * out.element_size(), peak)
        return hook

    handles = []
    for name, mod in model.named_children():
        handles.append(mod.register_forward_pre_hook(pre(name)))
        handles.append(mod.register_forward_hook(post(name)))
    lock = lock_for(str(device))
    x = None
    try:
        with lock.hold(f"{getattr(spec, 'label', '')} stage memory", options.lock_timeout):
            x = make_input(spec.input_shape, options.batch, device, options.channels_last)
            with torch.inference_mode(), precision(options.dtype, device):
                model(x)
            synchronize(device)
    except BusyError as exc:
        raise RunError(str(exc)) from None
    except Exception as exc:
        if not is_oom(exc):
            raise
        oom = True
    else:
        oom = False
    finally:
        for h in handles:
            h.remove()
        x = None
    if oom:
        release_memory(device)
        raise OutOfMemory(f"{device} ran out of memory at batch {options.batch}; the memory "
                          f"has been released.", "use a smaller batch.")
    return measured
