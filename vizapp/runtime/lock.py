"""One lock per device kind, process-wide: forward passes on the same accelerator never
overlap (Streamlit serves every session from one process, each session in its own thread).

Waiting sessions queue in arrival order (a ticket queue), may give up after ``timeout``
seconds, and can see how many runs are ahead of them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

from vizapp.i18n import msg


class BusyError(RuntimeError):
    """The device stayed busy longer than the caller wanted to wait."""


class DeviceLock:
    """A fair (first come, first served) lock with a visible queue."""

    def __init__(self, name: str):
        self.name = name
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self.holder: str | None = None  # what the current run says it is
        self.since: float | None = None

    @property
    def waiting(self) -> int:
        """Runs waiting (not counting the one running)."""
        with self._cond:
            busy = 1 if self.holder is not None else 0
            return max(0, self._next_ticket - self._serving - busy - len(self._abandoned))

    @property
    def busy(self) -> bool:
        return self.holder is not None

    def _skip_abandoned(self) -> None:
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1

    @contextlib.contextmanager
    def hold(self, what: str = "forward pass", timeout: float | None = None,
             cancel: threading.Event | None = None,
             on_wait: Callable[[int], None] | None = None) -> Iterator[float]:
        """Hold the lock for a block; yields the seconds spent waiting. Raises
        :class:`BusyError` after ``timeout`` seconds in the queue, or as soon as ``cancel`` is
        set while waiting. ``on_wait(runs_ahead)`` is called while queued (a long training
        shows its place in the queue)."""
        t0 = time.perf_counter()
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            deadline = None if timeout is None else t0 + timeout
            while ticket != self._serving:
                if on_wait is not None:
                    on_wait(ticket - self._serving - sum(a < ticket for a in self._abandoned))
                now = time.perf_counter()
                expired = deadline is not None and now >= deadline
                if expired or (cancel is not None and cancel.is_set()):
                    self._abandoned.add(ticket)
                    self._skip_abandoned()
                    self._cond.notify_all()
                    if not expired:
                        raise BusyError(msg("cancelled while waiting for the device"))
                    raise BusyError(msg("the {name} device is busy with {holder}; gave up after "
                                        "{timeout:g} s in a queue of {queue}. Try again in a "
                                        "moment.", name=self.name,
                                        holder=self.holder or msg("another run"), timeout=timeout,
                                        queue=ticket - self._serving))
                wait = None if deadline is None else deadline - now
                if cancel is not None or on_wait is not None:  # wake up to look again
                    wait = 0.25 if wait is None else min(wait, 0.25)
                self._cond.wait(wait)
            self.holder, self.since = what, time.perf_counter()
        try:
            yield self.since - t0
        finally:
            with self._cond:
                self.holder = self.since = None
                self._serving += 1
                self._skip_abandoned()
                self._cond.notify_all()


_LOCKS: dict[str, DeviceLock] = {}
_LOCKS_GUARD = threading.Lock()


def lock_for(device: str) -> DeviceLock:
    """The process-wide lock of a device kind ("cuda:0" and "cuda" share one)."""
    kind = str(device).split(":")[0]
    with _LOCKS_GUARD:
        if kind not in _LOCKS:
            _LOCKS[kind] = DeviceLock(kind)
        return _LOCKS[kind]
