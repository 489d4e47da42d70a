"""Trainings in a background thread (:class:`TrainRun`, polled by a UI) and what the other
pages use of a finished one (:class:`Trained`: its weights for the same configuration)."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn

from vizapp.i18n import msg
from vizapp.labs.data import DataSet
from vizapp.runtime import model_cache
from vizapp.runtime.run_records import MemoryEstimate

from .loop import gone_message, train
from .records import (BNRecord, EpochRecord, LayerStats, Progress, StepRecord, TrainResult,
                      WatchRecord)
from .settings import TrainError, TrainSettings


@dataclass(frozen=True, eq=False)
class Job:
    """One training of a :class:`TrainRun`."""

    label: str  # the name of its curves (unique within the run)
    model: nn.Module | None  # trained as a copy (None once an owned model has been trained)
    config: dict[str, Any] = field(default_factory=dict)  # saved with the weights
    settings: TrainSettings | None = None  # None: the run's settings (an lr comparison differs)
    spec: Any = None  # the ModelSpec it was built from: other pages find its weights by it
    owned: bool = False  # built for this job alone: trained itself (no copy), then let go
    estimate: MemoryEstimate | None = None  # its training estimate for these settings, when
    #                                         the page has made it already (checked, not redone)


class TrainRun:
    """One or more trainings in a background thread (one after the other, same data and
    seed; each may have its own settings); the records are kept for a UI to poll with
    :meth:`view`, by as many sessions as watch it.

    Watchers are callables saying whether a session is still there (``alive``, then
    :meth:`watch`): the run goes on while any of them says so and stops within a step once
    none does (a run nobody ever watched goes on: the CLI, scripts). :meth:`leave` lets one
    session go; the last one to leave stops the run. ``on_end(run)`` is called in the run's
    thread when every job has ended."""

    def __init__(self, jobs: list[Job | tuple], data: DataSet, settings: TrainSettings, *,
                 alive: Callable[[], bool] | None = None,
                 on_end: Callable[["TrainRun"], None] | None = None):
        self.jobs = [j if isinstance(j, Job) else Job(*j) for j in jobs]
        labels = [j.label for j in self.jobs]
        if len(set(labels)) != len(labels):
            raise TrainError(msg("two runs are both called '{label}': give each its own label",
                                 label=labels[0]))
        self.data, self.settings, self.on_end = data, settings, on_end
        self.watchers: list[Callable[[], bool]] = [alive] if alive is not None else []
        self.id = uuid.uuid4().hex  # a cache key for its trained weights
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self.records: dict[str, dict[str, list]] = {
            j.label: {"step": [], "epoch": [], "bn": [], "watch": [], "inside": []}
            for j in self.jobs}
        self.progress: dict[str, Progress] = {
            j.label: Progress("pending", message=msg("next, after {label}", label=labels[i - 1])
                              if i else msg("starting"))
            for i, j in enumerate(self.jobs)}
        self.results: dict[str, TrainResult] = {}
        self.error: str | None = None
        self.thread = threading.Thread(target=self._work, daemon=True, name="vizapp-train")

    def start(self) -> "TrainRun":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Told to stop (by a user, or because nobody watches it any more)."""
        return self.stop_event.is_set()

    def watch(self, watcher: Callable[[], bool]) -> None:
        """One more session watches the run (it goes on while any watcher says True)."""
        with self._lock:
            if all(w is not watcher for w in self.watchers):
                self.watchers.append(watcher)

    def leave(self, watcher: Callable[[], bool]) -> int:
        """``watcher``'s session stops watching; the last one to leave stops the run (and
        stays its watcher, so the run ends "stopped by the user"). Returns how many other
        watchers are left."""
        with self._lock:
            others = [w for w in self.watchers if w is not watcher]
            if others:
                self.watchers = others
        if not others:
            self.stop()
        return len(others)

    def alive(self) -> bool:
        """Whether anyone still watches (True for a run nobody ever watched)."""
        with self._lock:
            watchers = list(self.watchers)
        return not watchers or any(w() for w in watchers)

    def watching(self) -> int:
        """How many of its watchers are there now."""
        with self._lock:
            watchers = list(self.watchers)
        return sum(1 for w in watchers if w())

    def settings_of(self, label: str) -> TrainSettings:
        job = next(j for j in self.jobs if j.label == label)
        return job.settings or self.settings

    def _emitter(self, label: str) -> Callable[[Any], None]:
        kinds = {StepRecord: "step", EpochRecord: "epoch", BNRecord: "bn", WatchRecord: "watch",
                 LayerStats: "inside"}

        def emit(r: Any) -> None:
            with self._lock:
                if isinstance(r, Progress):
                    self.progress[label] = r
                else:
                    self.records[label][kinds[type(r)]].append(r)
        return emit

    def _work(self) -> None:
        try:
            self._train_jobs()
        finally:
            if self.on_end is not None:
                self.on_end(self)

    @property
    def done(self) -> bool:
        """Every job ended by itself (status "done"): a result worth keeping for the next
        session that asks for the same run."""
        with self._lock:
            results = dict(self.results)
        return all(results.get(j.label) is not None and results[j.label].status == "done"
                   for j in self.jobs)

    def _train_jobs(self) -> None:
        for i, job in enumerate(self.jobs):
            label = job.label
            if not self.stop_event.is_set() and not self.alive():
                self.stop_event.set()
                with self._lock:
                    self.progress[label] = Progress("stopped", message=gone_message(0))
                continue
            if self.stop_event.is_set():
                with self._lock:
                    self.progress[label] = Progress("stopped", message=msg("not run (stopped)"))
                continue
            try:
                res = train(job.model, self.data, job.settings or self.settings, label=label,
                            stop=self.stop_event, emit=self._emitter(label),
                            config=job.config, alive=self.alive, in_place=job.owned,
                            estimate=job.estimate)
            except TrainError as exc:
                res = TrainResult("failed", str(exc), label, "", "", (), 0, 0.0)
            except Exception as exc:  # noqa: BLE001 - a thread must not die silently
                res = TrainResult("failed", f"{type(exc).__name__}: {exc}", label, "", "", (),
                                  0, 0.0)
            if job.owned:  # let the trained model go (its weights are in the result)
                with self._lock:
                    job = self.jobs[i] = dataclasses.replace(job, model=None)
            model_cache.release_memory(None)  # the run's activations and optimizer state
            with self._lock:
                self.results[label] = res
                p = self.progress[label]
                self.progress[label] = dataclasses.replace(
                    p, phase="done" if res.status == "done" else
                    "failed" if not res.ok else "stopped", message=res.message, eta_s=0.0)

    def view(self) -> dict[str, Any]:
        """A consistent copy: {label: {"step": (...), "epoch": (...), "bn": (...),
        "watch": (...), "progress": Progress, "result": TrainResult | None}}."""
        with self._lock:
            return {label: {**{k: tuple(v) for k, v in recs.items()},
                            "progress": self.progress[label],
                            "result": self.results.get(label)}
                    for label, recs in self.records.items()}


