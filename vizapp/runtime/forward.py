"""Live forward passes with real (randomly initialised) weights, timed honestly.

One run: resolve the device → the model from a small bounded cache (built once per
(spec, device, memory format, compile)) → estimate the memory the batch needs and refuse a
batch that cannot fit, naming one that does → take the device's lock (one run at a time per
device kind, process-wide) → warm-up passes → timed passes → a frozen :class:`RunResult`.

Timing: on CUDA each iteration is bracketed by CUDA events, with one synchronisation before and
one after the loop (no per-iteration sync, so the GPU queue stays full); on the CPU and MPS
``time.perf_counter`` around each (synchronised) iteration. Everything runs under
``torch.inference_mode()`` and, for bf16/fp16, ``torch.autocast``.

Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA (weights included); on the CPU the
weights plus the growth of the process's resident set (sampled from /proc during the warm-up
passes); on MPS the driver's allocated memory. A CUDA out-of-memory error is caught, the
memory released (``empty_cache``) and reported as :class:`OutOfMemory` with a batch that fits.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import statistics
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from .devices import DeviceError, cpu_memory, resolve_device
from .lock import BusyError, lock_for

DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16,
                                  "fp16": torch.float16}
MODEL_CACHE_SIZE = 2  # (spec, device, format, compile) entries kept; each holds real weights


class RunError(RuntimeError):
    """A run that could not happen. ``cause`` and ``fix`` are one sentence each."""

    def __init__(self, cause: str, fix: str = ""):
        super().__init__(f"{cause}" + (f" Fix: {fix}" if fix else ""))
        self.cause, self.fix = cause, fix


class OutOfMemory(RunError):
    """The device ran out of memory during the run; the memory has been released."""


class MemoryRefused(RunError):
    """The estimate says the batch cannot fit; nothing was run."""


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class RunOptions:
    device: str = "auto"  # "auto" = best available
    batch: int = 1
    iters: int = 20  # timed iterations
    warmup: int = 3
    dtype: str = "fp32"  # "fp32" | "bf16" | "fp16" (autocast)
    channels_last: bool = False
    compile: bool = False  # torch.compile the model (first warm-up pass compiles)
    check_memory: bool = True  # refuse batches the estimate says cannot fit
    lock_timeout: float | None = 120.0  # seconds to wait for the device; None = forever
    max_seconds: float | None = None  # cap the timed loop: fewer iters if the warm-up says so


@dataclass(frozen=True)
class MemoryEstimate:
    device: str
    batch: int
    dtype: str
    param_bytes: int  # weights and buffers as stored (fp32)
    activation_bytes_per_sample: int  # inference peak estimate for one sample
    activation_bytes: int  # × batch
    total_bytes: int  # params (+ autocast copies) + activations + input
    budget_bytes: int | None  # what the device can give (None = unknown, not checked)
    max_batch: int | None  # the largest batch the estimate says fits
    largest_layer: str  # the leaf module with the largest output

    @property
    def fits(self) -> bool:
        return self.budget_bytes is None or self.total_bytes <= self.budget_bytes

    def text(self) -> str:
        s = (f"batch {self.batch} needs about {fmt_bytes(self.total_bytes)} (weights "
             f"{fmt_bytes(self.param_bytes)}, activations ≈ "
             f"{fmt_bytes(self.activation_bytes_per_sample)}/sample, largest at "
             f"{self.largest_layer or '?'})")
        if self.budget_bytes is not None:
            s += f"; {self.device} can give about {fmt_bytes(self.budget_bytes)}"
        return s


@dataclass(frozen=True)
class StageMemory:
    """One top-level child module ("stage") during a forward pass."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    output_bytes: int  # measured: bytes of the stage's output tensor
    estimate_bytes: int  # static estimate: numel of the meta output × dtype size
    peak_bytes: int | None  # measured on CUDA: peak allocation during the stage above its start


