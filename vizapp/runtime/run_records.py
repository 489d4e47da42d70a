"""The frozen records of live forward passes (options, estimates, results, sweeps), the errors
a run can end in, and :func:`percentile`. No torch maths here. (The analysis's records, of a
model's nodes and blocks, are :mod:`vizapp.analysis.records`.)"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch

from vizapp.fmt import bytes_text
from vizapp.i18n import msg

DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16,
                                  "fp16": torch.float16}


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
        s = msg("batch {batch} needs about {total} (weights {weights}, activations ≈ "
                "{per_sample}/sample, largest at {layer})", batch=self.batch,
                total=bytes_text(self.total_bytes), weights=bytes_text(self.param_bytes),
                per_sample=bytes_text(self.activation_bytes_per_sample),
                layer=self.largest_layer or "?")
        if self.budget_bytes is not None:
            s += msg("; {device} can give about {budget}", device=self.device,
                     budget=bytes_text(self.budget_bytes))
        return s


class BuildRefused(RunError):
    """Building the real weights (and one pass) would exceed the byte budget; nothing built."""


@dataclass(frozen=True)
class BuildEstimate:
    """Bytes a real-weight build and one forward pass would take, estimated on meta."""

    label: str
    batch: int
    param_bytes: int  # weights and buffers (fp32), one copy
    activation_bytes: int  # one pass of the batch: activation peak + input
    budget_bytes: int
    weight_copies: int = 1  # the cached model, plus the deep copy a lab works on

    @property
    def total_bytes(self) -> int:
        return self.param_bytes * self.weight_copies + self.activation_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.budget_bytes

    def text(self) -> str:
        copies = "" if self.weight_copies == 1 else f"{self.weight_copies} × "
        return msg("{model} at batch {batch} needs about {total} (weights {copies}{weights}, "
                   "activations {activations}); the budget for one visitor is {budget}",
                   model=self.label or msg("the model"), batch=self.batch,
                   total=bytes_text(self.total_bytes), copies=copies,
                   weights=bytes_text(self.param_bytes),
                   activations=bytes_text(self.activation_bytes),
                   budget=bytes_text(self.budget_bytes))


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


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    v = sorted(values)
    if not v:
        return float("nan")
    pos = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)
