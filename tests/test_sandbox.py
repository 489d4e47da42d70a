"""The code box's code runs only in a limited child process (issue: security findings, item 6).

Each finding of the review is replayed: the child crashes, runs out of CPU time or memory, or
is refused by the caps, and the calling process gets one :class:`CodeError` and goes on
(a thread of the caller keeps running meanwhile: no GIL is held here). What comes back is
data, rebuilt here by torch.nn constructors only — a damaged reply is refused.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch import nn

from vizapp.custom import CodeError, evaluate, summary
from vizapp.custom import sandbox
from vizapp.custom.interp import Interpreter

DEEP_TUPLE = ("t = ()\nfor i in range(1800):\n    t = " + "(" * 150 + "t" + ",)" * 150 +
              "\nd = {t: 1}\nnet = nn.Sequential(nn.ReLU())")
GIL_FREEZE = ("a = [0] * 10000\nb = [0] * 10000\nA = [a] * 10000\nB = [b] * 10000\n"
              "AA = [A] * 10000\nBB = [B] * 10000\nx = AA == BB\nnet = nn.Sequential(nn.ReLU())")
SHARED = "a = nn.ReLU()\nfor i in range(40):\n    a = nn.Sequential(a, a)\nnet = a"
NESTED = "a = nn.ReLU()\nfor i in range(1999):\n    a = nn.Sequential(a)\nnet = a"


class Ticker:
    """A thread of the calling process that counts while the sandbox works."""

    def __enter__(self):
        self.n, self.stop = 0, False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        return self

    def _run(self):
        while not self.stop:
            self.n += 1
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.stop = True
        self.t.join()


@pytest.fixture(autouse=True)
def _no_interpreter_here(monkeypatch):
    """Nothing in this (the test's, the server's) process may interpret box code."""
    def refuse(self):
        raise AssertionError("box code interpreted in the calling process")
    monkeypatch.setattr(Interpreter, "run", refuse)


def test_segfault_is_one_message_and_the_caller_goes_on():
    t0 = time.monotonic()
    with Ticker() as tick, pytest.raises(CodeError) as err:
        summary(DEEP_TUPLE)
    assert "crashed its process" in err.value.message
    assert time.monotonic() - t0 < 10
    assert tick.n > 5
    assert summary("net = nn.Sequential(nn.Linear(3, 2))").params == 8  # and it still works


@pytest.mark.slow
def test_gil_freeze_is_stopped_by_the_cpu_limit_while_the_caller_runs():
    lim = sandbox.Limits(cpu_s=2, wall_s=10)
    t0 = time.monotonic()
    with Ticker() as tick, pytest.raises(CodeError) as err:
        sandbox.run_sandboxed(GIL_FREEZE, None, lim)
    took = time.monotonic() - t0
    assert "more than 2 s of CPU time" in err.value.message
    assert took < 6
    assert tick.n > 0.5 * took / 0.01 * 0.5  # the caller's thread kept running throughout


def test_wall_clock_kill():
    lim = sandbox.Limits(cpu_s=30, wall_s=1.0)
    with pytest.raises(CodeError) as err:
        sandbox.run_sandboxed(GIL_FREEZE, None, lim)
    assert "longer than 1 s" in err.value.message


def test_memory_limit():
    # ~1.5 GB of lists: far beyond the 64 MB cap plus whatever freed memory the process that
    # forks the child (an analysis worker) still has mapped and the child can reuse
    code = ("x = [[[0] * 10000 for j in range(95)] for i in range(200)]\n"
            "net = nn.Sequential(nn.ReLU())")
    with pytest.raises(CodeError) as err:
        sandbox.run_sandboxed(code, None, sandbox.Limits(memory=64 << 20))
    assert "more than 64 MB of memory" in err.value.message
    small = "x = [[0] * 10000 for i in range(2000)]\nnet = nn.Sequential(nn.ReLU())"  # ~160 MB
    assert sandbox.run_sandboxed(small, None, sandbox.Limits(memory=1 << 30))["params"] == 0


@pytest.mark.parametrize("code,words", [
    (SHARED, "calls its layers 2,199,023,255,551 times"),
    (NESTED, "nest"),
    ("net = nn.LazyLinear(10)", "takes its size from the input"),
    ("x = max([1, 2], key=nn.Identity())\nnet = nn.Sequential()", "no key="),
    ("x = min([1, 2], key=nn.Flatten())\nnet = nn.Sequential()", "no key="),
    ("x = f'{1:1000000000}'\nnet = nn.Sequential()", "format width"),
    ("x = '%*d' % (200000000, 1)\nnet = nn.Sequential()", "widths are not supported"),
    ("g = [nn.Linear(8000, 8000, device='cpu') for i in range(5)]\nnet = nn.Sequential()",
     "device= argument is not allowed"),
])
def test_findings_are_refused_with_a_message(code, words):
    t0 = time.monotonic()
    with pytest.raises(CodeError) as err:
        summary(code)
    assert words in err.value.message
    assert time.monotonic() - t0 < 5


def test_lazy_layers_take_their_size_from_the_input():
    lazy = ("net = nn.Sequential(nn.LazyConv2d(6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),"
            " nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(), nn.LazyLinear(10))")
    plain = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(6 * 14 * 14, 120), nn.BatchNorm1d(120),
                          nn.Linear(120, 10))
    with torch.device("meta"):
        m = evaluate(lazy, (1, 28, 28))
    assert repr(m) == repr(plain)
    assert summary(lazy, (1, 28, 28)).params == sum(p.numel() for p in plain.parameters())


def test_the_model_is_rebuilt_here_from_data():
    src = "a = nn.ReLU()\nnet = nn.Sequential(nn.Conv2d(1, 2, 3), a, a, nn.Flatten())"
    m = evaluate(src)
    assert m[1] is m[2]  # sharing survives the round trip
    assert m[0].weight.device.type == "cpu"  # built here, on the caller's device
    desc = sandbox.describe(src)
    assert [n["type"] for n in desc.nodes] == ["Conv2d", "ReLU", "Flatten", "Sequential"]


@pytest.mark.parametrize("node", [
    {"type": "system", "args": ["touch x"], "kwargs": {}},
    {"type": "Flatten", "args": [], "kwargs": {"start_dim": "1) or print(1"}},
    {"type": "Linear", "args": [2, 2], "kwargs": {"device": "cpu"}},
    {"type": "Sequential", "children": [["a", 7]]},
    {"type": "Linear", "args": [{"m": 5}, 2], "kwargs": {}},
])
def test_a_damaged_description_is_refused(node):
    desc = sandbox.Description((node,), 0, 0, 1, ())
    with pytest.raises(CodeError):
        sandbox.rebuild(desc)


def test_messages_from_the_child_cannot_read_attributes():
    hostile = {"msg": [["{x.__class__.__mro__}", [["x", "a"]]]]}
    assert str(sandbox._msg_from_json(hostile)) == "the code was refused"
    fine = {"msg": [["line {line}: ", [["line", 3]]], "bad"]}
    assert str(sandbox._msg_from_json(fine)) == "line 3: bad"


def test_descriptions_travel_to_analysis_workers():
    from vizapp.zoo import resolve
    spec = resolve("custom", {"code": "net = nn.Sequential(nn.Flatten(), nn.Linear(784, 3))"})
    carried = sandbox.known_for(spec)
    assert carried and carried[0][0][0] == spec.config.code


D2L_TODAY = """import torch
from torch import nn
from torch.nn import functional as F

net = nn.Sequential(
    nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.LazyLinear(120), nn.Sigmoid(),
    nn.LazyLinear(84), nn.Sigmoid(),
    nn.LazyLinear(10))
"""


def test_todays_d2l_lenet_as_pasted():
    """d2l's current LeNet (lazy layers, the usual imports) gives the seed's LeNet counts:
    conv 156 + 2,416, linear 48,120 + 10,164 + 850 = 61,706 parameters."""
    assert summary(D2L_TODAY, (1, 28, 28)).params == 156 + 2416 + 48120 + 10164 + 850


@pytest.mark.parametrize("line", ["import os", "from torch import load", "import torch as t",
                                  "from torch.nn import functional", "from torch import nn as os",
                                  "import torch, os"])
def test_other_imports_are_refused(line):
    with pytest.raises(CodeError) as err:
        summary(line + "\nnet = nn.Sequential(nn.ReLU())")
    assert "imports are not needed" in err.value.message and err.value.line == 1
