"""What a training reports (frozen records, emitted while it runs) and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


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
    flops_per_s: float = 0.0  # training FLOP/s achieved: images/s × 3 × forward FLOPs/image

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



@dataclass(frozen=True)
class LayerStats:
    """One layer's numbers at one logged step (TensorBoard's "distributions"): its weights or
    their gradients (``kind`` "weight" / "grad", of the layer's weight tensor, just before the
    optimizer's step) or its output (``kind`` "act", after a BatchNorm or an activation).
    ``norm`` is the L2 norm of the whole tensor; ``mean``/``std`` of all its values; the
    histogram (``counts`` over ``bins`` equal bins from ``lo`` to ``hi``) of an evenly strided
    sample of at most ``SAMPLE`` values; ``saturated`` the share of values within 0.05 of a
    bounded activation's limits (sigmoid 0/1, tanh ±1; None for others)."""

    step: int
    epochs_done: float
    layer: str
    kind: str  # weight | grad | act
    mean: float
    std: float
    norm: float
    lo: float
    hi: float
    counts: tuple[int, ...]
    saturated: float | None = None