# ----------------------------------------------------------------------------- for other pages
@dataclass(frozen=True, eq=False)
class Trained:
    """A finished training's weights, as the Feature maps and BatchNorm pages use them."""

    key: str  # unique per run and label (a cache key; weights never change under it)
    label: str
    spec: Any  # the ModelSpec it was built from
    result: TrainResult
    data: DataSet  # what it was trained on (its validation images are the pages' inputs)

    @property
    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.result.state_dict

    @property
    def val_acc(self) -> float | None:
        e = self.result.epochs
        return e[-1].val_acc if e else None

    def validation(self, start: int, n: int = 1) -> tuple[torch.Tensor, tuple[int, ...]]:
        """``n`` validation images from ``start`` (clamped to the split) as the model takes
        them (N, C, H, W), and their true classes."""
        total = len(self.data.y_val)
        start = max(0, min(int(start), total - 1))
        stop = min(total, start + max(1, int(n)))
        return self.data.x_val[start:stop], tuple(int(y) for y in self.data.y_val[start:stop])


def same_architecture(a: Any, b: Any) -> bool:
    """Whether two ModelSpecs build the same modules with the same tensor shapes: the same
    family and the same configuration (every knob and the input), the batch aside."""
    if a is None or b is None or a.family != b.family or type(a.config) is not type(b.config):
        return False
    ca, cb = a.config, b.config
    if any(f.name == "batch" for f in dataclasses.fields(ca)):
        ca, cb = dataclasses.replace(ca, batch=1), dataclasses.replace(cb, batch=1)
    return ca == cb


def trained_for(run: "TrainRun | None", spec: Any) -> list[Trained]:
    """The runs of ``run`` that ended with usable weights (done, stopped or at the time cap,
    after at least one step) for the configuration ``spec``; [] when there are none."""
    if run is None:
        return []
    with run._lock:
        results = dict(run.results)
    out = []
    for job in run.jobs:
        res = results.get(job.label)
        if (res is not None and res.ok and res.steps > 0 and res.state_dict
                and same_architecture(job.spec, spec)):
            out.append(Trained(f"{run.id}:{job.label}", job.label, job.spec, res, run.data))
    return out


def trained_model(t: Trained) -> nn.Module:
    """A fresh model of ``t``'s configuration with its trained weights, in eval mode on the
    CPU (the caller may share it read-only: the labs deep-copy before any pass)."""
    from vizapp.zoo import build_model

    model = build_model(t.spec)
    model.load_state_dict(t.state_dict)
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> tuple[int, float]:
    """The class ``model`` (eval mode) gives the one image ``x`` (1, C, H, W), with its
    softmax probability."""
    p = model(x).float().softmax(1)[0]
    k = int(p.argmax())
    return k, float(p[k])
