"""A trained run's weights as a file (``torch.save`` of the state_dict and the configuration
JSON, read back with ``weights_only=True``), the model such a file names (built only after the
memory check) and its validation accuracy."""

from __future__ import annotations

import copy
import json
from typing import Any

import torch
import torch.nn as nn

from vizapp.i18n import msg
from vizapp.labs.data import DataSet
from vizapp.runtime import memory, run_records

from .records import TrainResult
from .settings import TrainError


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
