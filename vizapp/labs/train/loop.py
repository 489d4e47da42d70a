"""The training loop: batches in a seeded order, dropout from its own generator, the optimizer
and the LR schedule, the records it emits, stop/NaN/time-cap/OOM endings and the result."""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
import warnings
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from vizapp.i18n import msg
from vizapp.labs import schedules
from vizapp.labs.data import DataSet
from vizapp.runtime import devices, model_cache, timing
from vizapp.runtime.lock import BusyError, lock_for
from vizapp.runtime.run_records import MemoryEstimate

from .fit import amp_dtype, check_fit, default_watch
from .inside import Inside
from .records import BNRecord, EpochRecord, Progress, StepRecord, TrainResult, WatchRecord
from .settings import TrainError, TrainSettings, settings_dict

MAX_BN_CHANNELS = 64  # channels recorded per BatchNorm layer
WORST = 12  # misclassified validation images kept
LOG_SECONDS = 0.25  # at most about 4 step records a second unless log_every is given
INSIDE_SAMPLES = 120  # logged steps with per-layer statistics, at most, in one run


def bn_layers(model: nn.Module) -> list[tuple[str, nn.modules.batchnorm._BatchNorm]]:
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


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


def forward_flops(model: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one image's forward pass (``torch.utils.flop_counter``'s formulas through the
    analysis' thread-local counter, eval mode, no gradient: no BatchNorm statistic moves, no
    dropout draw). A training step costs about three times that per image (the backward pass
    computes two products for each one of the forward pass)."""
    from vizapp.analysis.hooks import FlopTotal

    if len(x) == 0:
        return 0
    was = model.training
    counter = FlopTotal()
    try:
        with torch.no_grad(), counter:
            model.eval()(x)
    except Exception:  # noqa: BLE001 - a model the counter cannot follow: no figure, no failure
        return 0
    finally:
        model.train(was)
    return int(counter.total)


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
        self.next_inside = 0  # the first step the per-layer statistics may sample again
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
        self.flops_per_image = forward_flops(self.model, self.xv[:1])
        self.opt = make_optimizer(self.model, self.s)
        self.sched = None
        if self.s.schedule != "none":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.sched = schedules.make_scheduler(
                    self.s.schedule, self.opt, self.s.epochs,
                    schedules.run_params(self.s.schedule, self.s.epochs, self.s.lr,
                                         dict(self.s.schedule_args)))
        self.scaler = (torch.amp.GradScaler("cuda") if self.amp is torch.float16 else None)
        self.hooks = []
        if self.watch:
            mod = dict(self.model.named_modules()).get(self.watch)
            if mod is None:
                raise TrainError(msg("the model has no layer '{name}': pick one of its "
                                     "module names", name=self.watch))
            self.hooks.append(mod.register_forward_pre_hook(self._watch_hook))
        self.inside = Inside(self.model, self.emit) if self.s.inside else None
        if self.inside is not None:
            self.hooks.append(self.inside)

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
            if self.inside is not None:  # at most about INSIDE_SAMPLES logged steps a run
                self.inside.arm(due and self.step + 1 >= self.next_inside, self.step + 1,
                                (self.step + 1) / len(self.ranges))
                if self.inside.armed:
                    self.next_inside = self.step + 1 + max(1, self.total // INSIDE_SAMPLES)
            loss, out = self.forward_loss(xb, yb)
            self.opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self._after_backward()
                self.scaler.step(self.opt)
                self.scaler.update()
            else:
                loss.backward()
                self._after_backward()
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

    def _after_backward(self) -> None:
        """A logged step's weights and gradients, before the optimizer changes them (fp16
        gradients unscaled first: the scaler's step then knows they are)."""
        if self.inside is not None and self.inside.armed:
            if self.scaler is not None:
                self.scaler.unscale_(self.opt)
            self.inside.after_backward()

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
            ips = sum(b - a for a, b in self.ranges) / dt if dt > 0 else 0.0
            rec = EpochRecord(epoch + 1, tl, ta, vl, va, lr, dt, ips, gap,
                              ips * 3 * self.flops_per_image)
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
          alive: Callable[[], bool] | None = None, in_place: bool = False,
          estimate: MemoryEstimate | None = None) -> TrainResult:
    """Train a copy of ``model`` on ``data``; never raises for what happens during training
    (NaN loss, OOM, stop, time cap: the result's status and message say so). Raises
    :class:`TrainError` for settings or data that cannot start. ``alive()`` is asked before
    every step and while queued for the device; when it says False the run stops (the
    session that wanted it is gone). ``in_place``: ``model`` was built for this run alone and
    is trained itself, not a copy. ``estimate``: its training estimate, already made for these
    settings (see :func:`check_fit`)."""
    settings.validate()
    emit = emit or (lambda _r: None)
    try:
        dev = devices.resolve_device(settings.device)
    except devices.DeviceError as exc:
        raise TrainError(str(exc)) from None
    if not in_place:
        model = copy.deepcopy(model)
    check_fit(model, data, settings, dev, estimate=estimate, in_place=in_place)
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

