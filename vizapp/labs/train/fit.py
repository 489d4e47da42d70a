"""Whether a training can start: the data the model takes, the precision it runs in and the
memory the estimate says it needs on the device (weights, gradients, optimizer state and every
activation kept for backward)."""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from vizapp.i18n import msg
from vizapp.labs.data import DataSet
from vizapp.runtime import devices, memory, run_records

from .settings import TrainError, TrainSettings

ACTIVATIONS = (nn.Sigmoid, nn.ReLU, nn.Tanh, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.ReLU6,
               nn.Hardswish, nn.Mish)


def amp_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """Autocast dtype: bf16 (fp16 without bf16) on CUDA for "auto"; none on CPU/MPS."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return run_records.DTYPES[precision]


def train_dtype(device: torch.device, precision: str) -> str:
    """The dtype a training's memory is estimated in: bf16 where it autocasts, else fp32."""
    return "fp32" if amp_dtype(device, precision) is None else "bf16"


def estimate_training(model: nn.Module, input_shape, batch: int, device: torch.device,
                      dtype: str = "fp32", *, profile: Any = None) -> run_records.MemoryEstimate:
    """The inference estimate of :func:`vizapp.runtime.estimate_memory` plus what training
    keeps: every leaf's output saved for backward, gradients and two Adam moments.
    ``profile``: the model's meta profile when known (:func:`outline`); else one meta pass."""
    prof = profile or memory.meta_profile(model, input_shape)
    est = memory.estimate_memory(model, input_shape, batch, dtype, device, resident=False,
                                  profile=prof)
    el = run_records.DTYPES[dtype].itemsize
    saved = sum(n for _, n in prof.leaves) * el
    per_sample = est.activation_bytes_per_sample + saved
    extra = 3 * est.param_bytes + saved * batch
    est = dataclasses.replace(est, activation_bytes_per_sample=per_sample,
                              activation_bytes=per_sample * batch,
                              total_bytes=est.total_bytes + extra)
    return _against(est, est.budget_bytes)


def refresh_budget(est: run_records.MemoryEstimate,
                   device: torch.device) -> run_records.MemoryEstimate:
    """The same training estimate against what ``device`` can give now: the budget (and the
    largest batch it allows) measured again, the model's bytes as they were."""
    return _against(est, memory.device_budget(device))


def _against(est: run_records.MemoryEstimate, budget: int | None) -> run_records.MemoryEstimate:
    """``est`` with ``budget`` and the largest batch it allows (the weights, their gradients
    and two optimizer moments first; None where the budget is unknown)."""
    max_batch = None
    if budget is not None:
        avail = budget - est.param_bytes * 4
        per_sample = est.activation_bytes_per_sample
        max_batch = max(0, avail // per_sample) if per_sample else None
    return dataclasses.replace(est, budget_bytes=budget, max_batch=max_batch)


@dataclass(frozen=True, eq=False)
class Outline:
    """What the Train page needs of a configuration before anything has weights, from one
    build on the meta device: its module names, the layer watched by default, and the model
    itself (no weights; read only) with its meta profile for the memory estimate."""

    layers: tuple[str, ...]  # every named module, the model itself aside
    default_watch: str | None
    model: nn.Module  # on the meta device
    profile: Any  # its :func:`vizapp.runtime.memory` profile (leaf and stage output sizes)


@functools.lru_cache(maxsize=16)
def outline(spec: Any) -> Outline:
    """The :class:`Outline` of a ModelSpec, built once per process (raises ConfigError for a
    configuration that cannot be built)."""
    from vizapp.zoo import build_model

    with torch.device("meta"):
        model = build_model(spec)
    return Outline(tuple(n for n, _ in model.named_modules() if n), default_watch(model), model,
                   memory.meta_profile(model, spec.input_shape))


def estimate_spec(spec: Any, device: str, batch: int, precision: str) -> run_records.MemoryEstimate:
    """The training estimate of a ModelSpec at ``batch`` on ``device`` (a name, e.g. "auto")
    in ``precision``, from its :func:`outline` (nothing built with weights)."""
    dev = devices.resolve_device(device)
    o = outline(spec)
    return estimate_training(o.model, spec.input_shape, batch, dev,
                             train_dtype(dev, precision), profile=o.profile)


def default_watch(model: nn.Module) -> str | None:
    """The last activation module (the input of the last hidden non-linearity)."""
    names = [n for n, m in model.named_modules() if isinstance(m, ACTIVATIONS)]
    return names[-1] if names else None


def check_fit(model: nn.Module, data: DataSet, s: TrainSettings, dev: torch.device, *,
              estimate: run_records.MemoryEstimate | None = None, in_place: bool = False) -> None:
    """Refuse (TrainError) data the model cannot take and batches the estimate says will not
    fit on ``dev``. ``estimate``: the training estimate already made for this model and these
    settings (:func:`estimate_spec`): only the budget is measured again. ``in_place``: the
    model is the run's own (built for it): the data probe runs on it in eval mode, its modes
    restored, instead of on a copy."""
    out = _probe(model, data, in_place)
    if out.dim() != 2 or out.shape[1] < len(data.classes):
        raise TrainError(msg("the model outputs {shape} per image but {data} has {n} classes: "
                             "set num_classes to {n}", shape=str(tuple(out.shape[1:])),
                             data=data.name, n=len(data.classes)))
    dtype = train_dtype(dev, s.precision)
    if estimate is not None and (estimate.batch, estimate.dtype, estimate.device) == (
            s.batch_size, dtype, str(dev)):
        est = refresh_budget(estimate, dev)
    else:
        est = estimate_training(model, data.input_shape, s.batch_size, dev, dtype)
    try:
        memory.check_fits(est)
    except run_records.MemoryRefused as exc:
        raise TrainError(msg("{cause} Fix: {fix}", cause=msg("not trained: {text}.",
                                                             text=est.text()),
                             fix=exc.fix)) from None


@torch.no_grad()
def _probe(model: nn.Module, data: DataSet, in_place: bool) -> torch.Tensor:
    """The model's eval-mode output for two validation images (TrainError if it fails)."""
    modes = [(m, m.training) for m in model.modules()] if in_place else []
    try:
        return (model if in_place else copy.deepcopy(model)).eval()(data.x_val[:2])
    except Exception as exc:  # noqa: BLE001 - the user's model says why
        raise TrainError(msg("the model cannot take the {data} ({error}): change the input "
                             "size", data=data.summary(), error=f"{type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:160]}")) from None
    finally:
        for m, training in modes:
            m.training = training