@dataclass(frozen=True)
class RunResult:
    model: str
    device: str
    device_name: str
    batch: int
    iters: int
    warmup: int
    dtype: str
    channels_last: bool
    compiled: bool
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_mean: float
    throughput: float  # samples per second over the whole timed loop
    peak_memory_bytes: int
    memory_method: str
    param_bytes: int
    estimate: MemoryEstimate | None
    waited_s: float  # time spent queueing for the device lock
    latencies_ms: tuple[float, ...] = field(repr=False, default=())
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("latencies_ms")
        d["notes"] = list(self.notes)
        if self.estimate is not None:
            d["estimate"] = asdict(self.estimate)
        return d


@dataclass(frozen=True)
class SweepPoint:
    batch: int
    result: RunResult | None
    error: str | None = None  # why this batch did not run (memory refused, OOM, skipped)


@dataclass(frozen=True)
class Sweep:
    model: str
    options: RunOptions
    points: tuple[SweepPoint, ...]


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    v = sorted(values)
    if not v:
        return float("nan")
    pos = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


# ----------------------------------------------------------------------------- the model cache
_CACHE: OrderedDict[tuple, nn.Module] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def cached_model(spec: Any, device: torch.device, channels_last: bool = False,
                 compile: bool = False) -> nn.Module:
    """The spec's model with real weights on ``device`` in eval mode, built once and kept in a
    bounded LRU cache (evicted models are freed, and CUDA's cache emptied). The same weights
    (seed 0) for every build of one spec, so runs are comparable."""
    from vizapp.zoo import build_model

    key = (spec, str(device), bool(channels_last), bool(compile))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    base_key = (spec, str(device), bool(channels_last), False)
    with _CACHE_LOCK:
        base = _CACHE.get(base_key)
    if base is None:
        base = build_model(spec, seed=0).to(device).eval()
        if channels_last:
            base = base.to(memory_format=torch.channels_last)
    model = torch.compile(base) if compile else base
    with _CACHE_LOCK:
        if not compile:
            _CACHE[base_key] = base
        _CACHE[key] = model
        _CACHE.move_to_end(key)
        evicted = False
        while len(_CACHE) > MODEL_CACHE_SIZE:
            _CACHE.popitem(last=False)
            evicted = True
    if evicted:
        release_memory(device)
    return model


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
    release_memory(None)


def release_memory(device: torch.device | None) -> None:
    gc.collect()
    if torch.cuda.is_available() and (device is None or device.type == "cuda"):
        torch.cuda.empty_cache()
    if device is not None and device.type == "mps":
        with contextlib.suppress(Exception):
            torch.mps.empty_cache()


# ----------------------------------------------------------------------------- estimates
@dataclass(frozen=True)
class _Profile:
    leaves: tuple[tuple[str, int], ...]  # (leaf name, output numel per sample)
    stages: tuple[tuple[str, str, tuple[int, ...]], ...]  # (child, type, output shape @ batch 1)


def _meta_profile(model: nn.Module, input_shape: Sequence[int]) -> _Profile:
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
    return _Profile(tuple(leaves.items()), tuple((k, t, s) for k, (t, s) in stages.items()))


@functools.lru_cache(maxsize=32)
def spec_profile(spec: Any) -> _Profile | None:
    """The meta profile of a spec's model, built on the meta device (no weights, no hooks on
    any shared model); None if the model cannot be built on meta."""
    from vizapp.zoo import build_model

    try:
        with torch.device("meta"):
            meta = build_model(spec).eval()
        return _meta_profile(meta, spec.input_shape)
    except Exception:  # noqa: BLE001 - fall back to profiling the real model
        return None


