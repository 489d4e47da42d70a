"""A process-wide cache bounded in bytes as well as entries, shared by every session.

``st.cache_*`` bound a cache by its number of entries only: forty layouts of a full-depth
DenseNet or forty analyses of a 10,000-node network would hold gigabytes. :class:`SharedCache`
counts the bytes of what it keeps (``sizeof``) and evicts the least recently used entries past
either limit. Concurrent misses on one key compute it once (the others wait for it);
exceptions are not cached.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


def pickled_size(value: Any) -> int:
    """Bytes of ``value`` as pickled — what a frozen record costs to keep, near enough."""
    return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


class SharedCache:
    def __init__(self, name: str, max_bytes: int, max_entries: int,
                 sizeof: Callable[[Any], int] = pickled_size):
        self.name, self.max_bytes, self.max_entries, self.sizeof = (name, max_bytes,
                                                                    max_entries, sizeof)
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.bytes = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing it (once, whoever asks) on a miss."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key][0]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another session may have computed it while we waited
                if key in self._data:
                    self._data.move_to_end(key)
                    return self._data[key][0]
            try:
                value = compute()
                self.put(key, value)
                return value
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)

    def peek(self, key: Hashable) -> Any:
        """The cached value of ``key`` (now the most recently used), or None; computes
        nothing (for values that are made elsewhere and :meth:`put` here when ready)."""
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key][0]

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` (replacing what was there), evicting the least
        recently used entries past either limit; a value bigger than the whole cache is not
        kept."""
        size = self.sizeof(value)
        with self._lock:
            if size > self.max_bytes:
                return  # too big to keep: computed for this caller only
            if key in self._data:
                self.bytes -= self._data.pop(key)[1]
            self._data[key] = (value, size)
            self.bytes += size
            while self._data and (self.bytes > self.max_bytes or
                                  len(self._data) > self.max_entries):
                _, (_, s) = self._data.popitem(last=False)
                self.bytes -= s

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._data)
