"""Your own model: the code box's safe evaluator (hostile snippets refused with the line and the
reason; every Sequential/OrderedDict/add_module model of the seeds accepted and identical to
running the same code with real Python and torch), the family, the one-click fix."""

from __future__ import annotations

import time
from collections import OrderedDict

import pytest
import torch
from torch import nn

from vizapp.analysis import analyze, analyze_spec
from vizapp.custom import CodeError, build, evaluate, fix, limits
from vizapp.zoo import ConfigError, resolve
from vizapp.zoo.custom import example

# ----------------------------------------------------------------------------- seed models
SEED_002 = {
    "lenet": ("""net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10))""", (2, 1, 28, 28)),
    "lenet-bn": ("""net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
    nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
    nn.Linear(84, 10))""", (2, 1, 28, 28)),
    "alexnet": ("""net = nn.Sequential(
    nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=3, stride=2),
    nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
    nn.MaxPool2d(kernel_size=3, stride=2),
    nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
    nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
    nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
    nn.Linear(4096, 10))""", (1, 1, 224, 224)),
    "nin": ("""def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())

net = nn.Sequential(
    nin_block(1, 96, kernel_size=11, strides=4, padding=0),
    nn.MaxPool2d(3, stride=2),
    nin_block(96, 256, kernel_size=5, strides=1, padding=2),
    nn.MaxPool2d(3, stride=2),
    nin_block(256, 384, kernel_size=3, strides=1, padding=1),
    nn.MaxPool2d(3, stride=2), nn.Dropout(0.5),
    nin_block(384, 10, kernel_size=3, strides=1, padding=1),
    nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())""", (1, 1, 224, 224)),
}
EXAMPLES = {"seed003_sequential": (1, 3, 6, 6), "seed003_ordereddict": (1, 3, 6, 6),
            "seed003_add_module": (1, 3, 6, 6), "d2l_vgg": (1, 1, 224, 224)}
SEED_MODELS = {**{k: v for k, v in SEED_002.items()},
               **{k: (example(k), shape) for k, shape in EXAMPLES.items()}}


def run_directly(code: str) -> nn.Module:
    """The independent computation: the same text as ordinary Python with real torch."""
    ns = {"torch": torch, "nn": nn, "OrderedDict": OrderedDict}
    exec(compile(code, "<seed>", "exec"), ns)  # noqa: S102 - the point of the comparison
    return ns["net"]


def child_shapes(model: nn.Module, shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    x = torch.rand(shape)
    out = []
    with torch.no_grad():
        for name, child in model.named_children():
            x = child.eval()(x)
            out.append((name, tuple(x.shape)))
    return out


@pytest.mark.parametrize("name", list(SEED_MODELS))
def test_seed_models_match_running_the_code_directly(name):
    code, shape = SEED_MODELS[name]
    ours = evaluate(code)
    theirs = run_directly(code)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}
    assert str(ours) == str(theirs)
    a = analyze(ours, shape[1:], shape[0])
    assert a.ok, a.failure
    assert a.total_params == sum(p.numel() for p in theirs.parameters())
    assert [(r.name, tuple(r.output_shape)) for r in a.rows(1)] == child_shapes(theirs, shape)


def test_the_model_is_built_on_meta_when_the_caller_asks():
    with torch.device("meta"):
        m = evaluate(SEED_002["lenet"][0])
    assert all(p.is_meta for p in m.parameters())
    assert not any(p.is_meta for p in evaluate(SEED_002["lenet"][0]).parameters())


