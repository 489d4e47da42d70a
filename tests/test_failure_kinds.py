"""Errors that name the real bug: each kind of shape failure gets its own headline,
explanation and fix, in both languages (every failure was headed "The input is too small for
this network" before — also a Linear in_features mismatch and a channel mismatch)."""

from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from vizapp import i18n
from vizapp.analysis import analyze, analyze_spec
from vizapp.custom import url
from vizapp.zoo import resolve
from tests.test_app import MAIN


class AddMismatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(x) + x


class CatMismatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return torch.cat([self.conv(x), x], 1)


class BadView(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), 7, -1, 5)


def test_each_kind_is_classified_from_fields():
    assert analyze_spec(resolve("alexnet", {"height": "28", "width": "28"})).failure.kind == \
        "too_small"
    f = analyze_spec(resolve("lenet-bug")).failure
    assert f.kind == "linear_features" and f.features == (400, 256)
    first = analyze(nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU()), (1, 28, 28)).failure
    assert first.kind == "channels"
    assert "set the input channels to 3" in first.fix and "previous layer" not in first.fix
    later = analyze(nn.Sequential(nn.Conv2d(1, 6, 5), nn.Conv2d(3, 6, 3)), (1, 28, 28)).failure
    assert later.kind == "channels" and "make the previous layer output 3 channels" in later.fix
    assert analyze(AddMismatch(), (3, 8, 8)).failure.kind == "join"
    assert analyze(CatMismatch(), (3, 8, 8)).failure.kind == "join"
    assert analyze(BadView(), (3, 8, 8)).failure.kind == "reshape"


HEADLINES = {
    "lenet-bug": ("A Linear layer expects a different number of features",
                  "全连接层期望的特征数与实际不同"),
    "alexnet": ("The input is too small for this network", None),
    "channels": ("A layer expects a different number of channels", "某一层期望的通道数与实际不同"),
}


@pytest.mark.parametrize("case", list(HEADLINES))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shapes_page_headline_per_kind(case, lang):
    query = {"lenet-bug": {"model": "lenet-bug"},
             "alexnet": {"model": "alexnet", "input": "1,28,28"},
             "channels": {"model": "seed003-sequential", "input": "1,6,6",
                          "code": url.encode("net = nn.Sequential(nn.Conv2d(3, 4, 3), "
                                             "nn.Flatten())")}}[case]
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update({**query, "lang": lang})
    at.run()
    at.switch_page("app_pages/shapes.py").run()
    assert not at.exception, [e.value for e in at.exception]
    heads = [m.value for m in at.markdown if m.value.startswith("#### :material/block:")]
    en, zh = HEADLINES[case]
    if lang == "en":
        assert heads and en in heads[0], heads
        assert "too small" not in heads[0] or case == "alexnet"
    else:
        with i18n.using("zh"):
            expected = zh or i18n._(en)
        assert heads and expected in heads[0] and not any(c.isascii() and c.isalpha()
                                                         for c in expected), heads
