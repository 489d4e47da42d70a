"""The ``--allow-code`` opt-in: run the box's code as ordinary Python (classes with
``forward()``). Only ever reached when the person who started the app asked for it on their
own computer (``VIZAPP_ALLOW_CODE=1``); the app shows a warning banner while it is on."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from vizapp.i18n import msg

from .check import CodeError


def run_trusted(source: str) -> nn.Module:
    ns: dict = {"torch": torch, "nn": nn, "F": F, "OrderedDict": OrderedDict,
                "__name__": "vizapp_box"}
    try:
        exec(compile(source, "<code box>", "exec"), ns)  # noqa: S102 - the explicit opt-in
    except Exception as exc:  # noqa: BLE001 - shown with its line
        tb = exc.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<code box>":
                line = tb.tb_lineno
            tb = tb.tb_next
        raise CodeError(f"{type(exc).__name__}: {exc}", line) from None
    for name in ("net", "model"):
        if isinstance(ns.get(name), nn.Module):
            return ns[name]
    classes = [v for v in ns.values() if isinstance(v, type) and issubclass(v, nn.Module)
               and v.__module__ == "vizapp_box"]
    if len(classes) >= 1:
        try:
            return classes[-1]()
        except Exception as exc:  # noqa: BLE001
            raise CodeError(msg("{cls}() failed: {type}: {exc}", cls=classes[-1].__name__,
                                type=type(exc).__name__, exc=str(exc)))
    raise CodeError(msg("define net = Net() (or model = ...) so the app knows which model to show"))