def _param_bytes(model: nn.Module) -> int:
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
                    profile: _Profile | None = None) -> MemoryEstimate:
    """Static estimate of an inference run: weights (+ their half-precision autocast copies)
    + input + activations, where the activation peak of one sample is taken as 3 × the
    largest leaf output (an op's input, its output and one skip/concat tensor alive at once —
    no activations are kept for backward under inference_mode). ``resident``: the weights
    are already on the device (they then count against the free memory already).
    ``profile``: a precomputed meta profile (:func:`spec_profile`); without it ``model`` gets
    forward hooks for one meta pass."""
    prof = profile or _meta_profile(model, input_shape)
    el = DTYPES[dtype].itemsize
    pbytes = _param_bytes(model)
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


# ----------------------------------------------------------------------------- timing
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def precision(dtype: str, device: torch.device) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for bf16/fp16, nothing for fp32."""
    if dtype == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[dtype])


def make_input(input_shape: Sequence[int], batch: int, device: torch.device,
               channels_last: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *[int(d) for d in input_shape]), generator=g).to(device)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def timed_loop(model: nn.Module, x: torch.Tensor, iters: int, device: torch.device
               ) -> tuple[list[float], float]:
    """Per-iteration latencies (ms) and the total time of the loop (ms). The caller sets up
    inference_mode/autocast around it."""
    if device.type == "cuda":
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
        torch.cuda.synchronize(device)
        for i in range(iters):
            starts[i].record()
            model(x)
            ends[i].record()
        torch.cuda.synchronize(device)
        lat = [s.elapsed_time(e) for s, e in zip(starts, ends)]
        return lat, starts[0].elapsed_time(ends[-1])
    lat = []
    _sync(device)
    t_start = time.perf_counter()
    for _ in range(iters):
        t0 = time.perf_counter()
        model(x)
        _sync(device)
        lat.append((time.perf_counter() - t0) * 1e3)
    return lat, (time.perf_counter() - t_start) * 1e3


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _RSSSampler:
    """Peak resident set size of this process while active (a thread reads /proc every ms)."""

    def __init__(self, period: float = 0.001):
        self.period = period
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> "_RSSSampler":
        self._t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss())


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    msg = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in msg or
                                              "can't allocate memory" in msg)


@contextlib.contextmanager
def _cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """cuDNN picks its fastest algorithms for the fixed shapes of a timed run."""
    old = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = device.type == "cuda"
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = old


# ----------------------------------------------------------------------------- runs
def run_model(model: nn.Module, input_shape: Sequence[int], options: RunOptions, *,
              name: str = "", estimate: MemoryEstimate | None = None) -> RunResult:
    """Time ``model`` (already on the device, in eval mode, in the wanted memory format) on a
    random batch. Takes the device's lock; raises :class:`RunError` subclasses."""
    o = options
    if o.dtype not in DTYPES:
        raise RunError(f"unknown dtype '{o.dtype}'.", f"use one of {', '.join(DTYPES)}.")
    if o.batch < 1 or o.iters < 1 or o.warmup < 0:
        raise RunError(f"batch and iters must be ≥ 1 and warmup ≥ 0 (got batch {o.batch}, "
                       f"iters {o.iters}, warmup {o.warmup}).", "use positive numbers.")
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
    x = out = None
    pbytes = _param_bytes(model)
    try:
        x = make_input(input_shape, o.batch, device, o.channels_last)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        sampler = _RSSSampler() if device.type == "cpu" else contextlib.nullcontext()
        with _cudnn_benchmark(device), torch.inference_mode(), precision(o.dtype, device):
            with sampler:
                for i in range(max(1, o.warmup)):
                    t_warm = time.perf_counter()
                    try:
                        out = model(x)
                    except Exception as exc:
                        if o.compile and i == 0 and not _is_oom(exc):
                            first = str(exc).strip().splitlines()[0][:300] if str(exc) else ""
                            raise RunError(f"torch.compile failed: {type(exc).__name__}: "
                                           f"{first}", "run without compile.") from None
                        raise
                    _sync(device)
                    t_warm = time.perf_counter() - t_warm
                out = None
            iters = o.iters
            if o.max_seconds and t_warm * iters > o.max_seconds:
                iters = max(1, int(o.max_seconds / max(t_warm, 1e-9)))
                notes.append(f"iters cut from {o.iters} to {iters}: one pass takes "
                             f"{t_warm * 1e3:.0f} ms and the run is capped at "
                             f"{o.max_seconds:g} s")
            lat, total = timed_loop(model, x, iters, device)
        if device.type == "cuda":
            peak, method = torch.cuda.max_memory_allocated(device), \
                "torch.cuda.max_memory_allocated"
        elif device.type == "mps":
            peak, method = int(torch.mps.driver_allocated_memory()), \
                "torch.mps.driver_allocated_memory"
        else:
            peak = pbytes + max(0, sampler.peak - sampler.base)
            method = "weights + growth of the process RSS during warm-up"
    except RunError:
        raise
    except Exception as exc:
        if not _is_oom(exc):
            raise
        oom = True  # raised below, outside this block, so the traceback's tensors can go
    else:
        oom = False
    finally:
        x = out = None
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


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def check_fits(estimate: MemoryEstimate) -> None:
    """Raise :class:`MemoryRefused` naming a batch that fits when the estimate does not fit."""
    if estimate.fits:
        return
    fits = suggest_batch(estimate.max_batch)
    fix = (f"use a batch of {fits} or less (the estimate allows up to {estimate.max_batch})."
           if fits else "even batch 1 does not fit: use a smaller input or another device.")
    raise MemoryRefused(f"not run: {estimate.text()}.", fix)


