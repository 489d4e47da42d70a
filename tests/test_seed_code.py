"""The seed-shaped code (Residual/resnet_block, the bottleneck ResNet with _make_layer,
Inception p1…p4, conv_block/DenseBlock/transition_block): for every seed preset and every
style, the exported file is EXECUTED as ``__main__``; its shape loop must print exactly the
Shapes table (``analyze_spec(spec).rows(1)``) and its parameter count must equal the zoo
model's. The loop runs on the meta device (shapes without arithmetic); one file is also run as
is, in a fresh interpreter, on real tensors."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

import pytest
import torch

from vizapp.analysis import analyze_spec
from vizapp.render.code import STYLES, CodegenError
from vizapp.render.seed_code import generate_seed
from vizapp.zoo import build_model, resolve

SEED_PRESETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "googlenet",
                "densenet"]
# knobs turned away from the seed: the code must follow them
VARIANTS = {
    "densenet-bc": ("densenet121", {}),
    "densenet-k16": ("densenet", {"growth_rate": "16", "blocks": "2,3", "compression": "0.75"}),
    "resnet-plain": ("resnet18", {"batch_norm": "false", "conv_bias": "false",
                                  "shortcut": "conv-bn", "stem_channels": "32",
                                  "blocks": "1,2,1", "widths": "48,96,192"}),
    "resnet50-narrow": ("resnet50", {"blocks": "2,2", "widths": "32,64", "shortcut": "conv"}),
    "googlenet-small": ("googlenet", {"inception": "[[[32,[16,32],[8,16],16]],"
                                                   "[[64,[32,64],[8,16],16]],"
                                                   "[[64,[32,64],[8,16],16]]]"}),
}
LINE = re.compile(r"^(?:(\S+) )?(\w+) output shape:\t torch\.Size\(\[([\d, ]*)\]\)$")


def _spec(key: str):
    if key in VARIANTS:
        name, knobs = VARIANTS[key]
        return resolve(name, knobs)
    return resolve(key)


def _run(code: str) -> list[str]:
    ns: dict = {"__name__": "__main__"}
    out = io.StringIO()
    with torch.device("meta"), contextlib.redirect_stdout(out):
        exec(compile(code, "<seed code>", "exec"), ns)  # noqa: S102 - the point of the test
    return out.getvalue().splitlines()


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("key", SEED_PRESETS + list(VARIANTS))
def test_seed_code_prints_the_shapes_table(key: str, style: str) -> None:
    spec = _spec(key)
    code = generate_seed(spec, style)
    printed = _run(code)
    rows = analyze_spec(spec).rows(1)
    parsed = [LINE.match(ln) for ln in printed[:-1]]
    assert all(parsed), printed
    assert [(m.group(2), tuple(int(x) for x in m.group(3).split(", "))) for m in parsed] == \
        [(r.type, tuple(r.output_shape)) for r in rows]
    if style != "sequential":  # the positional style prints class names only, as seed 002
        assert [m.group(1) for m in parsed] == [r.name for r in rows]
    with torch.device("meta"):
        zoo = build_model(spec)
    assert printed[-1] == f"{sum(p.numel() for p in zoo.parameters())} parameters"


def test_seed_code_reads_like_the_seeds() -> None:
    r18 = generate_seed(resolve("resnet18"), "sequential")
    assert "class Residual(nn.Module):" in r18 and "def resnet_block(" in r18
    assert "b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))" in r18
    assert re.search(r"net = nn\.Sequential\(\s+b1,\s+b2,\s+b3,\s+b4,\s+b5,", r18)
    r50 = generate_seed(resolve("resnet50"), "class")
    assert "def _make_layer(self, block, num_residual_blocks, out_channels, stride):" in r50
    assert "net = ResNet(Bottleneck, [3, 4, 6, 3])" in r50
    g = generate_seed(resolve("googlenet"), "sequential")
    assert "Inception(192, 64, (96, 128), (16, 32), 32)," in g
    assert "return torch.cat((p1, p2, p3, p4), dim=1)" in g
    d = generate_seed(resolve("densenet"), "add_module")
    for name in ("def conv_block(", "class DenseBlock(nn.Module):", "def transition_block("):
        assert name in d
    assert 'net.add_module(f"dense_block_{i}", DB)' in d


def test_a_changed_knob_changes_the_code() -> None:
    base = generate_seed(resolve("densenet"), "class")
    k16 = generate_seed(resolve("densenet", {"growth_rate": "16"}), "class")
    assert "num_channels, growth_rate = 64, 32" in base
    assert "num_channels, growth_rate = 64, 16" in k16
    r101 = generate_seed(resolve("resnet101"), "class")
    assert "net = ResNet(Bottleneck, [3, 4, 23, 3])" in r101


def test_families_without_seed_code_say_so() -> None:
    with pytest.raises(CodegenError, match="no seed-shaped code"):
        generate_seed(resolve("lenet"), "class")
    with pytest.raises(CodegenError, match="unknown style"):
        generate_seed(resolve("resnet18"), "nope")


def test_the_exported_file_runs_as_is(tmp_path) -> None:
    spec = resolve("googlenet")
    path = tmp_path / "googlenet.py"
    path.write_text(generate_seed(spec, "ordereddict"))
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=240, check=True)
    lines = done.stdout.splitlines()
    rows = analyze_spec(spec).rows(1)
    assert lines[:-1] == [f"{r.name} {r.type} output shape:\t torch.Size({list(r.output_shape)})"
                          for r in rows]


def test_generated_comments_follow_the_language():
    """In Chinese the comments and docstrings are Chinese, the code is the same code (the two
    files differ only in comments and docstrings, and both build the same model)."""
    import ast as _ast

    for spec, gen in ((resolve("googlenet"), generate_seed), (resolve("densenet"), generate_seed),
                      (resolve("resnet50"), generate_seed)):
        en, zh = gen(spec, "class", lang="en"), gen(spec, "class", lang="zh")
        assert "# 分支 1：单个 1×1 卷积" in zh or "稠密块" in zh or "种子 001" in zh
        assert not [ln for ln in zh.splitlines() if ln.strip().startswith("#")
                    and not any("\u4e00" <= ch <= "\u9fff" for ch in ln)], zh
        strip = [_ast.dump(_ast.parse(c)) for c in (en, zh)]
        body_en = [n for n in _ast.parse(en).body if not isinstance(n, _ast.Expr)]
        body_zh = [n for n in _ast.parse(zh).body if not isinstance(n, _ast.Expr)]
        assert len(body_en) == len(body_zh) and strip[0] != strip[1]

        def no_docs(tree):
            for node in _ast.walk(tree):
                if isinstance(node, (_ast.ClassDef, _ast.FunctionDef, _ast.Module)) and \
                        node.body and isinstance(node.body[0], _ast.Expr) and \
                        isinstance(getattr(node.body[0], "value", None), _ast.Constant):
                    node.body = node.body[1:]
            return _ast.dump(tree)

        assert no_docs(_ast.parse(en)) == no_docs(_ast.parse(zh))
        assert "由 vizapp 生成" in zh.splitlines()[0]
