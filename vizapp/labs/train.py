"""Train a network for real on small offline data: any zoo spec, torchvision builder or
``nn.Module`` (always on its own copy), SGD with momentum or Adam, weight decay, and the
learning-rate schedules of :mod:`vizapp.labs.schedules` (the same knobs, the same scheduler
factory, stepped once per epoch).

The loop reports through ``emit(record)``: :class:`StepRecord` (every few steps),
:class:`EpochRecord`, :class:`BNRecord` (running mean/var and γ/β per BatchNorm layer),
:class:`WatchRecord` (15/50/85th percentiles of one unit of a chosen layer's input, as in
Ioffe & Szegedy 2015, Fig. 1b,c) and :class:`Progress`; it returns a :class:`TrainResult`.
:class:`TrainRun` runs it in a background thread under the device lock and keeps the records
for a UI to poll. Nothing here imports Streamlit.

Batch order: epoch ``e`` visits the training images in the order
``torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1009 + e))`` (a last batch
of one image is dropped: BatchNorm cannot normalise it), so a hand-written loop can replay a
run exactly.

No global random state is touched: the batch order comes from its own generator (above), the
initial weights come with the model (build it seeded, e.g. ``build_model(spec, seed=s)``), and
the masks of dropout modules (``nn.Dropout``, ``Dropout1d/2d/3d``) come from a generator seeded
with ``seed`` on the training device, so identical seeds give identical curves whatever other
threads do with ``torch``'s global RNG (a model that calls ``F.dropout`` itself draws from the
global RNG and is not reproducible).

A run can be told to stop by an ``alive()`` callback (checked before every step and while it
waits for the device): when the browser session that started it is gone, it stops.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from vizapp.i18n import msg
from vizapp.labs import schedules
from vizapp.labs.data import DataSet
from vizapp.runtime import devices, memory, model_cache, run_records, timing
from vizapp.runtime.lock import BusyError, lock_for
from vizapp.knobs import ConfigError, check_value, knob, knob_infos

MAX_EPOCHS = 100
MAX_BATCH = 4096
MAX_SECONDS = 600.0  # a run stops at its time cap (a shared classroom server)
MAX_BN_CHANNELS = 64  # channels recorded per BatchNorm layer
WORST = 12  # misclassified validation images kept
LOG_SECONDS = 0.25  # at most about 4 step records a second unless log_every is given
ACTIVATIONS = (nn.Sigmoid, nn.ReLU, nn.Tanh, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.ReLU6,
               nn.Hardswish, nn.Mish)


class TrainError(ValueError):
    """A training that cannot start; the message names the cause and the fix."""


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class TrainSettings:
    """Training knobs (drawn by the same widget generator as the model's knobs)."""

    optimizer: str = knob("sgd", choices=("sgd", "adam"),
                          help="SGD with momentum (the seed pages' choice) or Adam.")
    lr: float = knob(0.9, min=1e-6, max=10.0, step=0.01, label="learning rate",
                     help="Initial learning rate lr₀ (the schedule scales it).")
    momentum: float = knob(0.0, min=0.0, max=0.999, step=0.01,
                           help="SGD momentum (ignored by Adam).")
    weight_decay: float = knob(0.0, min=0.0, max=1.0, step=1e-4, label="weight decay",
                               help="L2 penalty added by the optimizer.")
    batch_size: int = knob(64, min=2, max=MAX_BATCH, step=1, label="batch size",
                           help="Images per step.")
    epochs: int = knob(10, min=1, max=MAX_EPOCHS, step=1, help="Passes over the training split.")
    schedule: str = knob("none", choices=("none", *schedules.SCHEDULES), label="lr schedule",
                         help="A scheduler of the LR schedules page, stepped once per epoch.")
    seed: int = knob(0, min=0, max=2**31 - 1, step=1,
                     help="Seeds the initial weights, the batch order and dropout.")
    max_seconds: float = knob(120.0, min=1.0, max=MAX_SECONDS, step=10.0, label="time cap (s)",
                              help="The run stops after this many seconds.")
    schedule_args: tuple[tuple[str, Any], ...] = ()  # the schedule's knobs (others default)
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 (fp16) autocast on CUDA, fp32 elsewhere; or fp32
    watch: str | None = None  # module whose input is watched (None: the last activation)
    watch_unit: int = 0  # channel/feature of that input
    log_every: int | None = None  # steps between step records (None: about 8 per epoch,
    #                               at most 4 a second)

    @classmethod
    def knobs(cls):
        return knob_infos(cls)

    def validate(self) -> None:
        try:
            for info in self.knobs():
                check_value(info, getattr(self, info.name))
        except ConfigError as exc:
            raise TrainError(msg("{message}: change {knob}", message=exc.message,
                                 knob=exc.knob)) from None
        if self.schedule != "none":
            try:
                schedules.check_params(self.schedule, dict(self.schedule_args))
            except schedules.ScheduleError as exc:
                raise TrainError(f"{self.schedule}: {exc}") from None
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise TrainError(msg("precision '{p}': use auto, fp32, bf16 or fp16",
                                 p=self.precision))


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class StepRecord:
    step: int  # optimizer steps done
    epoch: int
    loss: float  # mean training loss over the steps since the last record
    acc: float
    lr: float
    seconds: float  # since the start of training
    epochs_done: float = 0.0  # step / steps per epoch (the x of a curve over epochs)


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float  # the lr in force during the epoch
    seconds: float  # training phase of this epoch
    images_per_s: float
    gap: float = float("nan")  # mean |train-mode − eval-mode| logit on validation images

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "train_loss": self.train_loss, "train_acc": self.train_acc,
                "val_loss": self.val_loss, "val_acc": self.val_acc, "lr": self.lr,
                "seconds": self.seconds, "images_per_s": self.images_per_s}


