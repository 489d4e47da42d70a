"""Learning-rate schedules (seed 003 points at "six strategies"; here are eight), computed by
``torch.optim.lr_scheduler`` itself on a one-parameter SGD optimizer, one ``step()`` per epoch.

Each schedule is data: a :class:`Schedule` whose parameters are a frozen dataclass of zoo
knobs (:func:`vizapp.zoo.knob`: default, bounds, step, help), so the one widget generator of
``components/widgets.py`` draws them on the LR schedules page and the Train page alike;
:func:`make_scheduler` builds the torch scheduler for both. :func:`lr_curve` returns a
frozen :class:`LRCurve` (the learning rate at the start of every epoch, and for
ReduceLROnPlateau the synthetic validation loss it reacted to). Nothing here imports
Streamlit.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch.optim import lr_scheduler

from vizapp.i18n import N_, msg
from vizapp.knobs import ConfigError, KnobInfo, check_value, knob, knob_infos, parse_value


class ScheduleError(ValueError):
    """Impossible schedule parameters; the message names the parameter and the fix."""


@dataclass(frozen=True)
class Schedule:
    name: str  # the torch class name
    title: str
    formula: str  # the rule in one line (marked N_ where it has words)
    help: str
    knobs: type  # a frozen dataclass whose fields are zoo knobs (bounds, step, help)

    @property
    def params(self) -> tuple[KnobInfo, ...]:
        """The parameters as the zoo's :class:`KnobInfo` (what the widget generator reads)."""
        return tuple(dataclasses.replace(i, knob=dataclasses.replace(i.knob, label=i.name))
                     for i in knob_infos(self.knobs))  # labelled as torch names them

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> KnobInfo:
        for p in self.params:
            if p.name == name:
                return p
        raise ScheduleError(msg("{name} has no parameter '{param}'; parameters: {names}",
                                name=self.name, param=name,
                                names=", ".join(p.name for p in self.params)))


@dataclass(frozen=True)
class LRCurve:
    schedule: str
    params: tuple[tuple[str, Any], ...]
    base_lr: float
    epochs: tuple[int, ...]
    lr: tuple[float, ...]  # the optimizer's lr during each epoch
    loss: tuple[float, ...] = ()  # the synthetic loss (ReduceLROnPlateau only)
    events: tuple[int, ...] = ()  # epochs where the lr dropped (plateaus, restarts, steps)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "params": dict(self.params), "base_lr": self.base_lr,
                "epochs": list(self.epochs), "lr": list(self.lr), "loss": list(self.loss),
                "events": list(self.events)}


# LambdaLR takes a Python function; these are the ones offered, as data
LAMBDAS: dict[str, tuple[str, Callable[[int, dict[str, Any]], float]]] = {
    "warmup_constant": ("linear warm-up over W epochs, then constant",
                        lambda e, p: min(1.0, (e + 1) / max(1, p["warmup"]))),
    "warmup_inv_sqrt": ("linear warm-up, then 1/√epoch (Transformer style)",
                        lambda e, p: min((e + 1) / max(1, p["warmup"]),
                                         math.sqrt(max(1, p["warmup"]) / (e + 1)))),
    "polynomial": ("(1 − e/E)^power, polynomial decay to 0",
                   lambda e, p: max(0.0, 1 - e / max(1, p["epochs"])) ** p["power"]),
    "exponential": ("0.95^e written as a lambda",
                    lambda e, p: 0.95 ** e),
}

# ---------------------------------------------------------------- each schedule's knobs
def _k(default: Any, help: str, lo: float | None = None, hi: float | None = None,
       step: float | None = None, **kw: Any) -> Any:
    return knob(default, help=help, min=lo, max=hi, step=step, **kw)


@dataclass(frozen=True)
class StepLRKnobs:
    step_size: int = _k(30, "Epochs between two decays.", 1, 500, 1)
    gamma: float = _k(0.1, "Factor applied at each decay.", 0.01, 1.0, 0.01)


@dataclass(frozen=True)
class MultiStepLRKnobs:
    milestones: tuple[int, ...] = _k((30, 60, 80), "Epochs at which to decay, e.g. 30,60,80.",
                                     1, 10000, min_len=1)
    gamma: float = _k(0.1, "Factor applied at each milestone.", 0.01, 1.0, 0.01)


@dataclass(frozen=True)
class ExponentialLRKnobs:
    gamma: float = _k(0.95, "Factor applied every epoch.", 0.5, 1.0, 0.005)


@dataclass(frozen=True)
class CosineAnnealingLRKnobs:
    T_max: int = _k(100, "Epochs of the half cosine.", 1, 1000, 1)
    eta_min: float = _k(0.0, "Lowest lr.", 0.0, 1.0, 1e-4)


