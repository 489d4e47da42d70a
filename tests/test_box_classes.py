"""Classes in the code box (issue 22): ``class Net(nn.Module)`` with ``__init__`` and
``forward``, evaluated by the safe interpreter — never by Python's ``exec``.

Each model is checked against the same code run as plain Python (here, in the test, where
``exec`` of our own text is fine): the same printed model, parameter count, output shape and —
with the plain model's weights loaded into the box's model — the same output values. Then the
hostile side: what a class or a ``forward`` might try to reach."""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vizapp.analysis import analyze
from vizapp.custom import CodeError, evaluate, limits

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

RESIDUAL = '''
class Residual(nn.Module):
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1,
                               stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)

net = nn.Sequential(Residual(3, 3), Residual(3, 6, use_1x1conv=True, strides=2))
'''

INCEPTION = '''
class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super(Inception, self).__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)

net = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32),
                    Inception(256, 128, (128, 192), (32, 96), 64))
'''

DENSE = '''
def conv_block(input_channels, num_channels):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))

class DenseBlock(nn.Module):
    def __init__(self, num_convs, input_channels, num_channels):
        super(DenseBlock, self).__init__()
        layer = []
        for i in range(num_convs):
            layer.append(conv_block(num_channels * i + input_channels, num_channels))
        self.net = nn.Sequential(*layer)

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)
        return X

net = nn.Sequential(DenseBlock(2, 3, 10), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                    nn.Linear(23, 10))
'''

NET1 = '''
import torch
import torch.nn.functional as F

class Net1(torch.nn.Module):
    def __init__(self):
        super(Net1, self).__init__()
        self.conv1 = torch.nn.Conv2d(3, 32, 3, 1, 1)
        self.dense1 = torch.nn.Linear(32 * 3 * 3, 128)
        self.dense2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.dense1(x))
        x = self.dense2(x)
        return x

model1 = Net1()
'''


def _plain(code: str) -> nn.Module:
    """The same code run as ordinary Python (our own test text, never user input)."""
    ns = {"torch": torch, "nn": nn, "F": F, "OrderedDict": OrderedDict}
    exec(compile(code, "<test>", "exec"), ns)  # noqa: S102
    for name in ("net", "model", "model1", "model2", "model3", "model4"):
        if isinstance(ns.get(name), nn.Module):
            return ns[name]
    raise AssertionError("no model")