# ----------------------------------------------------------------------------- hostile input
HOSTILE = [
    ("import os", 1, "imports are not needed"),
    ("from os import system", 1, "imports are not needed"),
    ("x = 1\n().__class__.__bases__[0].__subclasses__()", 2, "__subclasses__"),
    ("nn.Linear.__init__.__globals__", 1, "__globals__"),
    ("x = nn.Linear(1, 1)\ny = x.weight", 2, "has no .weight"),
    ("open('/etc/passwd')", 1, "open() is not available"),
    ("getattr(nn, 'Linear')", 1, "getattr() is not available"),
    ("eval('1')", 1, "eval() is not available"),
    ("exec('1')", 1, "exec() is not available"),
    ("__import__('os')", 1, "__import__"),
    ("f = lambda: 1", 1, "lambdas are not allowed"),
    ("(lambda: ().__class__)()", 1, "lambdas are not allowed"),
    ("for i in range(10**9):\n    pass", 1, "1,000,000,000 steps"),
    ("x = [0] * 10**9", 1, "repetition"),
    ("x = 10 ** 10 ** 10", 1, "too large"),
    ("def f(n):\n    return f(n + 1)\nnet = f(0)", 2, "deep"),
    ("while True:\n    pass", 1, "while loops are not allowed"),
    ("'{0.__class__}'.format(1)", 1, "has no .format"),
    ("'%s' % nn", 1, "unsupported operation"),
    ("x = {}\nx.items()", 2, "has no .items"),
    ("net = nn.Sequential()\nnet.forward = 1", 2, "only self.<name> = ... in __init__"),
    ("x = (1, 2)\nx[0] = 3", 2, "cannot assign into"),
    ("class Net(nn.Module):\n    def forward(self, x, y):\n        return x", 2,
     "takes one input"),
    ("nn.functional.linear", 1, "F.linear is not among"),
    ("torch.load('x')", 1, "has no .load"),
    ("m = nn.Linear(2, 2)\nm(1)", 2, "calling a layer runs it"),
    ("x = 1\nfor i in range(9000):\n    for j in range(9000):\n        x = x + 1", 3,
     "more than 20,000 times"),
    ("nn.Conv2d(1, 2)", 1, "missing 1 required positional argument: 'kernel_size'"),
    ("nn.Conv2D(1, 6, 5)", 1, "did you mean nn.Conv2d?"),
    ("nn.Sequential(\n  nn.Linear(2, 2),\n", 1, "syntax error"),
    ("x = " + "+".join(["1"] * 1800), None, "nests too deeply"),
]


@pytest.mark.parametrize("code,line,words", HOSTILE, ids=[h[2][:30] for h in HOSTILE])
def test_hostile_and_wrong_code_is_refused_with_line_and_reason(code, line, words):
    with pytest.raises(CodeError) as exc:
        evaluate(code)
    assert words in exc.value.message
    if line is not None:
        assert exc.value.line == line and exc.value.message.startswith(f"line {line}")


def test_a_billion_parameter_linear_is_refused_before_any_allocation(monkeypatch):
    devices = []
    init = nn.Linear.__init__

    def spy(self, *a, **k):
        devices.append(torch.get_default_device().type)
        init(self, *a, **k)

    monkeypatch.setattr(nn.Linear, "__init__", spy)
    t0 = time.perf_counter()
    with pytest.raises(CodeError) as exc:
        evaluate("net = nn.Sequential(nn.Linear(40000, 25000), nn.ReLU())")
    assert time.perf_counter() - t0 < 2
    assert devices == []  # not built in this process at all: the sandbox built it on meta
    from vizapp.custom.sandbox import describe_here
    with pytest.raises(CodeError):
        describe_here("net = nn.Sequential(nn.Linear(40000, 25000), nn.ReLU())")
    assert devices == ["meta"]  # what the sandbox does: built once, on meta, then refused
    assert "1,000,025,000 parameters" in exc.value.message
    assert f"{limits.MAX_PARAMS:,}" in exc.value.message