@dataclass(frozen=True)
class ReduceLROnPlateauKnobs:
    factor: float = _k(0.1, "Factor applied at each cut.", 0.01, 0.99, 0.01)
    patience: int = _k(10, "Epochs without improvement before a cut.", 0, 100, 1)
    threshold: float = _k(1e-4, "Relative improvement that counts as better.", 0.0, 0.1, 1e-4)
    cooldown: int = _k(0, "Epochs to wait after a cut before watching again.", 0, 100, 1)
    min_lr: float = _k(0.0, "The lr never goes below this.", 0.0, 1.0, 1e-5)
    loss_tau: float = _k(15.0, "Synthetic loss: epochs for it to fall by e (1 − 1/e).", 1.0,
                         200.0, 1.0)
    loss_noise: float = _k(0.01, "Synthetic loss: noise level.", 0.0, 0.2, 0.005)
    seed: int = _k(0, "Synthetic loss: random seed of the noise.", 0, 9999, 1)


@dataclass(frozen=True)
class LambdaLRKnobs:
    fn: str = _k("warmup_inv_sqrt", "The function f(e): " + "; ".join(
        f"{k}: {v[0]}" for k, v in LAMBDAS.items()) + ".", choices=tuple(LAMBDAS))
    warmup: int = _k(10, "Warm-up epochs W (warm-up functions).", 1, 500, 1)
    power: float = _k(2.0, "Exponent (polynomial).", 0.1, 5.0, 0.1)


@dataclass(frozen=True)
class OneCycleLRKnobs:
    max_lr: float = _k(0.1, "Peak lr.", 1e-5, 10.0, 1e-3)
    pct_start: float = _k(0.3, "Fraction of the run spent warming up.", 0.01, 0.99, 0.01)
    anneal_strategy: str = _k("cos", "Shape of both phases.", choices=("cos", "linear"))
    div_factor: float = _k(25.0, "Start lr = max_lr / div_factor.", 1.0, 1e4, 1.0)
    final_div_factor: float = _k(1e4, "End lr = start lr / final_div_factor.", 1.0, 1e6, 1.0)


@dataclass(frozen=True)
class CosineAnnealingWarmRestartsKnobs:
    T_0: int = _k(20, "Epochs of the first period.", 1, 500, 1)
    T_mult: int = _k(2, "Growth of each period (integer ≥ 1).", 1, 5, 1)
    eta_min: float = _k(0.0, "Lowest lr.", 0.0, 1.0, 1e-4)


SCHEDULES: dict[str, Schedule] = {s.name: s for s in (
    Schedule("StepLR", N_("Step decay"), "lr = lr₀·γ^⌊e / step_size⌋",
             N_("Multiply the lr by γ every step_size epochs."), StepLRKnobs),
    Schedule("MultiStepLR", N_("Multi-step decay"), N_("lr = lr₀·γ^(number of milestones ≤ e)"),
             N_("Multiply the lr by γ at each milestone epoch."), MultiStepLRKnobs),
    Schedule("ExponentialLR", N_("Exponential decay"), "lr = lr₀·γ^e",
             N_("Multiply the lr by γ every epoch."), ExponentialLRKnobs),
    Schedule("CosineAnnealingLR", N_("Cosine annealing"),
             "lr = η_min + (lr₀ − η_min)·(1 + cos(π·e / T_max))/2",
             N_("Half a cosine from lr₀ down to η_min over T_max epochs (then back up: the cosine "
                "continues)."), CosineAnnealingLRKnobs),
    Schedule("ReduceLROnPlateau", N_("Reduce on plateau"),
             N_("lr ← max(lr·factor, min_lr) when the loss has not improved for patience "
                "epochs"),
             N_("Watches a validation loss (here a synthetic curve that flattens out, with noise) "
                "and cuts the lr when it stops improving."), ReduceLROnPlateauKnobs),
    Schedule("LambdaLR", N_("Lambda (any function)"), "lr = lr₀·f(e)",
             N_("Multiply lr₀ by a function of the epoch; the offered functions are below."),
             LambdaLRKnobs),
    Schedule("OneCycleLR", N_("One cycle"), N_("warm up to max_lr, then anneal far below lr₀"),
             N_("Rise from max_lr/div_factor to max_lr over pct_start of the run, then anneal to "
                "max_lr/(div_factor·final_div_factor). Ignores lr₀ (it sets its own)."),
             OneCycleLRKnobs),
    Schedule("CosineAnnealingWarmRestarts", N_("Cosine with warm restarts (SGDR)"),
             N_("cosine from lr₀ to η_min over T_i epochs, then restart with T_i ← T_i·T_mult"),
             N_("Cosine annealing that jumps back to lr₀ at every restart; each period is T_mult "
                "times longer than the last."), CosineAnnealingWarmRestartsKnobs),
)}


