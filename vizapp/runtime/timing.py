"""The timing loop and what surrounds it: synchronisation, autocast, the seeded input batch,
cuDNN's benchmark mode, telling an out-of-memory error from other failures."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator, Sequence

import torch
from torch import nn

from .run_records import DTYPES


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA, MPS); nothing to wait for on the CPU."""
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
    synchronize(device)
    t_start = time.perf_counter()
    for _ in range(iters):
        t0 = time.perf_counter()
        model(x)
        synchronize(device)
        lat.append((time.perf_counter() - t0) * 1e3)
    return lat, (time.perf_counter() - t_start) * 1e3


def is_oom(exc: BaseException) -> bool:
    """Whether ``exc`` is the device (or the CPU allocator) running out of memory."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    msg = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in msg or
                                              "can't allocate memory" in msg)


@contextlib.contextmanager
def cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """cuDNN picks its fastest algorithms for the fixed shapes of a timed run."""
    old = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = device.type == "cuda"
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = old