@dataclass(frozen=True)
class BNRecord:
    step: int
    layer: str
    running_mean: tuple[float, ...]
    running_var: tuple[float, ...]
    weight: tuple[float, ...]  # γ
    bias: tuple[float, ...]  # β


@dataclass(frozen=True)
class WatchRecord:
    step: int
    layer: str
    unit: int
    p15: float
    p50: float
    p85: float


@dataclass(frozen=True)
class Progress:
    phase: str  # pending | queued | running | done | stopped | failed
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    images_per_s: float = 0.0
    eta_s: float | None = None
    queue_position: int = 0  # runs ahead of this one on the device
    message: str = ""


@dataclass(frozen=True, eq=False)
class TrainResult:
    status: str  # done | stopped | nan | oom | timeout | failed
    message: str
    label: str
    device: str
    precision: str
    epochs: tuple[EpochRecord, ...]
    steps: int
    seconds: float
    classes: tuple[str, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()  # [true][predicted], validation split
    worst: tuple[tuple[int, int, int, float], ...] = ()  # (val index, true, pred, p(pred))
    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)  # on the CPU
    config: dict[str, Any] = field(default_factory=dict)  # what makes the model again

    @property
    def ok(self) -> bool:
        return self.status in ("done", "stopped", "timeout")


# ----------------------------------------------------------------------------- helpers
def amp_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """Autocast dtype: bf16 (fp16 without bf16) on CUDA for "auto"; none on CPU/MPS."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return run_records.DTYPES[precision]


def estimate_training(model: nn.Module, input_shape, batch: int, device: torch.device,
                      dtype: str = "fp32") -> run_records.MemoryEstimate:
    """The inference estimate of :func:`vizapp.runtime.estimate_memory` plus what training
    keeps: every leaf's output saved for backward, gradients and two Adam moments."""
    prof = memory.meta_profile(model, input_shape)
    est = memory.estimate_memory(model, input_shape, batch, dtype, device, resident=False,
                                  profile=prof)
    el = run_records.DTYPES[dtype].itemsize
    saved = sum(n for _, n in prof.leaves) * el
    per_sample = est.activation_bytes_per_sample + saved
    extra = 3 * est.param_bytes + saved * batch
    max_batch = est.max_batch
    if est.budget_bytes is not None:
        avail = est.budget_bytes - est.param_bytes * 4
        max_batch = max(0, avail // per_sample) if per_sample else None
    return dataclasses.replace(est, activation_bytes_per_sample=per_sample,
                               activation_bytes=per_sample * batch,
                               total_bytes=est.total_bytes + extra, max_batch=max_batch)


def bn_layers(model: nn.Module) -> list[tuple[str, nn.modules.batchnorm._BatchNorm]]:
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


def default_watch(model: nn.Module) -> str | None:
    """The last activation module (the input of the last hidden non-linearity)."""
    names = [n for n, m in model.named_modules() if isinstance(m, ACTIVATIONS)]
    return names[-1] if names else None


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1009 + epoch))


def batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each batch; a trailing batch of one is dropped (BatchNorm)."""
    out = [(i, min(n, i + batch_size)) for i in range(0, n, batch_size)]
    return [b for b in out if b[1] - b[0] > 1] or out


def gone_message(steps: int) -> str:
    return msg("stopped: the browser session that started it is gone (after {steps} steps); "
               "train again from an open page", steps=steps)


class SeededDropout(nn.Module):
    """``nn.Dropout`` (``spatial == 0``) or ``Dropout{spatial}d`` with its masks drawn from
    ``generator`` instead of torch's global RNG (same maths: keep with 1 − p, scale by
    1/(1 − p); channel-wise for the spatial variants)."""

    def __init__(self, p: float, spatial: int, generator: torch.Generator):
        super().__init__()
        self.p, self.spatial, self.generator = float(p), spatial, generator

    def extra_repr(self) -> str:
        return f"p={self.p}, spatial={self.spatial}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p >= 1.0:
            return x * 0.0
        shape = x.shape
        if self.spatial:  # one draw per channel: (N, C, 1, …) or (C, 1, …) without a batch
            lead = 2 if x.dim() == self.spatial + 2 else 1
            shape = x.shape[:lead] + (1,) * (x.dim() - lead)
        keep = 1.0 - self.p
        mask = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(
            keep, generator=self.generator)
        return x * mask / keep


_DROPOUTS = {nn.Dropout: 0, nn.Dropout1d: 1, nn.Dropout2d: 2, nn.Dropout3d: 3}


def seeded_dropout(model: nn.Module, seed: int, device: torch.device) -> torch.Generator:
    """Replace ``model``'s dropout modules (in place: call it on a copy) by
    :class:`SeededDropout` sharing one generator seeded with ``seed`` on ``device``."""
    gen = torch.Generator(device=device).manual_seed(int(seed))
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            spatial = _DROPOUTS.get(type(child))
            if spatial is not None:
                new = SeededDropout(child.p, spatial, gen)
                new.train(child.training)
                setattr(parent, name, new)
    return gen


def _tup(t: torch.Tensor | None) -> tuple[float, ...]:
    if t is None:
        return ()
    return tuple(t.detach()[:MAX_BN_CHANNELS].float().cpu().tolist())


def make_optimizer(model: nn.Module, s: TrainSettings) -> torch.optim.Optimizer:
    if s.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum,
                           weight_decay=s.weight_decay)


class _Stop(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# ----------------------------------------------------------------------------- the loop
class _Loop:
    """One training run's state; :func:`train` drives it."""

    def __init__(self, model: nn.Module, data: DataSet, s: TrainSettings, label: str,
                 stop: threading.Event | None, emit: Callable[[Any], None],
                 alive: Callable[[], bool] | None = None):
        self.s, self.data, self.label, self.emit = s, data, label, emit
        self.stop = stop or threading.Event()
        self.alive = alive
        self.gone = False  # set when alive() said the session is gone
        self.device = devices.resolve_device(s.device)
        self.amp = amp_dtype(self.device, s.precision)
        self.model = model
        self.cl = self.device.type == "cuda" and data.x_train.dim() == 4
        self.bn = bn_layers(model)
        self.watch = s.watch or default_watch(model)
        self.ranges = batches(len(data.y_train), s.batch_size)
        self.log_every = s.log_every or max(1, len(self.ranges) // 8)
        self.min_interval = 0.0 if s.log_every else LOG_SECONDS  # fast loops log less often
        self.last_log = 0.0
        self.total = len(self.ranges) * s.epochs
        self.step = 0
        self.t0 = 0.0
        self.want_watch = False
        self.epochs: list[EpochRecord] = []

    # -- setup
    def prepare(self) -> None:
        dev = self.device
        fmt = torch.channels_last if self.cl else torch.contiguous_format
        self.model.to(dev, memory_format=fmt)
        self.x = self.data.x_train.to(dev)
        self.y = self.data.y_train.to(dev)
        self.xv, self.yv = self.data.x_val.to(dev), self.data.y_val.to(dev)
        if self.cl:
            self.x = self.x.contiguous(memory_format=torch.channels_last)
            self.xv = self.xv.contiguous(memory_format=torch.channels_last)
        self.gen = seeded_dropout(self.model, self.s.seed, dev)
        self.opt = make_optimizer(self.model, self.s)
        self.sched = None
        if self.s.schedule != "none":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.sched = schedules.make_scheduler(self.s.schedule, self.opt, self.s.epochs,
                                                      dict(self.s.schedule_args))
        self.scaler = (torch.amp.GradScaler("cuda") if self.amp is torch.float16 else None)
        self.hooks = []
        if self.watch:
            mod = dict(self.model.named_modules()).get(self.watch)
            if mod is None:
                raise TrainError(msg("the model has no layer '{name}': pick one of its "
                                     "module names", name=self.watch))
            self.hooks.append(mod.register_forward_pre_hook(self._watch_hook))

    def _watch_hook(self, _m: nn.Module, args: tuple) -> None:
        if not self.want_watch or not args or not isinstance(args[0], torch.Tensor):
            return
        self.want_watch = False
        x = args[0].detach()
        unit = min(self.s.watch_unit, x.shape[1] - 1) if x.dim() > 1 else 0
        v = (x[:, unit] if x.dim() > 1 else x).float().flatten()
        q = torch.quantile(v[:100_000], torch.tensor([0.15, 0.5, 0.85], device=v.device))
        p15, p50, p85 = (float(a) for a in q.cpu())
        self.emit(WatchRecord(self.step, self.watch, unit, p15, p50, p85))

    # -- one epoch
    def forward_loss(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.amp is None:
            out = self.model(xb)
        else:
            with torch.autocast(self.device.type, dtype=self.amp):
                out = self.model(xb)
        out = out.float()
        return F.cross_entropy(out, yb), out

    def train_epoch(self, epoch: int) -> tuple[float, float, float]:
        self.model.train()
        order = epoch_order(len(self.y), self.s.seed, epoch).to(self.device)
        losses, correct, seen, t0 = [], [], 0, time.perf_counter()
        mark = 0
        for i, (a, b) in enumerate(self.ranges):
            self.check_stop()
            idx = order[a:b]
            xb, yb = self.x[idx], self.y[idx]
            due = (self.step + 1) % self.log_every == 0 and (
                time.perf_counter() - self.last_log >= self.min_interval)
            self.want_watch = self.watch is not None and due
            loss, out = self.forward_loss(xb, yb)
            self.opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
            else:
                loss.backward()
                self.opt.step()
            self.step += 1
            losses.append(loss.detach() * (b - a))
            correct.append((out.detach().argmax(1) == yb).sum())
            seen += b - a
            if due or i == len(self.ranges) - 1:
                self.log(epoch, losses[mark:], correct[mark:], self.ranges[mark:i + 1])
                mark = len(losses)
        dt = time.perf_counter() - t0
        total_loss = float(torch.stack(losses).sum()) / seen
        return total_loss, float(torch.stack(correct).sum()) / seen, dt

    def check_stop(self) -> None:
        """Before every step: the user's Stop, and whether the session that started the run
        is still there."""
        if self.alive is not None and not self.alive():
            self.gone = True
            self.stop.set()  # the runs queued behind this one in the same TrainRun stop too
            raise _Stop("stopped", gone_message(self.step))
        if self.stop.is_set():
            raise _Stop("stopped", msg("stopped by the user after {n} steps", n=self.step))

    def log(self, epoch: int, losses: list, correct: list, ranges: list) -> None:
        """Check the loss, emit a step record and BatchNorm snapshots, honour stop and cap."""
        per_step = torch.stack(losses).float().cpu()
        n = sum(b - a for a, b in ranges)
        bad = (~torch.isfinite(per_step)).nonzero()
        if len(bad):
            k = self.step - len(losses) + int(bad[0]) + 1
            what = "NaN" if math.isnan(float(per_step[int(bad[0])])) else msg("infinite")
            raise _Stop("nan", msg("loss became {what} at step {k}: lower the learning rate",
                                   what=what, k=k))
        lr = float(self.opt.param_groups[0]["lr"])
        self.last_log = time.perf_counter()
        elapsed = self.last_log - self.t0
        self.emit(StepRecord(self.step, epoch + 1, float(per_step.sum() / n),
                             float(torch.stack(correct).sum()) / n, lr, elapsed,
                             self.step / len(self.ranges)))
        for name, m in self.bn:
            self.emit(BNRecord(self.step, name, _tup(m.running_mean), _tup(m.running_var),
                               _tup(m.weight), _tup(m.bias)))
        rate = self.step / elapsed if elapsed > 0 else 0.0
        self.emit(Progress("running", self.step, self.total, epoch + 1,
                           rate * self.s.batch_size,
                           (self.total - self.step) / rate if rate else None))
        if self.stop.is_set():
            raise _Stop("stopped", msg("stopped by the user after {n} steps", n=self.step))
        if elapsed > self.s.max_seconds:
            raise _Stop("timeout", msg("stopped at the time cap of {cap} s per run after {n} "
                                       "steps: train fewer epochs or a smaller model",
                                       cap=f"{self.s.max_seconds:g}", n=self.step))

    # -- validation
    @torch.no_grad()
    def evaluate(self) -> tuple[float, float, torch.Tensor]:
        self.model.eval()
        outs = []
        for a in range(0, len(self.yv), 512):
            outs.append(self.forward_loss(self.xv[a:a + 512], self.yv[a:a + 512])[1])
        out = torch.cat(outs)
        return (float(F.cross_entropy(out, self.yv)),
                float((out.argmax(1) == self.yv).float().mean()), out)

    @torch.no_grad()
    def train_eval_gap(self) -> float:
        """Mean |logit in train mode − logit in eval mode| on up to 256 validation images;
        BatchNorm buffers are restored afterwards (the train-mode pass must not count)."""
        saved = {n: (m.running_mean.clone(), m.running_var.clone(),
                     m.num_batches_tracked.clone()) for n, m in self.bn}
        xb = self.xv[:256]
        if len(xb) < 2:
            return float("nan")
        try:
            self.model.eval()
            ev = self.forward_loss(xb, self.yv[:256])[1]
            self.model.train()
            tr = self.forward_loss(xb, self.yv[:256])[1]
        finally:
            for n, m in self.bn:
                m.running_mean.copy_(saved[n][0])
                m.running_var.copy_(saved[n][1])
                m.num_batches_tracked.copy_(saved[n][2])
        return float((tr - ev).abs().mean())

    def step_schedule(self, val_loss: float) -> None:
        if self.sched is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.sched.step(val_loss)
            else:
                self.sched.step()

    def run(self) -> None:
        self.t0 = time.perf_counter()
        for epoch in range(self.s.epochs):
            lr = float(self.opt.param_groups[0]["lr"])
            tl, ta, dt = self.train_epoch(epoch)
            vl, va, _ = self.evaluate()
            gap = self.train_eval_gap()
            rec = EpochRecord(epoch + 1, tl, ta, vl, va, lr, dt,
                              sum(b - a for a, b in self.ranges) / dt if dt > 0 else 0.0, gap)
            self.epochs.append(rec)
            self.emit(rec)
            if epoch < self.s.epochs - 1:
                self.step_schedule(vl)
                if self.stop.is_set():
                    raise _Stop("stopped", msg("stopped by the user after {n} steps",
                                               n=self.step))


# ----------------------------------------------------------------------------- results
@torch.no_grad()
def _confusion(loop: _Loop, k: int) -> tuple[tuple[tuple[int, ...], ...], tuple]:
    _, _, out = loop.evaluate()
    pred = out.argmax(1)
    cm = torch.zeros((k, out.shape[1]), dtype=torch.int64)
    yv = loop.yv.cpu()
    for t, p in zip(yv.tolist(), pred.cpu().tolist()):
        if t < k and p < out.shape[1]:
            cm[t, p] += 1
    prob = out.softmax(1).cpu()
    wrong = (pred.cpu() != yv).nonzero().flatten()
    conf = prob[wrong, pred.cpu()[wrong]]
    order = conf.argsort(descending=True)[:WORST]
    worst = tuple((int(wrong[j]), int(yv[wrong[j]]), int(pred[wrong[j]]), float(conf[j]))
                  for j in order)
    return tuple(tuple(int(v) for v in row[:k]) for row in cm), worst


def _finish(loop: _Loop, status: str, message: str, config: dict[str, Any]) -> TrainResult:
    for h in getattr(loop, "hooks", []):
        h.remove()
    cm, worst = ((), ())
    if status != "oom" and loop.epochs:
        try:
            cm, worst = _confusion(loop, len(loop.data.classes))
        except Exception:  # noqa: BLE001 - the curves are still worth returning
            pass
    sd = {k: v.detach().to("cpu", copy=True).contiguous()
          for k, v in loop.model.state_dict().items()} if status != "oom" else {}
    prec = "fp32" if loop.amp is None else str(loop.amp).replace("torch.", "")
    return TrainResult(status, message, loop.label, str(loop.device), prec, tuple(loop.epochs),
                       loop.step, time.perf_counter() - loop.t0 if loop.t0 else 0.0,
                       loop.data.classes, cm, worst, sd, config)


def train(model: nn.Module, data: DataSet, settings: TrainSettings, *, label: str = "model",
          stop: threading.Event | None = None, emit: Callable[[Any], None] | None = None,
          config: dict[str, Any] | None = None, lock_timeout: float | None = None,
          alive: Callable[[], bool] | None = None) -> TrainResult:
    """Train a copy of ``model`` on ``data``; never raises for what happens during training
    (NaN loss, OOM, stop, time cap: the result's status and message say so). Raises
    :class:`TrainError` for settings or data that cannot start. ``alive()`` is asked before
    every step and while queued for the device; when it says False the run stops (the
    session that wanted it is gone)."""
    settings.validate()
    emit = emit or (lambda _r: None)
    try:
        dev = devices.resolve_device(settings.device)
    except devices.DeviceError as exc:
        raise TrainError(str(exc)) from None
    model = copy.deepcopy(model)
    check_fit(model, data, settings, dev)
    loop = _Loop(model, data, dataclasses.replace(settings, device=str(dev)), label, stop, emit,
                 alive)
    cfg = dict(config or {}, settings=settings_dict(settings), data=data.name,
               input_shape=list(data.input_shape), classes=list(data.classes))
    lock = lock_for(str(dev))

    def on_wait(k: int) -> None:
        if alive is not None and not alive():
            loop.gone = True
            loop.stop.set()  # hold() gives the place in the queue up
        emit(Progress("queued", queue_position=k, message=msg("{k} run(s) ahead", k=k)))

    try:
        with lock.hold(f"training {label}", timeout=lock_timeout, cancel=loop.stop,
                       on_wait=on_wait):
            return _run_locked(loop, cfg)
    except BusyError as exc:
        why = gone_message(0) if loop.gone else str(exc)
        return TrainResult("stopped", why, label, str(dev), "", (), 0, 0.0, data.classes)


def _run_locked(loop: _Loop, cfg: dict[str, Any]) -> TrainResult:
    with timing.cudnn_benchmark(loop.device):  # no global seeding: see the module's doc
        try:
            loop.prepare()
            loop.emit(Progress("running", 0, loop.total))
            loop.run()
            status, text = "done", msg("trained {e} epochs ({n} steps)", e=len(loop.epochs),
                                       n=loop.step)
        except _Stop as st:
            status, text = st.status, st.message
        except Exception as exc:  # noqa: BLE001 - OOM and friends end the run, not the app
            if not timing.is_oom(exc):
                raise
            loop.model.to("cpu")
            loop.x = loop.y = loop.xv = loop.yv = None  # type: ignore[assignment]
            model_cache.release_memory(loop.device)
            return TrainResult("oom", msg("{device} ran out of memory at step {n}: use a smaller "
                                          "batch or input (memory released)", device=loop.device,
                                          n=loop.step + 1), loop.label,
                               str(loop.device), "", tuple(loop.epochs), loop.step, 0.0)
        return _finish(loop, status, text, cfg)


def check_fit(model: nn.Module, data: DataSet, s: TrainSettings, dev: torch.device) -> None:
    """Refuse (TrainError) data the model cannot take and batches the estimate says will not
    fit on ``dev``."""
    try:
        with torch.no_grad():
            out = copy.deepcopy(model).eval()(data.x_val[:2])
    except Exception as exc:  # noqa: BLE001 - the user's model says why
        raise TrainError(msg("the model cannot take the {data} ({error}): change the input "
                             "size", data=data.summary(), error=f"{type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:160]}")) from None
    if out.dim() != 2 or out.shape[1] < len(data.classes):
        raise TrainError(msg("the model outputs {shape} per image but {data} has {n} classes: "
                             "set num_classes to {n}", shape=str(tuple(out.shape[1:])),
                             data=data.name, n=len(data.classes)))
    dtype = "fp32" if amp_dtype(dev, s.precision) is None else "bf16"
    est = estimate_training(model, data.input_shape, s.batch_size, dev, dtype)
    try:
        memory.check_fits(est)
    except run_records.MemoryRefused as exc:
        raise TrainError(msg("{cause} Fix: {fix}", cause=msg("not trained: {text}.",
                                                             text=est.text()),
                             fix=exc.fix)) from None


def settings_dict(s: TrainSettings) -> dict[str, Any]:
    d = dataclasses.asdict(s)
    d["schedule_args"] = {k: list(v) if isinstance(v, tuple) else v
                          for k, v in s.schedule_args}
    return d


# ----------------------------------------------------------------------------- saving
def save_bytes(result: TrainResult) -> bytes:
    """The trained weights and the configuration JSON in one ``torch.save`` file that
    ``torch.load(..., weights_only=True)`` reads (tensors, strings, numbers only)."""
    import io

    buf = io.BytesIO()
    torch.save({"state_dict": result.state_dict, "config": json.dumps(result.config)}, buf)
    return buf.getvalue()


def load_bytes(raw: bytes) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    import io

    try:
        obj = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
        return obj["state_dict"], json.loads(obj["config"])
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise TrainError(msg("not a vizapp training file ({type}): download one from the Train "
                             "page", type=type(exc).__name__)) from None


def model_from_file(raw: bytes, batch: int = 1) -> tuple[Any, dict[str, torch.Tensor],
                                                        nn.Module]:
    """(spec, weights, model) of a downloaded training file: the configuration it names is
    built with real weights only once the memory check on the meta device says the weights,
    the copy :func:`evaluate` makes and a pass of ``batch`` fit the budget -- the file is a
    few bytes whatever it names (1.3 KB naming torchvision:vit_l_16 asks for 2 × 1.1 GiB)."""
    from vizapp.zoo import build_model, codec

    sd, cfg = load_bytes(raw)
    knobs = cfg.get("knobs", {}) if isinstance(cfg, dict) else None
    if not isinstance(knobs, dict) or not isinstance(cfg.get("model", ""), str) \
            or not isinstance(sd, dict):
        raise TrainError(msg("not a vizapp training file ({type}): download one from the Train "
                             "page", type=type(cfg).__name__))
    spec = codec.from_dict(cfg)
    try:
        memory.check_build(spec, batch, weight_copies=2)
    except run_records.BuildRefused as exc:
        raise TrainError(msg("{cause} Fix: {fix}", cause=exc.cause, fix=exc.fix)) from None
    return spec, sd, build_model(spec)


@torch.no_grad()
def evaluate(model: nn.Module, state_dict: dict[str, torch.Tensor], data: DataSet) -> float:
    """Validation accuracy of ``model`` (left untouched) with ``state_dict`` loaded."""
    model = copy.deepcopy(model)
    try:
        model.load_state_dict(state_dict)
    except (RuntimeError, KeyError) as exc:
        raise TrainError(msg("the file's weights do not fit this configuration ({error}): load it "
                             "into the model it was trained as",
                             error=str(exc).splitlines()[0][:120])) from None
    model.eval()
    pred = torch.cat([model(data.x_val[a:a + 512]).argmax(1)
                      for a in range(0, len(data.y_val), 512)])
    return float((pred == data.y_val).float().mean())


# ----------------------------------------------------------------------------- background
@dataclass(frozen=True, eq=False)
class Job:
    """One training of a :class:`TrainRun`."""

    label: str  # the name of its curves (unique within the run)
    model: nn.Module  # trained as a copy
    config: dict[str, Any] = field(default_factory=dict)  # saved with the weights
    settings: TrainSettings | None = None  # None: the run's settings (an lr comparison differs)
    spec: Any = None  # the ModelSpec it was built from: other pages find its weights by it


class TrainRun:
    """One or more trainings in a background thread (one after the other, same data and
    seed; each may have its own settings); the records are kept for a UI to poll with
    :meth:`view`. ``alive()`` (optional) says whether whoever started it is still there: the
    run stops within a step once it says False."""

    def __init__(self, jobs: list[Job | tuple], data: DataSet, settings: TrainSettings, *,
                 alive: Callable[[], bool] | None = None):
        self.jobs = [j if isinstance(j, Job) else Job(*j) for j in jobs]
        labels = [j.label for j in self.jobs]
        if len(set(labels)) != len(labels):
            raise TrainError(msg("two runs are both called '{label}': give each its own label",
                                 label=labels[0]))
        self.data, self.settings, self.alive = data, settings, alive
        self.id = uuid.uuid4().hex  # a cache key for its trained weights
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self.records: dict[str, dict[str, list]] = {
            j.label: {"step": [], "epoch": [], "bn": [], "watch": []} for j in self.jobs}
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

    def settings_of(self, label: str) -> TrainSettings:
        job = next(j for j in self.jobs if j.label == label)
        return job.settings or self.settings

    def _emitter(self, label: str) -> Callable[[Any], None]:
        kinds = {StepRecord: "step", EpochRecord: "epoch", BNRecord: "bn", WatchRecord: "watch"}

        def emit(r: Any) -> None:
            with self._lock:
                if isinstance(r, Progress):
                    self.progress[label] = r
                else:
                    self.records[label][kinds[type(r)]].append(r)
        return emit

    def _work(self) -> None:
        for job in self.jobs:
            label = job.label
            if self.alive is not None and not self.stop_event.is_set() and not self.alive():
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
                            config=job.config, alive=self.alive)
            except TrainError as exc:
                res = TrainResult("failed", str(exc), label, "", "", (), 0, 0.0)
            except Exception as exc:  # noqa: BLE001 - a thread must not die silently
                res = TrainResult("failed", f"{type(exc).__name__}: {exc}", label, "", "", (),
                                  0, 0.0)
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