def _same_model(code: str, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    box, plain = evaluate(code, shape), _plain(code)
    assert repr(box) == repr(plain)
    assert sum(p.numel() for p in box.parameters()) == sum(p.numel() for p in plain.parameters())
    box.load_state_dict(plain.state_dict())
    x = torch.randn(2, *shape)
    box.eval(), plain.eval()
    with torch.no_grad():
        assert torch.allclose(box(x), plain(x), atol=1e-6)
    return box, plain


@pytest.mark.parametrize("code,shape", [(RESIDUAL, (3, 6, 6)), (INCEPTION, (192, 12, 12)),
                                        (DENSE, (3, 8, 8)), (NET1, (3, 6, 6))],
                         ids=["residual", "inception", "dense", "seed003-net1"])
def test_class_models_equal_plain_python(code, shape):
    box, plain = _same_model(code, shape)
    a = analyze(box, shape)
    assert a.method == "fx" and a.failure is None
    assert a.total_params == sum(p.numel() for p in plain.parameters())
    with torch.no_grad():
        assert tuple(a.output_shape) == tuple(plain.eval()(torch.zeros(1, *shape)).shape)


def test_blocks_carry_the_class_names():
    a = analyze(evaluate(INCEPTION, (192, 12, 12)), (192, 12, 12))
    inception = [b for b in a.blocks if b.type == "Inception"]
    assert [b.path for b in inception] == ["0", "1"]
    assert "4 parallel branches concatenated: 64 + 128 + 32 + 32 = 256" in inception[0].explanation
    # the functional ops of forward are nodes of the graph: four ReLUs per branch set, one cat
    names = [n.id for n in a.nodes]
    assert sum(1 for n in names if n.startswith("cat")) == 2
    assert sum(1 for n in names if n.startswith("relu")) == 12


def _seed003_code() -> str:
    text = (SEEDS / "003_892e040f6fa2c038.txt").read_text(encoding="utf-8")
    block = text[text.index("import torch"):text.index("print(model4)") + len("print(model4)")]
    keep = [ln for ln in block.splitlines()
            if not re.match(r"^\s*[\u4e00-\u9fff]", ln) and not ln.startswith("复制代码")]
    return "\n".join(keep)


@pytest.mark.skipif(not SEEDS.exists(), reason="../shared/seeds is not beside the checkout")
def test_seed003_as_printed_names_its_bug():
    """The page's four classes call layers their __init__ never made (Net1: self.conv for
    self.conv1; Net2–4: self.conv1 for self.conv): the box says so, with the line."""
    code = _seed003_code()
    with pytest.raises(CodeError) as err:
        evaluate(code, (3, 6, 6))
    text = str(err.value)
    line = code.splitlines()[err.value.line - 1]
    assert "self.conv1(x)" in line and "Net4 has no attribute 'conv1'" in text \
        and "did you mean self.conv?" in text
    net1_only = code[:code.index("# Method 2")].replace("print(model1)", "")
    with pytest.raises(CodeError) as err:
        evaluate(net1_only, (3, 6, 6))
    assert "Net1 has no attribute 'conv'" in str(err.value) and "self.conv1" in str(err.value)


@pytest.mark.skipif(not SEEDS.exists(), reason="../shared/seeds is not beside the checkout")
@pytest.mark.parametrize("which", [1, 2, 3, 4])
def test_seed003_classes_fixed_equal_plain_python(which):
    code = _seed003_code()
    code = code.replace("self.conv(x)", "self.conv1(x)").replace(
        "conv_out = self.conv1(x)", "conv_out = self.conv(x)")
    start = code.index(f"# Method {which}")
    end = code.index(f"print(model{which})")
    body = "import torch\nimport torch.nn.functional as F\nfrom collections import OrderedDict\n" \
        + code[start:end]
    _same_model(body, (3, 6, 6))


def test_trains_like_the_plain_model():
    """One SGD step on the box's model moves its weights exactly as on the plain one."""
    box, plain = _same_model(RESIDUAL, (3, 6, 6))
    x, y = torch.randn(4, 3, 6, 6), torch.randn(4, 6, 3, 3)
    for m in (box, plain):
        m.train()
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        F.mse_loss(m(x), y).backward()
        opt.step()
    for (n, a), (_, b) in zip(box.named_parameters(), plain.named_parameters()):
        assert torch.allclose(a, b, atol=1e-6), n


def test_code_box_never_uses_exec_for_classes(monkeypatch):
    import builtins

    def refuse(*a, **k):
        raise AssertionError("exec was called")

    monkeypatch.setattr(builtins, "exec", refuse)
    monkeypatch.setattr(builtins, "eval", refuse)
    m = evaluate(RESIDUAL.replace("Residual(3, 3)", "Residual(3, 3), Residual(3, 3)"), (3, 6, 6))
    assert m(torch.zeros(1, 3, 6, 6)).shape == (1, 6, 3, 3)


_CLS = "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n" \
       "        self.conv1 = nn.Conv2d(3, 4, 3)\n"


@pytest.mark.parametrize("code,needle", [
    (_CLS + "    def forward(self, x):\n        return self.__dict__\nnet = Net()", "__dict__"),
    (_CLS + "    def forward(self, x):\n        return super().forward(x)\nnet = Net()",
     "super"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__getattribute__('x')\n"
     "    def forward(self, x):\n        return x\nnet = Net()", "__getattribute__"),
    (_CLS + "    def forward(self, x):\n        return x.numpy()\nnet = Net()", ".numpy"),
    (_CLS + "    def forward(self, x):\n        return x.data_ptr()\nnet = Net()", ".data_ptr"),
    (_CLS + "    def forward(self, x):\n        return x.storage()\nnet = Net()", ".storage"),
    (_CLS + "    def forward(self, x):\n        return self.conv1.weight\nnet = Net()",
     ".weight"),
    (_CLS + "    def forward(self, x):\n        return self.parameters()\nnet = Net()",
     "parameters"),
    (_CLS + "    def forward(self, x):\n        return type(self)\nnet = Net()", "type"),
    (_CLS + "    def forward(self, x):\n        return torch.load('f')\nnet = Net()", "load"),
    (_CLS + "    def forward(self, x):\n        return torch.ops\nnet = Net()", "ops"),
    (_CLS + "    def forward(self, x):\n        return F.__builtins__\nnet = Net()",
     "__builtins__"),
    (_CLS + "    def forward(self, x):\n        self.forward = 1\n        return x\nnet = Net()",
     "only self.<name> = ... in __init__"),
    (_CLS.replace("self.conv1 = nn.Conv2d(3, 4, 3)", "self.forward = 1") +
     "    def forward(self, x):\n        return x\nnet = Net()", "part of nn.Module"),
    (_CLS.replace("self.conv1 = nn.Conv2d(3, 4, 3)", "self.layers = [nn.Conv2d(3, 4, 3)]") +
     "    def forward(self, x):\n        return x\nnet = Net()", "nn.ModuleList"),
    (_CLS + "    def forward(self, x):\n        return nn.Conv2d(3, 4, 3)(x)\nnet = Net()",
     "in __init__"),
    ("class Net(object):\n    def forward(self, x):\n        return x\nnet = Net()",
     "extends nn.Module only"),
    ("class Net(nn.Module, metaclass=X):\n    def forward(self, x):\n        return x\n",
     "extends nn.Module only"),
    ("class Net(nn.Module):\n    @staticmethod\n    def forward(self, x):\n        return x\n",
     "decorators"),
    ("class Net(nn.Module):\n    x = 1\n    def forward(self, x):\n        return x\n",
     "methods only"),
    ("def f():\n    class Net(nn.Module):\n        def forward(self, x):\n            return x\n"
     "    return Net()\nnet = f()", "top level"),
    ("class Net(nn.Module):\n    def forward(self, x, y):\n        return x\nnet = Net()",
     "one input"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "net = Net()", "no forward"),
    (_CLS + "    def forward(self, x):\n        return self.forward(x)\nnet = Net()",
     "deep"),
    (_CLS + "    def forward(self, x):\n        return self(x)\nnet = Net()", "deep"),
    (_CLS + "    def forward(self, x):\n        return x.__class__\nnet = Net()", "__class__"),
    (_CLS + "    def forward(self, x):\n        return F.linear\nnet = Net()", "F.linear"),
])
def test_hostile_classes_are_refused(code, needle):
    with pytest.raises(CodeError) as err:
        evaluate(code, (3, 8, 8))
    assert needle in str(err.value)
    assert err.value.line is not None


def test_a_forward_cannot_make_a_huge_tensor():
    """``torch.cat([x] * 10000)`` is sized on the meta device first: refused, never made."""
    code = (_CLS + "    def forward(self, x):\n        for i in range(30):\n"
            "            x = torch.cat([x, x], dim=1)\n        return x\nnet = Net()")
    m = evaluate(code, (3, 8, 8))
    with pytest.raises(CodeError) as err:
        m(torch.zeros(1, 3, 8, 8))
    assert "at most" in str(err.value) and f"{limits.MAX_TENSOR_ELEMENTS:,}" in str(err.value)


def test_forward_steps_are_bounded():
    code = (_CLS + "    def forward(self, x):\n        for i in range(10000):\n"
            "            for j in range(10000):\n                x = x + 0\n        return x\n"
            "net = Net()")
    m = evaluate(code, None)
    with pytest.raises(CodeError) as err:
        m(torch.zeros(1, 1))
    assert "times in all" in str(err.value) or "steps" in str(err.value)


def test_a_forward_calls_its_layers_a_bounded_number_of_times():
    """A loop over one layer in forward is a model as deep as the loop: capped like a shared
    layer in nn.Sequential (limits.MAX_LAYER_CALLS per pass), before it costs real time."""
    code = ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.act = nn.ReLU()\n    def forward(self, x):\n"
            "        for i in range(10000):\n"
            "            x = self.act(self.act(self.act(x)))\n        return x\nnet = Net()")
    m = evaluate(code, None)  # (with an input shape the sandbox's CPU limit stops it first)
    with pytest.raises(CodeError) as err:  # 10,000 iterations (under that cap), 30,000 calls
        m(torch.zeros(1, 2))
    assert f"calls its layers more than {limits.MAX_LAYER_CALLS:,} times" in str(err.value)
