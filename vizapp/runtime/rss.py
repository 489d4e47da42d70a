"""The resident set size of this process, and a sampler of its peak during a run (CPU)."""

from __future__ import annotations

import os
import threading
from typing import Any


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class RSSSampler:
    """Peak resident set size of this process while active (a thread reads /proc every ms)."""

    def __init__(self, period: float = 0.001):
        self.period = period
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> "RSSSampler":
        self._t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss())
