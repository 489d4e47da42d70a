"""Two ways to write the formula (components/formula.py): the panel's arithmetic, both forms,
against the analysis' own output shapes for every conv/pool of ResNet-18, AlexNet and
GoogLeNet; PyTorch's form against torch itself where dilation makes the seed's form wrong."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from components import formula
from vizapp.analysis.core import analyze_spec
from vizapp.zoo import resolve


@pytest.mark.parametrize("model", ["resnet18", "alexnet", "googlenet"])
def test_both_forms_give_every_window_ops_output(model: str) -> None:
    a = analyze_spec(resolve(model))
    windows = [n for n in a.nodes if n.op in formula.WINDOW_OPS]
    assert len(windows) >= 5
    for n in windows:
        ws = formula.worked(n)
        assert [w.axis for w in ws] == ["H", "W"], n.id
        for w, out in zip(ws, n.output_shape[2:]):
            assert w.d == 1
            assert w.seed == out and w.pytorch == out, (n.id, w, n.output_shape)
            assert w.seed_text().endswith(f"= {out}") and w.pytorch_text().endswith(f"= {out}")


def test_first_conv_of_resnet18_worked_with_its_numbers() -> None:
    n = formula.first_conv(analyze_spec(resolve("resnet18")))
    w = formula.worked(n)[0]
    assert (w.h, w.k, w.s, w.p, w.d) == (224, 7, 2, 3, 1)
    assert w.seed_text() == "(H − K + 2P)/S + 1 = ⌊(224 − 7 + 2·3)/2⌋ + 1 = ⌊223/2⌋ + 1 = 112"
    assert w.pytorch_text() == ("⌊(H + 2P − D·(K−1) − 1)/S⌋ + 1 = ⌊(224 + 2·3 − 1·(7−1) − 1)/2⌋ + 1"
                                " = ⌊223/2⌋ + 1 = 112")


@pytest.mark.parametrize("h, k, s, p, d", [(28, 3, 1, 1, 2), (32, 5, 2, 0, 3), (17, 3, 2, 2, 1),
                                           (9, 4, 3, 1, 2)])
def test_pytorch_form_matches_torch_and_seed_only_when_d_is_1(h, k, s, p, d) -> None:
    real = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)(torch.zeros(1, 1, h, h)).shape[2]
    assert formula.pytorch_form(h, k, s, p, d) == real
    assert (formula.seed_form(h, k, s, p) == real) == (d == 1 or k == 1)
    pool = nn.MaxPool2d(k, stride=s, padding=min(p, k // 2), ceil_mode=True)
    real_ceil = pool(torch.zeros(1, 1, h, h)).shape[2]
    assert formula.pytorch_form(h, k, s, min(p, k // 2), 1, ceil=True) == real_ceil


def test_shapes_page_shows_the_panel_with_the_models_numbers() -> None:
    from pathlib import Path
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "vizapp" / "main.py"),
                           default_timeout=120)
    at.query_params["model"] = "resnet18"
    at.run()
    at.switch_page("app_pages/shapes.py").run()
    assert not at.exception, [e.value for e in at.exception]
    exp = [e for e in at.expander if e.label.startswith("Two ways to write the formula")]
    assert len(exp) == 1
    codes = [c.value for c in exp[0].code]
    assert any("⌊(224 − 7 + 2·3)/2⌋ + 1 = ⌊223/2⌋ + 1 = 112" in c for c in codes), codes
    text = " ".join(m.value for m in exp[0].markdown)
    assert "D·(K−1) + 1" in text and "**jump**" in text and "**RF**" in text
