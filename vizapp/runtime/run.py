"""One timed run: model from the cache → memory estimate (refuse what cannot fit) → the device's
lock → warm-up → timed passes → a frozen :class:`RunResult`; and a batch-size sweep."""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import replace
from typing import Any, Callable, Sequence

import torch
from torch import nn

from vizapp.i18n import msg

from .devices import DeviceError, resolve_device
from .lock import BusyError, lock_for
from .memory import (check_build, check_fits, estimate_memory, param_bytes, spec_profile,
                     suggest_batch)
from .model_cache import cached_model, release_memory
from .run_records import (DTYPES, MemoryEstimate, MemoryRefused, OutOfMemory, RunError, RunOptions,
                      RunResult, Sweep, SweepPoint, percentile)
from .rss import RSSSampler
from .timing import cudnn_benchmark, is_oom, make_input, precision, synchronize, timed_loop


def run_model(model: nn.Module, input_shape: Sequence[int], options: RunOptions, *,
              name: str = "", estimate: MemoryEstimate | None = None) -> RunResult:
    """Time ``model`` (already on the device, in eval mode, in the wanted memory format) on a
    random batch. Takes the device's lock; raises :class:`RunError` subclasses."""
    o = options
    if o.dtype not in DTYPES:
        raise RunError(msg("unknown dtype '{dtype}'.", dtype=o.dtype),
                       msg("use one of {dtypes}.", dtypes=", ".join(DTYPES)))
    if o.batch < 1 or o.iters < 1 or o.warmup < 0:
        raise RunError(msg("batch and iters must be ≥ 1 and warmup ≥ 0 (got batch {batch}, iters "
                           "{iters}, warmup {warmup}).", batch=o.batch, iters=o.iters,
                           warmup=o.warmup), msg("use positive numbers."))
    device = resolve_device(o.device)
    if o.dtype == "fp16" and device.type == "cpu":
        notes = ["fp16 autocast on the CPU is slow on most CPUs; bf16 is the CPU's half type"]
    else:
        notes = []
    label = name or type(getattr(model, "_orig_mod", model)).__name__
    lock = lock_for(str(device))
    try:
        with lock.hold(f"{label} batch {o.batch}", o.lock_timeout) as waited:
            return _run_locked(model, input_shape, o, device, label, estimate, waited, notes)
    except BusyError as exc:
        raise RunError(str(exc)) from None


def _run_locked(model: nn.Module, input_shape: Sequence[int], o: RunOptions,
                device: torch.device, label: str, estimate: MemoryEstimate | None,
                waited: float, notes: list[str]) -> RunResult:
    x = None
    pbytes = param_bytes(model)
    try:
        x = make_input(input_shape, o.batch, device, o.channels_last)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        sampler = RSSSampler() if device.type == "cpu" else contextlib.nullcontext()
        with cudnn_benchmark(device), torch.inference_mode(), precision(o.dtype, device):
            with sampler:
                t_warm = _warmup(model, x, o, device)
            iters = o.iters
            if o.max_seconds and t_warm * iters > o.max_seconds:
                iters = max(1, int(o.max_seconds / max(t_warm, 1e-9)))
                notes.append(f"iters cut from {o.iters} to {iters}: one pass takes "
                             f"{t_warm * 1e3:.0f} ms and the run is capped at "
                             f"{o.max_seconds:g} s")
            lat, total = timed_loop(model, x, iters, device)
        peak, method = _peak_memory(device, sampler, pbytes)
    except RunError:
        raise
    except Exception as exc:
        if not is_oom(exc):
            raise
        oom = True  # raised below, outside this block, so the traceback's tensors can go
    else:
        oom = False
    finally:
        x = None
    if oom:
        release_memory(device)
        fits = suggest_batch(estimate.max_batch) if estimate else None
        fix = (f"use a batch of {fits} or less" if fits and fits < o.batch else
               f"use a smaller batch than {o.batch}") + ", bf16, or a smaller input."
        raise OutOfMemory(f"{device} ran out of memory running {label} at batch {o.batch} "
                          f"({o.dtype}); the memory has been released.", fix)
    total_s = total / 1e3
    thr = o.batch * len(lat) / total_s if total_s > 0 else float("inf")
    return RunResult(
        model=label, device=str(device), device_name=_device_name(device), batch=o.batch,
        iters=len(lat), warmup=o.warmup, dtype=o.dtype, channels_last=o.channels_last,
        compiled=o.compile, latency_ms_p50=percentile(lat, 50),
        latency_ms_p95=percentile(lat, 95), latency_ms_mean=statistics.fmean(lat),
        throughput=thr, peak_memory_bytes=int(peak), memory_method=method, param_bytes=pbytes,
        estimate=estimate, waited_s=waited, latencies_ms=tuple(lat), notes=tuple(notes))


