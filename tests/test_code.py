"""The Code page's generator: the generated code runs, and builds the same model.

For every preset and every style that fits it, the code is EXECUTED and the module it defines
must have the same parameter count, the same state_dict keys and shapes, and the same output
shape as ``build_model(spec)``. Everything runs on the meta device (no memory, no arithmetic).
"""

from __future__ import annotations

import pytest
import torch

from vizapp.render.code import STYLES, CodegenError, generate, styles_for
from vizapp.zoo import build_model, presets, resolve

TORCHVISION = ["torchvision:resnet18", "torchvision:densenet121", "torchvision:vgg11",
               "torchvision:googlenet", "torchvision:mobilenet_v2"]


def _cases():
    for name in [n for n, p in presets().items() if not p.exercise] + TORCHVISION:
        spec = resolve(name)
        with torch.device("meta"):
            model = build_model(spec)
        for style in styles_for(model):
            yield pytest.param(name, style, id=f"{name}-{style}")


def _exec(code: str) -> torch.nn.Module:
    ns: dict = {"__name__": "generated"}
    with torch.device("meta"):
        exec(compile(code, "<generated>", "exec"), ns)  # noqa: S102 - the point of the test
    return ns["net"]


def _shapes(m: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


@pytest.mark.parametrize("name,style", list(_cases()))
def test_generated_code_builds_the_same_model(name: str, style: str) -> None:
    spec = resolve(name)
    with torch.device("meta"):
        ref = build_model(spec)
    code = generate(spec, style, model=ref)
    net = _exec(code)
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in ref.parameters())
    if style != "sequential":  # the positional style renames children 0, 1, 2 …
        assert _shapes(net) == _shapes(ref)
    x = torch.empty(spec.batch, *spec.input_shape, device="meta")
    ref.eval()
    net.eval()
    with torch.no_grad():
        assert tuple(net(x).shape) == tuple(ref(x).shape)


def test_sequential_styles_only_for_sequential_models() -> None:
    assert styles_for(build_model(resolve("lenet"))) == STYLES
    with torch.device("meta"):
        resnet = build_model(resolve("resnet18"))
    assert styles_for(resnet) == ("class",)
    with pytest.raises(CodegenError, match="only the class style"):
        generate(resolve("resnet18"), "sequential", model=resnet)


def test_code_reads_like_d2l() -> None:
    code = generate(resolve("lenet"), "sequential")
    assert "nn.Conv2d(1, 6, kernel_size=5, padding=2)" in code
    assert "nn.AvgPool2d(kernel_size=2, stride=2)" in code
    assert "nn.Linear(400, 120)" in code
    assert "61,706 parameters" in code
    cls = generate(resolve("resnet18"), "class")
    assert "class ResNet18(nn.Module):" in cls and "def forward(self, x):" in cls
    assert " + " in cls  # the residual addition is in forward


def test_knob_changes_reach_the_code() -> None:
    spec = resolve("densenet", {"growth_rate": "16", "blocks": "2,2"})
    code = generate(spec, "class")
    assert "growth_rate=16" in code.splitlines()[0]
    net = _exec(code)
    with torch.device("meta"):
        ref = build_model(spec)
    assert _shapes(net) == _shapes(ref)
