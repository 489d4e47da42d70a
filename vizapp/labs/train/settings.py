"""The training knobs (:class:`TrainSettings`, drawn by the same widget generator as a model's
knobs), their validation and the caps a shared classroom server puts on a run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vizapp.i18n import msg
from vizapp.labs import schedules
from vizapp.knobs import ConfigError, check_value, knob, knob_infos

MAX_EPOCHS = 100
MAX_BATCH = 4096
MAX_SECONDS = 600.0  # a run stops at its time cap (a shared classroom server)


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
                         help="A scheduler of the LR schedules page, stepped once per epoch; its "
                               "knobs start at values that act within this run.")
    seed: int = knob(0, min=0, max=2**31 - 1, step=1,
                     help="Seeds the initial weights, the batch order and dropout.")
    max_seconds: float = knob(120.0, min=1.0, max=MAX_SECONDS, step=10.0, label="time cap (s)",
                              help="The run stops after this many seconds.")
    schedule_args: tuple[tuple[str, Any], ...] = ()  # the schedule's knobs (the others take
    #                                                 schedules.run_defaults for this run)
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 (fp16) autocast on CUDA, fp32 elsewhere; or fp32
    watch: str | None = None  # module whose input is watched (None: the last activation)
    watch_unit: int = 0  # channel/feature of that input
    log_every: int | None = None  # steps between step records (None: about 8 per epoch,
    #                               at most 4 a second)
    inside: bool = True  # per-layer weight/gradient/activation statistics on logged steps

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



def settings_dict(s: TrainSettings) -> dict[str, Any]:
    d = dataclasses.asdict(s)
    d["schedule_args"] = {k: list(v) if isinstance(v, tuple) else v
                          for k, v in s.schedule_args}
    return d

