"""A small pool of worker processes for the work that must not share the app's interpreter.

``torch.fx`` patches process-wide state while it traces (``nn.Module.__call__`` …): in a
server where thirty sessions share one process, a trace in one session's thread would break
an ordinary forward pass running in another's (a BatchNorm statistic, a training step, the
zoo's meta-forward that sizes a Linear). So the app never traces in its own process: analyses
and fx-generated code run here, in ``spawn``-ed workers, and come back as the frozen
records / strings they produce (they pickle).

The pool is created on first use and shared by the whole process. A job that runs past its
time limit takes its worker down with it (the pool is rebuilt; other jobs in flight are
retried once), so one pathological configuration cannot hold a worker for good.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing
import os
import threading
from typing import Any, Callable

# one core stays with the server's own process (its reruns), the rest run analyses: one worker
# on a 2-core laptop; 0 runs jobs in the calling thread (tests that patch the analysis)
WORKERS = int(os.environ.get("VIZAPP_WORKERS", str(max(1, min(4, (os.cpu_count() or 2) - 1)))))
TIMEOUT_S = float(os.environ.get("VIZAPP_WORKER_TIMEOUT", "90"))

_lock = threading.Lock()
_pool: cf.ProcessPoolExecutor | None = None


class WorkerTimeout(RuntimeError):
    """A job ran past its time limit (its worker was stopped)."""


def _init() -> None:  # in each worker: one thread each, the machine's cores go to the workers
    import torch

    torch.set_num_threads(1)


def _get() -> cf.ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = cf.ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_init)
        return _pool


def _discard(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool's processes now (a job overran) and forget the pool."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    for p in list(getattr(pool, "_processes", {}).values()):
        p.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def call(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
    """``fn(*args)`` in a worker process; its exceptions are raised here as they were there."""
    if WORKERS <= 0:
        return fn(*args)
    limit = TIMEOUT_S if timeout is None else timeout
    carried = [(take, give(*args)) for give, take in _carriers]
    carried = [(take, data) for take, data in carried if data]
    for attempt in (0, 1):
        pool = _get()
        try:
            return pool.submit(_job, carried, fn, *args).result(timeout=limit)
        except cf.TimeoutError:
            _discard(pool)
            raise WorkerTimeout(f"the computation took longer than {limit:.0f} s and was "
                                f"stopped") from None
        except cf.process.BrokenProcessPool:
            _discard(pool)
            if attempt:
                raise
    raise AssertionError("unreachable")


_carriers: list[tuple[Callable[..., Any], Callable[[Any], None]]] = []


def carry(give: Callable[..., Any], take: Callable[[Any], None]) -> None:
    """Register what travels with every job: ``give(*args)`` in the sender (falsy: nothing),
    ``take(data)`` in the worker before the job runs. The code box's sandbox uses it so a
    worker rebuilds a model from the description the server already has, instead of
    evaluating the code again."""
    if (give, take) not in _carriers:
        _carriers.append((give, take))


def _job(carried: list, fn: Callable[..., Any], *args: Any) -> Any:
    """In a worker: ``fn(*args)`` after each carried ``take(data)``."""
    for take, data in carried:
        take(data)
    return fn(*args)


def _ready() -> bool:
    """In a worker: import what analyses need (the first real job then starts at once)."""
    import vizapp.analysis  # noqa: F401
    import vizapp.zoo

    vizapp.zoo.families()
    return True


def warm() -> None:
    """Start the workers and load torch and vizapp in them now, without waiting (the server
    does this at start-up, so the first visitor does not pay for it)."""
    if WORKERS <= 0:
        return
    pool = _get()
    try:
        for _ in range(WORKERS):
            pool.submit(_ready)
    except RuntimeError:  # the server is stopping (the pool was shut down): nothing to warm
        pass


def shutdown() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


atexit.register(shutdown)