def synthetic_loss(epochs: int, tau: float = 15.0, noise: float = 0.01,
                   seed: int = 0) -> np.ndarray:
    """A validation loss that falls fast, then flattens: ``0.2 + 2·exp(−e/τ)`` plus noise."""
    e = np.arange(epochs, dtype=np.float64)
    rng = np.random.default_rng(int(seed))
    return 0.2 + 2.0 * np.exp(-e / max(tau, 1e-9)) + noise * rng.standard_normal(epochs)


def _coerce(p: KnobInfo, v: Any) -> Any:
    """A value (typed, or text from a widget/CLI) → the knob's type, checked against its
    bounds by the zoo's own parser and checker."""
    try:
        v = parse_value(p, v)
        if isinstance(v, tuple):
            v = tuple(sorted(v))
        check_value(p, v)
    except ConfigError as exc:
        raise ScheduleError(exc.message) from None
    return v


def check_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of schedule ``name``, typed and checked (missing ones at default)."""
    if name not in SCHEDULES:
        raise ScheduleError(msg("unknown schedule '{name}'; schedules: {names}", name=name,
                                names=", ".join(SCHEDULES)))
    sch = SCHEDULES[name]
    unknown = set(params) - {p.name for p in sch.params}
    if unknown:
        raise ScheduleError(msg("{name} has no parameter '{param}'; parameters: {names}",
                                name=name, param=sorted(unknown)[0],
                                names=", ".join(p.name for p in sch.params)))
    return {q.name: _coerce(q, params.get(q.name, q.default)) for q in sch.params}


def make_scheduler(name: str, opt: torch.optim.Optimizer, epochs: int,
                   params: dict[str, Any]) -> Any:
    """The torch scheduler ``name`` on ``opt`` for a run of ``epochs`` epochs, stepped once
    per epoch (what the LR schedules page plots and what the Train lab uses)."""
    p = check_params(name, params)
    if name == "StepLR":
        return lr_scheduler.StepLR(opt, step_size=p["step_size"], gamma=p["gamma"])
    if name == "MultiStepLR":
        return lr_scheduler.MultiStepLR(opt, milestones=list(p["milestones"]), gamma=p["gamma"])
    if name == "ExponentialLR":
        return lr_scheduler.ExponentialLR(opt, gamma=p["gamma"])
    if name == "CosineAnnealingLR":
        return lr_scheduler.CosineAnnealingLR(opt, T_max=p["T_max"], eta_min=p["eta_min"])
    if name == "ReduceLROnPlateau":
        return lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=p["factor"],
                                              patience=p["patience"], threshold=p["threshold"],
                                              cooldown=p["cooldown"], min_lr=p["min_lr"])
    if name == "LambdaLR":
        fn = LAMBDAS[p["fn"]][1]
        args = dict(p, epochs=epochs)
        return lr_scheduler.LambdaLR(opt, lr_lambda=lambda e: fn(e, args))
    if name == "OneCycleLR":
        if epochs < 2:
            raise ScheduleError(msg("OneCycleLR needs at least 2 epochs"))
        return lr_scheduler.OneCycleLR(opt, max_lr=p["max_lr"], total_steps=epochs,
                                       pct_start=p["pct_start"],
                                       anneal_strategy=p["anneal_strategy"],
                                       div_factor=p["div_factor"],
                                       final_div_factor=p["final_div_factor"])
    return lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=p["T_0"], T_mult=p["T_mult"],
                                                    eta_min=p["eta_min"])


def lr_curve(name: str, epochs: int = 100, base_lr: float = 0.1,
             **params: Any) -> LRCurve:
    """The lr of every epoch ``0 … epochs−1`` under schedule ``name`` (missing parameters take
    their defaults), computed by stepping the real torch scheduler once per epoch."""
    if not 1 <= int(epochs) <= 100_000:
        raise ScheduleError(msg("epochs must be between 1 and 100000 (got {epochs})",
                                epochs=epochs))
    if not base_lr > 0:
        raise ScheduleError(msg("the base lr must be positive (got {base_lr})", base_lr=base_lr))
    epochs = int(epochs)
    p = check_params(name, params)
    sched, opt = _one_param_scheduler(name, epochs, base_lr, p, epochs)
    loss = np.array([])
    if name == "ReduceLROnPlateau":
        loss = synthetic_loss(epochs, p["loss_tau"], p["loss_noise"], p["seed"])

    lrs = _stepped(sched, opt, epochs, loss)
    events = tuple(e for e in range(1, epochs) if lrs[e] < lrs[e - 1] * (1 - 1e-9) and (
        name in ("StepLR", "MultiStepLR", "ReduceLROnPlateau")) or (
        name == "CosineAnnealingWarmRestarts" and lrs[e] > lrs[e - 1] * (1 + 1e-9)))
    return LRCurve(schedule=name, params=tuple(sorted(p.items())), base_lr=float(base_lr),
                   epochs=tuple(range(epochs)), lr=tuple(lrs),
                   loss=tuple(float(v) for v in loss), events=events)


def _stepped(sched: Any, opt: torch.optim.Optimizer, epochs: int, loss: Any) -> list[float]:
    """The lr in force during each of ``epochs`` epochs: ``opt.step()`` then ``sched.step()``
    (with ``loss[e]`` for ReduceLROnPlateau) after every epoch but the last."""
    lrs: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for e in range(epochs):
            lrs.append(float(opt.param_groups[0]["lr"]))
            if e == epochs - 1:
                break
            opt.step()  # a real optimizer step first, as torch expects
            if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
                sched.step(float(loss[e]))
            else:
                sched.step()
    return lrs


# ---------------------------------------------------------------- defaults for a training run
def run_defaults(name: str, epochs: int, base_lr: float) -> dict[str, Any]:
    """The parameters of schedule ``name`` that a training of ``epochs`` epochs from ``base_lr``
    starts with (the others keep their defaults), chosen so that the schedule visibly acts
    within the run, stepped once per epoch: CosineAnnealingLR's T_max is the run's epochs,
    StepLR decays every third of the run, MultiStepLR at 1/3, 2/3 and 8/9 of it (torch's 30,
    60, 80 of 90), ExponentialLR ends near lr₀/10, SGDR restarts once, a third of the way in,
    the warm-ups take a fifth of the run, ReduceLROnPlateau may cut after a fifth of it, and
    OneCycleLR peaks at lr₀."""
    if name not in SCHEDULES:
        raise ScheduleError(msg("unknown schedule '{name}'; schedules: {names}", name=name,
                                names=", ".join(SCHEDULES)))
    e = max(1, int(epochs))
    third = max(1, round(e / 3))
    if name == "StepLR":
        return {"step_size": third}
    if name == "MultiStepLR":
        return {"milestones": tuple(sorted({m for m in (round(e / 3), round(2 * e / 3),
                                                        round(8 * e / 9)) if 1 <= m < e}))
                or (1,)}
    if name == "ExponentialLR":
        gamma = 0.1 ** (1 / max(1, e - 1))
        return {"gamma": min(0.995, max(0.5, round(round(gamma / 0.005) * 0.005, 3)))}
    if name == "CosineAnnealingLR":
        return {"T_max": e}
    if name == "ReduceLROnPlateau":
        return {"patience": max(0, e // 5 - 1)}
    if name == "LambdaLR":
        return {"warmup": max(1, round(e / 5))}
    if name == "OneCycleLR":
        return {"max_lr": min(10.0, max(1e-5, float(base_lr)))}
    # CosineAnnealingWarmRestarts (T_mult 2: the next period ends the run); T_0 = 1 would
    # restart every epoch, which leaves the lr at lr₀
    return {"T_0": max(min(2, e), third)}


def run_params(name: str, epochs: int, base_lr: float, params: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of schedule ``name`` for a run: ``params`` where given, else
    :func:`run_defaults`, else the schedule's defaults; typed and checked."""
    return check_params(name, {**run_defaults(name, epochs, base_lr), **params})