def run_spec(spec: Any, options: RunOptions) -> RunResult:
    """Build (or reuse) the spec's model on the device, check the memory estimate, run."""
    try:
        device = resolve_device(options.device)
    except DeviceError as exc:
        raise RunError(str(exc) + ".", "pick one of the available devices.") from None
    try:
        model = cached_model(spec, device, options.channels_last, options.compile)
    except Exception as exc:
        if _is_oom(exc):
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


def sweep(spec: Any, options: RunOptions, batches: Sequence[int]) -> Sweep:
    """:func:`run_spec` for each batch size (ascending). After a batch fails for memory, the
    larger ones are skipped."""
    points: list[SweepPoint] = []
    stop: str | None = None
    for b in sorted(set(int(b) for b in batches)):
        if stop:
            points.append(SweepPoint(b, None, f"skipped: a smaller batch already failed ({stop})"))
            continue
        try:
            points.append(SweepPoint(b, run_spec(spec, replace(options, batch=b))))
        except (MemoryRefused, OutOfMemory) as exc:
            stop = f"batch {b}"
            points.append(SweepPoint(b, None, str(exc)))
    return Sweep(getattr(spec, "label", ""), options, tuple(points))


def stage_memory(spec: Any, options: RunOptions) -> tuple[StageMemory, ...]:
    """Activation memory per top-level child ("stage") for one forward pass: the measured
    size of each stage's output (any device) and, on CUDA, the measured peak allocation
    while the stage ran above what was allocated when it started; next to the static
    estimate (meta output numel × dtype size)."""
    device = resolve_device(options.device)
    model = cached_model(spec, device, options.channels_last, False)
    prof = spec_profile(spec) or _meta_profile(model, spec.input_shape)
    est = estimate_memory(model, spec.input_shape, options.batch, options.dtype, device,
                          profile=prof)
    if options.check_memory:
        check_fits(est)
    el = DTYPES[options.dtype].itemsize
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
            _sync(device)
    except BusyError as exc:
        raise RunError(str(exc)) from None
    except Exception as exc:
        if not _is_oom(exc):
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
    out = []
    for name, typ, shape1 in prof.stages:
        shape, nbytes, peak = measured.get(name, ((), 0, None))
        est_b = math.prod(shape1) * options.batch * el
        out.append(StageMemory(name, typ, shape, nbytes, est_b, peak))
    return tuple(out)
