"""The bytes of model files the app or the CLI opened, by digest: a bounded, process-wide cache
(a spec carries only the digest; the bytes travel with each worker job that needs them)."""

from __future__ import annotations

import hashlib
from typing import Any

from vizapp.runtime import workers
from vizapp.runtime.cache import SharedCache

# at most 8 files, 256 MB together (uploads are 16 MB at most; a CLI file may be larger)
FILES = SharedCache("model files", 256 * 1024 * 1024, 8, sizeof=lambda v: len(v[1]) + 200)
# digest → (file name, bytes, the input it was exported for)


def digest(data: bytes) -> str:
    """The name a file's bytes go by in specs and caches."""
    return hashlib.sha256(data).hexdigest()[:16]


def put(name: str, data: bytes, input_shape: tuple[int, ...] = ()) -> str:
    """Keep a file's bytes (and the input it was exported for); returns its digest (the name
    specs use)."""
    key = digest(data)
    FILES.put(key, (name, data, tuple(input_shape)))
    return key


def get(key: str) -> tuple[str, bytes] | None:
    """(name, bytes) of a file kept here, or None."""
    kept = FILES.peek(key)
    return (kept[0], kept[1]) if kept is not None else None


def input_shape(key: str) -> tuple[int, ...] | None:
    """The input (N, C, H, W) a kept file was exported for (no parsing), or None."""
    kept = FILES.peek(key)
    return kept[2] if kept is not None and kept[2] else None


def _give(*args: Any) -> list[tuple[str, tuple]]:
    """What a worker job needs: the bytes of each file spec among its arguments."""
    out = []
    for a in args:  # a spec, or a file's config itself
        key = getattr(getattr(a, "config", a), "file_digest", None)
        kept = FILES.peek(key) if isinstance(key, str) else None
        if kept is not None:
            out.append((key, kept))
    return out


def _take(items: list[tuple[str, tuple]]) -> None:
    for key, kept in items:
        FILES.put(key, kept)


workers.carry(_give, _take)