def _one_param_scheduler(name: str, epochs: int, base_lr: float, params: dict[str, Any],
                         span: int) -> tuple[Any, torch.optim.Optimizer]:
    """Schedule ``name`` (checked parameters) over ``span`` epochs on a one-parameter SGD."""
    p = check_params(name, params)
    weight = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([weight], lr=float(base_lr))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_scheduler(name, opt, span, p), opt


def changes_lr(name: str, epochs: int, base_lr: float, params: dict[str, Any]) -> bool:
    """Whether schedule ``name`` with ``params`` makes the lr of any epoch of a run of
    ``epochs`` epochs differ from ``base_lr`` (False: a no-op here, e.g. StepLR with
    step_size ≥ epochs). For
    ReduceLROnPlateau the loss is taken never to improve (its earliest possible cut)."""
    epochs = int(epochs)
    sched, opt = _one_param_scheduler(name, epochs, base_lr, params, max(epochs, 2))
    lrs = _stepped(sched, opt, epochs, np.ones(max(epochs, 1)))
    return any(abs(v - float(base_lr)) > 1e-12 * float(base_lr) for v in lrs)


def all_curves(epochs: int = 100, base_lr: float = 0.1) -> tuple[LRCurve, ...]:
    """Every schedule with its default parameters (the overview plot)."""
    return tuple(lr_curve(n, epochs, base_lr) for n in SCHEDULES)
