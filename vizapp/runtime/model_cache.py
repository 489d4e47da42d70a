"""The real-weight model cache of the Run page and CLI: bounded by entries AND by bytes
(weights + buffers), least recently used first out; evicted models are freed."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

MODEL_CACHE_SIZE = 2  # (spec, device, format, compile) entries kept; each holds real weights
MODEL_CACHE_BYTES = 1 << 30  # and at most this many bytes of weights in all (1 GiB)


# ----------------------------------------------------------------------------- the model cache
_CACHE: OrderedDict[tuple, nn.Module] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _bytes(model: nn.Module) -> int:
    target = getattr(model, "_orig_mod", model)
    return sum(t.numel() * t.element_size() for t in [*target.parameters(), *target.buffers()])


def cached_model(spec: Any, device: torch.device, channels_last: bool = False,
                 compile: bool = False) -> nn.Module:
    """The spec's model with real weights on ``device`` in eval mode, built once and kept in a
    LRU cache bounded by entries and bytes (evicted models are freed, and CUDA's cache
    emptied). The same weights (seed 0) for every build of one spec, so runs are comparable.
    Callers check :func:`vizapp.runtime.memory.check_build` first."""
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
        evicted = _evict(keep=key)
    if evicted:
        release_memory(device)
    return model


def cache_bytes() -> int:
    """Bytes of weights the cache holds (a compiled model shares its base's weights)."""
    with _CACHE_LOCK:
        return _total()


def _total() -> int:
    seen: set[int] = set()
    total = 0
    for m in _CACHE.values():
        base = getattr(m, "_orig_mod", m)
        if id(base) not in seen:
            seen.add(id(base))
            total += _bytes(base)
    return total


def _evict(keep: tuple) -> bool:
    """Drop least recently used entries over the entry or byte bound (never ``keep``)."""
    evicted = False
    while len(_CACHE) > 1 and (len(_CACHE) > MODEL_CACHE_SIZE or _total() > MODEL_CACHE_BYTES):
        oldest = next(iter(_CACHE))
        if oldest == keep:
            break
        _CACHE.popitem(last=False)
        evicted = True
    return evicted


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
    release_memory(None)


def _malloc_trim() -> None:
    """The C heap's free pages back to the OS (+2.5 GB "after" for ResNet-152 without it)."""
    from .fork import trim_heap

    trim_heap()


def release_memory(device: torch.device | None) -> None:
    gc.collect()
    _malloc_trim()
    if torch.cuda.is_available() and (device is None or device.type == "cuda"):
        torch.cuda.empty_cache()
    if device is not None and device.type == "mps":
        with contextlib.suppress(Exception):
            torch.mps.empty_cache()
