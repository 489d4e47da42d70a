"""A classroom shares one process: analyses running in parallel threads (one per browser
session) must not corrupt each other, nor leave torch.fx's patches in place afterwards."""

from __future__ import annotations

import threading

import torch
from torch import nn

from vizapp.analysis import analyze_spec
from vizapp.zoo import resolve

MODELS = ("resnet18", "densenet", "googlenet", "lenet-bn")


def _fingerprint(a):
    return (len(a.nodes), a.total_macs, a.total_params, a.output_shape,
            tuple(n.output_shape for n in a.nodes))


def test_parallel_analyses_agree_with_serial_ones_and_leave_torch_clean():
    call_before = nn.Module.__call__
    expected = {m: _fingerprint(analyze_spec(resolve(m))) for m in MODELS}
    errors: list[str] = []

    def work(offset: int) -> None:
        for i in range(12):
            name = MODELS[(i + offset) % len(MODELS)]
            try:
                got = _fingerprint(analyze_spec(resolve(name)))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            if got != expected[name]:
                errors.append(f"{name}: result differs from the serial analysis")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:5]
    assert nn.Module.__call__ is call_before
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    assert net(torch.zeros(1, 1, 5, 5)).shape == (1, 2, 3, 3)
