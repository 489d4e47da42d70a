"""Whether a training can start: the data the model takes, the precision it runs in and the
memory the estimate says it needs on the device (weights, gradients, optimizer state and every
activation kept for backward)."""

from __future__ import annotations

import copy
import dataclasses

import torch
import torch.nn as nn

from vizapp.i18n import msg
from vizapp.labs.data import DataSet
from vizapp.runtime import memory, records

from .settings import TrainError, TrainSettings

ACTIVATIONS = (nn.Sigmoid, nn.ReLU, nn.Tanh, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.ReLU6,
               nn.Hardswish, nn.Mish)


def amp_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """Autocast dtype: bf16 (fp16 without bf16) on CUDA for "auto"; none on CPU/MPS."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return records.DTYPES[precision]


def estimate_training(model: nn.Module, input_shape, batch: int, device: torch.device,
                      dtype: str = "fp32") -> records.MemoryEstimate:
    """The inference estimate of :func:`vizapp.runtime.estimate_memory` plus what training
    keeps: every leaf's output saved for backward, gradients and two Adam moments."""
    prof = memory._meta_profile(model, input_shape)
    est = memory.estimate_memory(model, input_shape, batch, dtype, device, resident=False,
                                  profile=prof)
    el = records.DTYPES[dtype].itemsize
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


def default_watch(model: nn.Module) -> str | None:
    """The last activation module (the input of the last hidden non-linearity)."""
    names = [n for n, m in model.named_modules() if isinstance(m, ACTIVATIONS)]
    return names[-1] if names else None



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
    except records.MemoryRefused as exc:
        raise TrainError(msg("{cause} Fix: {fix}", cause=msg("not trained: {text}.",
                                                             text=est.text()),
                             fix=exc.fix)) from None
