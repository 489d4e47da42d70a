"""Code from a link never runs on the server (issue: security findings, item 1).

The Code page writes each layer as a constructor. It used to rebuild that constructor from the
layer's ``repr`` and ``eval`` it — and a string where an int belongs (``nn.Flatten(start_dim=
'1) and __import__("os").system(…) and nn.Flatten(start_dim=1')``) turned the repr into the
attacker's code. Now constructors are written from the attribute *values* (``repr`` of plain
literals) and checked by constructing the layer from those values; the box refuses a layer
argument of the wrong type before anything is built. Each test plants a canary command and
checks the file never appears — through the generator (every style, every string-typed
argument a layer stores unchecked), the box, the CLI and the app's Code page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from vizapp.custom import CodeError, summary, url
from vizapp.render.code import STYLES, CodegenError, generate, styles_for
from vizapp.zoo import resolve


def _payload(canary: Path) -> str:
    # closes the would-be literal, runs a command, and re-opens one: text that is only
    # harmless while it stays inside a string literal
    return f'1) and __import__("os").system("touch {canary}") and nn.Flatten(start_dim=1'


HOSTILE = [  # layers built with text where a number or a known word belongs
    # the finding's own link: a NaN makes the clean constructor fail, so the old code fell back
    # to eval-ing the layer's repr, in which the text is no longer inside quotes
    lambda p: nn.Flatten(start_dim=p, end_dim=float("nan")),
    lambda p: nn.Flatten(start_dim=p), lambda p: nn.Flatten(end_dim=p),
    lambda p: nn.Upsample(scale_factor=2.0, mode=p), lambda p: nn.GELU(approximate=p),
    lambda p: nn.LogSoftmax(dim=p), lambda p: nn.Unflatten(p, (1, 1)),
    lambda p: nn.Softmax(dim=p), lambda p: nn.ELU(alpha=p),
]


def _hostile_layer(i: int, p: str) -> nn.Module | None:
    try:
        return HOSTILE[i](p)
    except (TypeError, ValueError):
        return None  # this torch version checks the argument itself


def test_torch_still_stores_unchecked_text():
    """The tests below are only meaningful while PyTorch accepts such layers (it does)."""
    assert _hostile_layer(0, "x") is not None and _hostile_layer(2, "x") is not None


@pytest.mark.parametrize("i", range(len(HOSTILE)))
def test_generated_code_never_evaluates_layer_text(tmp_path, i):
    canary = tmp_path / "canary"
    layer = _hostile_layer(i, _payload(canary))
    if layer is None:
        pytest.skip("torch refuses this argument itself")
    model = nn.Sequential(nn.Identity(), layer)
    spec = resolve("custom")
    for style in styles_for(model):
        try:
            code = generate(spec, style, model=model)
        except CodegenError:
            continue  # refusing to write it is fine; running it is not
        assert not canary.exists(), style
        # the payload stays one string literal: the generated file, run as a user would run
        # it, builds the layer with that text and runs nothing
        ns: dict = {"__name__": "generated"}
        try:
            with torch.device("meta"):
                exec(compile(code, "<generated>", "exec"), ns)  # noqa: S102 - the user's view
        except Exception:  # noqa: BLE001 - a layer may refuse the text when built or run
            pass
        assert not canary.exists(), (style, code)
    assert not canary.exists()


def test_module_names_stay_one_literal_in_generated_code(tmp_path):
    canary = tmp_path / "canary"
    name = f'x", open("{canary}", "w"), "'  # (add_module refuses dots in names)
    model = nn.Sequential()
    model.add_module(name, nn.ReLU())
    model.add_module("fc", nn.Linear(2, 2))
    spec = resolve("custom")
    for style in styles_for(model):
        code = generate(spec, style, model=model)
        ns: dict = {"__name__": "generated"}
        with torch.device("meta"):
            exec(compile(code, "<generated>", "exec"), ns)  # noqa: S102
        assert name in dict(ns["net"].named_children()) or style == "sequential"
    assert not canary.exists()


def test_constructors_are_written_from_values():
    from vizapp.render.code import constructor_code
    assert constructor_code(nn.Conv2d(1, 6, kernel_size=5, padding=2)) == \
        "nn.Conv2d(1, 6, kernel_size=5, padding=2)"
    assert constructor_code(nn.MaxPool2d(3, stride=2)) == "nn.MaxPool2d(kernel_size=3, stride=2)"
    assert constructor_code(nn.Hardtanh(-float("inf"), 1.0)) == "nn.Hardtanh(min_val=float('-inf'))"
    assert constructor_code(nn.Flatten(start_dim="x")) == "nn.Flatten(start_dim='x')"


STRING_ARGS = [  # every text-typed argument of a layer the box knows, with a payload in it
    ("nn.Flatten(start_dim={p})", "start_dim"),
    ("nn.Conv2d(1, 2, 3, padding={p})", "padding"),
    ("nn.Conv2d(1, 2, 3, padding_mode={p})", "padding_mode"),
    ("nn.Upsample(scale_factor=2, mode={p})", "mode"),
    ("nn.GELU(approximate={p})", "approximate"),
    ("nn.Softmax(dim={p})", "dim"),
    ("nn.RNN(4, 4, nonlinearity={p})", "nonlinearity"),
    ("nn.TransformerEncoderLayer(8, 2, activation={p})", "activation"),
    ("nn.Unflatten({p}, (1, 1))", "dim"),
    ("nn.EmbeddingBag(10, 3, mode={p})", "mode"),
]


@pytest.mark.parametrize("call,arg", STRING_ARGS)
def test_box_refuses_text_where_a_layer_takes_none(tmp_path, call, arg):
    canary = tmp_path / "canary"
    code = "net = nn.Sequential(" + call.format(p=repr(_payload(canary))) + ")"
    with pytest.raises(CodeError) as err:
        summary(code)
    text = str(err.value.message)
    assert f"{arg}=" in text and "is not allowed" in text, text
    assert not canary.exists()


def test_box_keeps_the_words_layers_know():
    s = summary("net = nn.Sequential(nn.Conv2d(1, 2, 3, padding='same', padding_mode='reflect'),"
                " nn.Upsample(scale_factor=2, mode='bilinear'), nn.GELU(approximate='tanh'),"
                " nn.Flatten(1), nn.Softmax(dim=1))")
    assert s.params == 1 * 2 * 9 + 2


@pytest.mark.parametrize("code,arg", [
    ("nn.Linear(20000, 20000, device='cpu')", "device"),
    ("nn.Conv2d(1, 2, 3, dtype=torch)", "dtype"),
    ("nn.AdaptiveAvgPool2d(10**9)", "output_size"),
    ("nn.RNN(28, 1, num_layers=100000)", "num_layers"),
    ("nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 3000)", "num_layers"),
    ("nn.Identity([[0] * 3] * 3)", "*args"),
])
def test_box_refuses_unbounded_or_placed_layers(code, arg):
    with pytest.raises(CodeError) as err:
        summary("net = nn.Sequential(" + code + ")")
    assert arg in str(err.value.message)


def test_cli_refuses_the_payload_with_one_line(tmp_path, capsys):
    from vizapp.cli import main
    canary = tmp_path / "canary"
    src = tmp_path / "net.py"
    src.write_text("net = nn.Sequential(nn.Flatten(start_dim=" + repr(_payload(canary)) + "))\n")
    assert main(["table", "--code", str(src)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "start_dim=" in err[0], err
    assert not canary.exists()


def test_code_page_link_with_payload_runs_nothing(tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.test_app import MAIN
    canary = tmp_path / "canary"
    src = "net = nn.Sequential(nn.Flatten(start_dim=" + repr(_payload(canary)) + "), nn.ReLU())"
    for style in STYLES:
        at = AppTest.from_file(MAIN, default_timeout=120)
        at.query_params.update({"model": "seed003-sequential", "code": url.encode(src),
                                "style": style})
        at.run()
        at.switch_page("app_pages/code.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert not canary.exists(), style


def _dangerous_calls() -> list[tuple[str, int, str]]:
    """Every call of eval/exec/compile-to-exec, pickle.load(s), torch.load and Unpickler in the
    app's code, read from the syntax tree (strings and ``model.eval()`` are not calls of these)."""
    import ast
    root = Path(__file__).resolve().parents[1]
    out = []
    for path in sorted([*root.glob("vizapp/**/*.py"), *root.glob("components/**/*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else \
                f"{getattr(f.value, 'id', '?')}.{f.attr}" if isinstance(f, ast.Attribute) else ""
            if name in ("eval", "exec", "pickle.load", "pickle.loads", "pickle.Unpickler",
                        "torch.load", "marshal.loads"):
                safe = name == "torch.load" and any(
                    k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                    and k.value.value is True for k in node.keywords)
                if not safe:
                    out.append((str(path.relative_to(root)), node.lineno, name))
    return out


def test_no_eval_exec_or_unpickler_on_user_input():
    """Every remaining use is listed here with why its input cannot come from a user; a
    torch.load must say weights_only=True (tensors, numbers and text only)."""
    allowed = {
        # the --allow-code opt-in: the person who started the app on their own computer asked
        # for their own code to run as Python (VIZAPP_ALLOW_CODE=1, a banner says so)
        ("vizapp/custom/trusted.py", "exec"),
    }
    found = _dangerous_calls()
    assert {(p, n) for p, _, n in found} <= allowed, found
    assert found, "the AST scan finds nothing at all: it is broken"