def _warmup(model: nn.Module, x: torch.Tensor, o: RunOptions, device: torch.device) -> float:
    """The warm-up passes (at least one); seconds the last one took. A first compiled pass
    that fails (not for memory) is a RunError naming torch.compile."""
    t_warm = 0.0
    for i in range(max(1, o.warmup)):
        t0 = time.perf_counter()
        try:
            model(x)
        except Exception as exc:
            if o.compile and i == 0 and not is_oom(exc):
                first = str(exc).strip().splitlines()[0][:300] if str(exc) else ""
                raise RunError(msg("torch.compile failed: {type}: {first}",
                                   type=type(exc).__name__, first=first),
                               "run without compile.") from None
            raise
        synchronize(device)
        t_warm = time.perf_counter() - t0
    return t_warm


def _peak_memory(device: torch.device, sampler: Any, pbytes: int) -> tuple[int, str]:
    """Peak memory of the run and how it was measured."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), "torch.cuda.max_memory_allocated"
    if device.type == "mps":
        return int(torch.mps.driver_allocated_memory()), "torch.mps.driver_allocated_memory"
    return (pbytes + max(0, sampler.peak - sampler.base),
            "weights + growth of the process RSS during warm-up")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def run_spec(spec: Any, options: RunOptions) -> RunResult:
    """Build (or reuse) the spec's model on the device, check the memory estimate, run."""
    try:
        device = resolve_device(options.device)
    except DeviceError as exc:
        raise RunError(exc.args[0] + ".", msg("pick one of the available devices.")) from None
    if options.check_memory:
        check_build(spec, 1)  # the weights, estimated on meta, before any is allocated
    try:
        model = cached_model(spec, device, options.channels_last, options.compile)
    except Exception as exc:
        if is_oom(exc):
            release_memory(device)
            raise OutOfMemory(f"{device} ran out of memory building the model's weights.",
                              "use a smaller model or another device.") from None
        raise
    est = estimate_memory(model, spec.input_shape, options.batch, options.dtype, device,
                          profile=spec_profile(spec))
    if options.check_memory:
        check_fits(est)
    return run_model(model, spec.input_shape, replace(options, device=str(device)),
                     name=getattr(spec, "label", ""), estimate=est)


def sweep(spec: Any, options: RunOptions, batches: Sequence[int],
          budget_s: float | None = None,
          on_point: Callable[[int, int, SweepPoint], None] | None = None) -> Sweep:
    """:func:`run_spec` for each batch size (ascending). After a batch fails for memory, the
    larger ones are skipped; so are those left when ``budget_s`` seconds are spent (each run's
    own time limit is at most what is left of the budget). ``on_point(i, n, point)`` reports
    progress after each batch size."""
    points: list[SweepPoint] = []
    stop: str | None = None
    sizes = sorted(set(int(b) for b in batches))
    t0 = time.perf_counter()
    for i, b in enumerate(sizes):
        left = None if budget_s is None else budget_s - (time.perf_counter() - t0)
        if stop:
            point = SweepPoint(b, None, f"skipped: a smaller batch already failed ({stop})")
        elif left is not None and left <= 0:
            point = SweepPoint(b, None, f"skipped: the sweep's {budget_s:.0f} s budget is spent")
        else:
            opts = replace(options, batch=b)
            if left is not None:
                opts = replace(opts, max_seconds=min(opts.max_seconds or left, left))
            try:
                point = SweepPoint(b, run_spec(spec, opts))
            except (MemoryRefused, OutOfMemory) as exc:
                stop = f"batch {b}"
                point = SweepPoint(b, None, str(exc))
        points.append(point)
        if on_point is not None:
            on_point(i, len(sizes), point)
    return Sweep(getattr(spec, "label", ""), options, tuple(points))