def test_classes_run_in_the_interpreter_and_with_the_opt_in_as_python(monkeypatch):
    code = ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.fc = nn.Linear(4, 2)\n    def forward(self, x):\n"
            "        return F.relu(self.fc(x))\nnet = Net()\n")
    safe = evaluate(code)
    from vizapp.custom.boxclass import BoxModule

    assert type(safe).__name__ == "Net" and isinstance(safe, BoxModule)  # interpreted
    monkeypatch.setenv("VIZAPP_ALLOW_CODE", "1")
    m = evaluate(code)
    assert type(m).__module__ == "vizapp_box"  # the opt-in's exec made this class
    safe.load_state_dict(m.state_dict())
    x = torch.randn(3, 4)
    assert torch.equal(safe(x), m(x))


def test_the_model_is_the_last_expression_or_net_or_model():
    assert isinstance(evaluate("nn.Sequential(nn.ReLU())"), nn.Sequential)
    assert isinstance(evaluate("model = nn.Linear(2, 3)\nx = 1"), nn.Linear)
    assert isinstance(evaluate("x = nn.Linear(2, 3)\ny = 1"), nn.Linear)  # the last one made
    with pytest.raises(CodeError, match="must end with the model"):
        evaluate("x = 2\ny = 1")


def test_loops_comprehensions_fstrings_and_add_module_names():
    m = evaluate("net = nn.Sequential()\nfor i, c in enumerate([8, 16]):\n"
                 "    net.add_module(f'conv{i + 1}', nn.Conv2d(c // 2 if i else 1, c, 3))\n"
                 "    net.add_module('relu%d' % (i + 1), nn.ReLU())\n")
    assert [n for n, _ in m.named_children()] == ["conv1", "relu1", "conv2", "relu2"]
    assert m.conv2.in_channels == 8


# ----------------------------------------------------------------------------- family + fix
def test_custom_family_validate_names_the_code_knob():
    spec = resolve("custom")
    with pytest.raises(ConfigError) as exc:
        spec.config.replace(code="import os").validate()
    assert exc.value.knob == "code" and exc.value.message.startswith("line 1:")


def test_lenet_bug_is_found_and_the_fix_edits_only_that_number():
    spec = resolve("lenet-bug")
    a = analyze_spec(spec)
    f = a.failure
    assert f is not None and f.op == "Linear" and f.features == (400, 256)
    assert "16·4·4" in f.message
    fx = fix.linear_in_features(spec.config.code, f.module_path, f.features)
    assert fx.label == "Use nn.Linear(256, 120)"
    new = fix.apply(spec.config.code, fx)
    assert new == spec.config.code.replace("nn.Linear(16 * 5 * 5, 120)", "nn.Linear(256, 120)")
    fixed = analyze_spec(spec.replace(code=new))
    assert fixed.ok
    x = run_directly(new)(torch.rand(1, 1, 28, 28))  # and real torch agrees
    assert tuple(x.shape) == fixed.output_shape == (1, 10)


