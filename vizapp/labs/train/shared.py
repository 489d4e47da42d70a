"""Identical runs are one run: thirty students who open the same link and press Train share a
single training.

A run is determined by its :func:`run_key` (each job's label, model configuration and
settings — the seed among them, the device as its kind, the schedule's parameters as the run
uses them — and the data). :class:`RunRegistry` keeps the runs in progress and, bounded in
bytes like the app's other shared caches (:class:`vizapp.runtime.cache.SharedCache`), the
runs that finished: a session that asks for a key

- that is training (or queued) watches that very :class:`TrainRun` (its curves and progress
  are the same object's records); the run goes on while any watcher is there;
- that finished (every job "done") gets the stored run at once, with its curves and weights;
- that nobody has asked for starts it (counted in :attr:`RunRegistry.started`); runs of
  other keys still queue for the device, one at a time, as before.

Stopped, failed and timed-out runs are not kept: the next press trains again. Training is
reproducible for a key (seeded batches, weights and dropout; see :mod:`.loop`), which is what
makes sharing one run honest. Nothing here imports Streamlit.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from vizapp.labs import schedules
from vizapp.runtime import devices
from vizapp.runtime.cache import SharedCache, pickled_size

from .background import TrainRun
from .settings import TrainSettings

RUN_CACHE_BYTES = 128 << 20  # finished runs kept (weights, records, their data)
RUN_CACHE_ENTRIES = 32


def _device_kind(name: str) -> str:
    try:
        return devices.resolve_device(name).type
    except devices.DeviceError:
        return str(name).split(":")[0]


def _canonical(s: TrainSettings) -> TrainSettings:
    """The settings as the run uses them: the device as its kind ("cuda:0" and "auto" on a
    CUDA machine train alike), every schedule parameter spelled out."""
    args: tuple = ()
    if s.schedule != "none":
        args = tuple(sorted(schedules.run_params(s.schedule, s.epochs, s.lr,
                                                 dict(s.schedule_args)).items()))
    return dataclasses.replace(s, device=_device_kind(s.device), schedule_args=args)


def _architecture(spec: Any) -> str:
    """The configuration without the sidebar's batch (training takes its own)."""
    cfg = getattr(spec, "config", None)
    if cfg is not None and any(f.name == "batch" for f in dataclasses.fields(cfg)):
        spec = dataclasses.replace(spec, config=dataclasses.replace(cfg, batch=1))
    return repr(spec)


def run_key(jobs: Sequence[tuple[str, Any, TrainSettings]], data_key: str) -> str:
    """The key of a run of ``jobs`` ((label, ModelSpec, settings) each, in order) on the data
    ``data_key`` names (its source, size and classes; a digest for an upload)."""
    return repr((tuple((label, _architecture(spec), repr(_canonical(s)))
                       for label, spec, s in jobs), data_key))


def run_bytes(run: TrainRun) -> int:
    """What a finished run holds: its records and weights (pickled) and its data set."""
    d = run.data
    data = sum(t.element_size() * t.nelement() for t in (d.x_train, d.y_train, d.x_val, d.y_val))
    return pickled_size(run.view()) + data


@dataclass(frozen=True)
class Joined:
    """What :meth:`RunRegistry.join` gave: the run and how ("started": this call started it,
    "joined": it was training and is now watched by one more, "stored": it had finished)."""

    run: TrainRun
    how: str


class RunRegistry:
    """Runs by key, shared by every session of the process (see the module's doc)."""

    def __init__(self, max_bytes: int = RUN_CACHE_BYTES, max_entries: int = RUN_CACHE_ENTRIES):
        self.finished = SharedCache("trainings", max_bytes, max_entries, sizeof=run_bytes)
        self.live: dict[str, TrainRun] = {}
        self.started = 0  # runs this registry has started
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def _find(self, key: str, watcher: Callable[[], bool]) -> Joined | None:
        with self._lock:
            run = self.live.get(key)
            if run is not None and not run.stopping:
                run.watch(watcher)
                return Joined(run, "joined")
        stored = self.finished.peek(key)
        return Joined(stored, "stored") if stored is not None else None

    def join(self, key: str, make: Callable[[], TrainRun],
             watcher: Callable[[], bool]) -> Joined:
        """The run of ``key``, watched by ``watcher`` (a session's "still there?"): the one
        in progress, the stored one, or a new one from ``make()`` (called at most once per
        key at a time, however many sessions ask together; its errors propagate)."""
        found = self._find(key, watcher)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            try:
                found = self._find(key, watcher)  # another session may have started it
                if found is not None:
                    return found
                run = make()
                run.watch(watcher)
                run.on_end = lambda r: self._ended(key, r)
                with self._lock:
                    self.live[key] = run
                    self.started += 1
                run.start()
                return Joined(run, "started")
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)

    def _ended(self, key: str, run: TrainRun) -> None:
        if run.done:  # stored before it leaves the live runs: no moment without either
            self.finished.put(key, run)
        with self._lock:
            if self.live.get(key) is run:
                del self.live[key]

    def clear(self) -> None:
        """Forget the finished runs (the runs in progress go on)."""
        self.finished.clear()


RUNS = RunRegistry()  # the process's registry: every session of the app shares it
