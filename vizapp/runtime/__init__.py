"""Live forward passes: devices, timed runs with real weights, the per-device lock.

Nothing here imports Streamlit; results are frozen records (:class:`RunResult` …)."""

from .devices import DeviceError, DeviceInfo, available_devices, best_device, resolve_device
from .forward import (DTYPES, MemoryEstimate, MemoryRefused, OutOfMemory, RunError, RunOptions,
                      RunResult, StageMemory, Sweep, SweepPoint, cached_model, check_fits,
                      clear_cache, estimate_memory, fmt_bytes, run_model, run_spec,
                      stage_memory, sweep)
from .lock import BusyError, DeviceLock, lock_for

__all__ = ["DeviceError", "DeviceInfo", "available_devices", "best_device", "resolve_device",
           "DTYPES", "MemoryEstimate", "MemoryRefused", "OutOfMemory", "RunError", "RunOptions",
           "RunResult", "StageMemory", "Sweep", "SweepPoint", "cached_model", "check_fits",
           "clear_cache", "estimate_memory", "fmt_bytes", "run_model", "run_spec",
           "stage_memory", "sweep", "BusyError", "DeviceLock", "lock_for"]