# ----------------------------------------------------------------------------- the app
def _app(**query):
    from streamlit.testing.v1 import AppTest

    from tests.test_app import MAIN
    at = AppTest.from_file(MAIN, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _code_texts(at) -> str:
    return "\n".join([c.value for c in at.main.code] + [t.value for t in at.main.text])


def test_app_code_box_is_in_the_main_area_and_marks_the_errors_line():
    """The box is full width above the page (the sidebar links to it); a refusal is shown
    with the lines around it numbered and the error's line marked, in both languages."""
    from vizapp.zoo.custom import example

    at = _app(model="seed003-class")
    assert [t.key for t in at.main.text_area] == ["vz.k.custom.code"]
    assert not at.sidebar.text_area
    assert any("#your-code" in m.value for m in at.sidebar.markdown)
    code = example("seed003_class")
    bad = code.replace("self.conv1(x)), 2)", "self.conv(x)), 2)")
    line = bad.splitlines().index(next(ln for ln in bad.splitlines() if "self.conv(x)" in ln)) + 1
    at.text_area(key="vz.k.custom.code").set_value(bad).run()
    texts = _code_texts(at)
    assert f"line {line}: Net1 has no attribute 'conv'" in texts and "self.conv1?" in texts
    assert f"▶ {line} │         x = F.max_pool2d(F.relu(self.conv(x)), 2)" in texts
    assert f"  {line - 1} │     def forward(self, x):" in texts
    assert any("fix the code in the box below" in w.value for w in at.warning)
    zh = _app(model="seed003-class", lang="zh")
    zh.text_area(key="vz.k.custom.code").set_value(bad).run()
    assert f"第 {line} 行：Net1 没有属性 'conv'" in _code_texts(zh)


def test_app_type_buggy_lenet_see_message_click_fix_see_graph():
    at = _app(model="custom")
    box = at.text_area(key="vz.k.custom.code")
    box.set_value("net = nn.Sequential(nn.Conv2D(1, 6, 5))").run()
    assert "line 1: torch.nn has no layer Conv2D: did you mean nn.Conv2d?" in _code_texts(at)
    assert at.text_area(key="vz.k.custom.code").value.startswith("net = nn.Sequential(nn.Conv2D")
    assert at.query_params["model"] == "seed003-sequential"  # the last good model stays
    for knob, value in (("in_channels", 1), ("height", 28), ("width", 28)):
        at.number_input(key=f"vz.k.custom.{knob}").set_value(value)
    at.text_area(key="vz.k.custom.code").set_value(example("lenet_bug")).run()
    assert not at.exception
    assert "Line 10: this Linear expects 400 features but 256 arrive." in _code_texts(at)
    at.button(key="vz.code_fix").click().run()
    assert "nn.Linear(256, 120)" in at.text_area(key="vz.k.custom.code").value
    assert not any(b.key == "vz.code_fix" for b in at.button)
    from tests.test_app import kinds
    assert not at.error, [e.value for e in at.error]
    assert "output 1×10" in "\n".join(c.value for c in at.caption)
    assert [b.proto.label for b in at.get("download_button")][:1] == ["DOT"], \
        sorted(kinds(at))  # the Graph page drew the fixed model
    code = at.query_params["code"]
    from vizapp.custom import url
    assert "nn.Linear(256, 120)" in url.decode(code if isinstance(code, str) else code[0])


def test_app_link_with_code_opens_that_model():
    from vizapp.custom import url
    src = "net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 6, 7))"
    at = _app(model="seed003-sequential", code=url.encode(src))
    assert at.text_area(key="vz.k.custom.code").value == src
    assert "(edited)" in "\n".join(c.value for c in at.caption)


# ----------------------------------------------------------------------------- CLI
def test_cli_refused_code_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    import io

    from vizapp.cli import main
    bad = tmp_path / "bad.py"
    bad.write_text("net = nn.Sequential(\n    nn.Conv2d(1, 6, 5),\n    nn.Conv2D(6, 16, 5))\n")
    assert main(["table", "--code", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["vizapp table: error: line 3: torch.nn has no layer Conv2D: "
                   "did you mean nn.Conv2d?"]
    monkeypatch.setattr("sys.stdin", io.StringIO("import os\n"))
    assert main(["render", "--code", "-", "-o", str(tmp_path / "g.svg")]) == 2
    assert capsys.readouterr().err.strip() == ("vizapp render: error: line 1: imports are not "
                                              "needed: nn, torch.nn and OrderedDict are already "
                                              "there")


def test_cli_table_and_render_take_code(tmp_path, capsys):
    from vizapp.cli import main
    src = tmp_path / "net.py"
    src.write_text(example("seed003_ordereddict"))
    assert main(["table", "--code", str(src), "--input", "3,6,6", "--format", "json"]) == 0
    import json
    d = json.loads(capsys.readouterr().out)
    theirs = run_directly(example("seed003_ordereddict"))
    assert d["total_params"] == sum(p.numel() for p in theirs.parameters())
    out = tmp_path / "g.svg"
    assert main(["render", "--code", str(src), "--input", "3,6,6", "-o", str(out)]) == 0
    assert out.read_text().lstrip().startswith(("<?xml", "<svg")) and ">dense<" in out.read_text().replace(" ", "")
