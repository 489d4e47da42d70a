"""Live forward passes: devices, timed runs with real weights, the per-device lock.

One run: resolve the device → the model from a small cache bounded in entries and bytes
(:mod:`.model_cache`) → the memory estimate, on meta, refusing what cannot fit
(:mod:`.memory`) → the device's lock (:mod:`.lock`) → warm-up and timed passes
(:mod:`.timing`, :mod:`.rss`, :mod:`.run`) → a frozen :class:`RunResult` (:mod:`.records`).
Activation memory per stage: :mod:`.stages`. Nothing here imports Streamlit.

Timing: on CUDA each iteration is bracketed by CUDA events, with one synchronisation before and
one after the loop; on the CPU and MPS ``time.perf_counter`` around each (synchronised)
iteration, under ``torch.inference_mode()`` and, for bf16/fp16, ``torch.autocast``. Peak
memory: ``torch.cuda.max_memory_allocated`` on CUDA; on the CPU the weights plus the growth of
the resident set during the warm-up passes; on MPS the driver's allocated memory. An
out-of-memory error is caught, the memory released and reported as :class:`OutOfMemory`."""

from .devices import DeviceError, DeviceInfo, available_devices, best_device, resolve_device
from .lock import BusyError, DeviceLock, lock_for
from .memory import (BUILD_BUDGET_BYTES, check_build, check_fits, device_budget, estimate_build,
                     estimate_memory, spec_profile, suggest_batch)
from .model_cache import MODEL_CACHE_BYTES, MODEL_CACHE_SIZE, cache_bytes, cached_model, \
    clear_cache, release_memory
from .run_records import (DTYPES, BuildEstimate, BuildRefused, MemoryEstimate, MemoryRefused,
                      OutOfMemory, RunError, RunOptions, RunResult, StageMemory, Sweep,
                      SweepPoint, percentile)
from .run import run_model, run_spec, sweep
from .stages import stage_memory
from .timing import make_input, precision, timed_loop

__all__ = ["DeviceError", "DeviceInfo", "available_devices", "best_device", "resolve_device",
           "BusyError", "DeviceLock", "lock_for", "BUILD_BUDGET_BYTES", "check_build",
           "check_fits", "device_budget", "estimate_build", "estimate_memory", "spec_profile",
           "suggest_batch", "MODEL_CACHE_BYTES", "MODEL_CACHE_SIZE", "cache_bytes",
           "cached_model", "clear_cache", "release_memory", "DTYPES", "BuildEstimate",
           "BuildRefused", "MemoryEstimate", "MemoryRefused", "OutOfMemory", "RunError",
           "RunOptions", "RunResult", "StageMemory", "Sweep", "SweepPoint",
           "percentile", "run_model", "run_spec", "sweep", "stage_memory", "make_input",
           "precision", "timed_loop"]
