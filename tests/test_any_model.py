"""Any model: no crash, always the output shape.

``vizapp.analyze(model, input_shape)`` raises nothing but :class:`AnalysisError`; a block story
uses only the facts its nodes have (a node with a 2-D input says nothing about H×W); the output
shape is filled however ``forward`` packs its result (a tensor, a tuple, a named tuple, a dict);
extra ``forward`` arguments keep their defaults; the forward-hook capture counts the MACs of the
functional ops between modules. And a broad sample of timm's families (one small variant each,
random weights on the meta device, nothing downloaded) comes out with its exact parameter
count, the output shape of a real forward and its MACs within 2% of
``torch.utils.flop_counter``."""

from __future__ import annotations

import collections
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from vizapp import i18n
from vizapp.analysis import AnalysisError, analyze
from vizapp.analysis.consistency import problems


def counted_macs(model: nn.Module, x: torch.Tensor) -> tuple[int, torch.Tensor]:
    """MACs of one forward as ``FlopCounterMode`` counts them (FLOPs / 2), and its output.

    Attention runs through the math backend: written as matmuls, which the counter counts
    on every device (its fused CPU kernel is one the counter has no formula for). Weights
    stop requiring grad for the count (the counter's module tracker otherwise hooks autograd
    on a parameter passed as an input, e.g. PiT's position embedding, and fails on meta)."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.requires_grad_(False)
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH):
            y = model(x)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    return counter.get_total_flops() // 2, y


def first_tensor(v):
    if isinstance(v, torch.Tensor):
        return v
    for x in (v.values() if isinstance(v, dict) else v):
        t = first_tensor(x)
        if t is not None:
            return t
    return None


# ----------------------------------------------------------------------------- block stories
class Gated(nn.Module):
    """A strided conv gated by its own channel attention (what ResNeSt's split-attention
    block does): inside the block a Linear sees an N×C tensor, and a view turns it back
    into N×C×1×1 — a node with a 2-D input in a block that shrinks H×W."""

    def __init__(self, c: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.fc = nn.Linear(c, c)

    def forward(self, x):
        y = self.conv(x)
        s = self.fc(y.mean((2, 3))).sigmoid().view(-1, y.shape[1], 1, 1)
        return y * s


class GatedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.gate = Gated()
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.gate(self.stem(x)).mean((2, 3)))


def test_a_block_story_uses_only_the_dims_its_nodes_have():
    a = analyze(GatedNet().eval(), (3, 16, 16), 2)
    assert a.ok and a.output_shape == (2, 10)
    gate = next(b for b in a.blocks if b.path == "gate")
    assert gate.input_shapes == ((2, 8, 16, 16),) and gate.output_shape == (2, 8, 8, 8)
    # the shrinking layer is named with its own H; the 2-D → 4-D view is not counted as one
    assert "H×W 16×16 → 8×8" in gate.explanation and "Conv2d" in gate.explanation
    assert "view" not in gate.explanation.split("by ", 1)[-1]


# ----------------------------------------------------------------------------- the one error
def test_analyze_raises_only_its_own_error_and_says_why():
    with pytest.raises(AnalysisError, match="torch.nn.Module"):
        analyze("resnet18", (3, 32, 32))
    with pytest.raises(AnalysisError, match="positive"):
        analyze(GatedNet(), (3, 0, 16))
    with pytest.raises(AnalysisError, match="whole numbers"):
        analyze(GatedNet(), ("three", 16, 16))
    with pytest.raises(ValueError):  # callers that caught ValueError still do
        analyze(GatedNet(), (3, -1, 16))


def test_an_internal_error_becomes_an_analysis_error_naming_the_cause(monkeypatch):
    from vizapp.analysis import assemble

    def broken(*args, **kwargs):
        raise IndexError("tuple index out of range")

    monkeypatch.setattr(assemble, "block_story", broken)
    with pytest.raises(AnalysisError) as info:
        analyze(GatedNet(), (3, 16, 16), name="GatedNet")
    text = str(info.value)
    assert "GatedNet" in text and "IndexError: tuple index out of range" in text
    assert isinstance(info.value.__cause__, IndexError)  # the traceback is kept for a report
    with i18n.using("zh"):  # shown in the reader's language
        assert "内部错误" in str(info.value) and "IndexError" in str(info.value)


# ----------------------------------------------------------------------------- the output shape
Pair = collections.namedtuple("Pair", "logits aux")


class Packed(nn.Module):
    """``forward`` returns its logits packed as ``pack`` says, the input beside them."""

    def __init__(self, pack: str):
        super().__init__()
        self.pack = pack
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = self.fc(self.conv(x).mean((2, 3)))
        if self.pack == "dict":
            return {"logits": y, "features": x}
        if self.pack == "tuple":
            return y, x
        if self.pack == "namedtuple":
            return Pair(y, x)
        return [{"nested": (y,)}]


@pytest.mark.parametrize("pack", ["dict", "tuple", "namedtuple", "nested"])
def test_the_output_shape_is_found_however_forward_packs_it(pack):
    a = analyze(Packed(pack).eval(), (3, 16, 16), 2)
    assert a.ok and a.output_shape == (2, 10)
    out = a.nodes[-1]
    assert out.op == "output" and out.output_shape == (2, 10)
    # drawn from the step that made it (fx records building the named tuple as a step)
    assert out.inputs[0] == ("pair" if pack == "namedtuple" else "fc")
    assert problems(a, (2, 3, 16, 16)) == []


class Defaults(nn.Module):
    """Extra forward() arguments with defaults, as timm's ViTs have (``attn_mask=None,
    is_causal=False``): the analysis runs them with those defaults, not with None."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(16, 48)

    def forward(self, x, attn_mask=None, is_causal: bool = False, scale: float = 2.0):
        t = x.flatten(2).transpose(1, 2)
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        return y.mean(1) * scale


def test_extra_forward_arguments_keep_their_defaults():
    a = analyze(Defaults().eval(), (16, 4, 4))
    assert a.ok, a.failure
    assert a.output_shape == (1, 16)


class Untraceable(nn.Module):
    """fx cannot trace it (Python branches on a value); attention written as functional
    matmuls between two Linears, and a functional op after the last module."""

    def __init__(self, e: int = 16):
        super().__init__()
        self.qkv = nn.Linear(e, 3 * e)
        self.proj = nn.Linear(e, e)

    def forward(self, x):
        t = x.flatten(2).transpose(1, 2)
        if t.shape[1] > 0 and bool(torch.ones(()) > 0):
            q, k, v = self.qkv(t).chunk(3, dim=-1)
            w = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
            t = self.proj(w @ v)
        return t.flatten(1)[:, None]


def test_the_hooks_capture_counts_functional_macs_and_the_real_output_shape():
    model = Untraceable().eval()
    a = analyze(model, (16, 4, 4), 2)
    assert a.method == "hooks" and a.ok
    macs, y = counted_macs(model, torch.zeros(2, 16, 4, 4))
    assert a.output_shape == tuple(y.shape) == (2, 1, 256)
    assert a.total_macs == macs
    between = [n for n in a.nodes if n.label.startswith("functional ops")]
    assert sum(n.macs for n in between) == 2 * 2 * 16 * 16 * 16  # q·kᵀ and w·v, batch 2


# ----------------------------------------------------------------------------- timm's families
# one small variant per family (and the three ViTs of the issue); each builds on meta in
# < 0.2 s and analyses in < 0.5 s here. Left out: sequencer2d (its LSTMs run step by step on
# meta: 3.5 s for one model).
TIMM_MODELS = [
    "resnest14d", "resnet18d", "seresnext26d_32x4d", "res2net50_14w_8s", "skresnet18",
    "resnetv2_50x1_bit", "nf_resnet26", "regnetx_002", "regnetz_b16", "densenet121",
    "dla34", "dpn68", "hrnet_w18_small", "cspresnet50", "darknet53", "vovnet39a", "tresnet_m",
    "inception_v3", "xception41", "efficientnet_b0", "mobilenetv3_small_100",
    "mobilenetv4_conv_small", "ghostnet_100", "rexnet_100", "repvgg_a0", "convnext_atto",
    "mambaout_femto", "poolformer_s12", "vit_tiny_patch16_224", "deit3_small_patch16_224",
    "flexivit_small", "vit_base_patch8_224", "deit3_base_patch16_224", "flexivit_base",
    "beit_base_patch16_224", "eva02_tiny_patch14_224", "cait_xxs24_224", "pit_ti_224",
    "levit_128s", "swin_tiny_patch4_window7_224", "maxvit_tiny_rw_224", "coatnet_0_rw_224",
    "mixer_b16_224", "resmlp_12_224", "mobilevit_xxs", "efficientvit_b0", "convit_tiny",
    "crossvit_tiny_240", "botnet26t_256", "halonet26t",
]


@pytest.fixture(scope="module")
def timm():
    return pytest.importorskip("timm", reason="timm is a test-only dependency: "
                                              "pip install -e '.[test]'")


@pytest.mark.slow
@pytest.mark.parametrize("name", TIMM_MODELS)
def test_timm_family_params_output_and_macs(timm, name):
    with torch.device("meta"):  # random weights, never downloaded; no memory for them
        model = timm.create_model(name, pretrained=False).eval()
    size = tuple(model.pretrained_cfg.get("input_size", (3, 224, 224)))
    a = analyze(model, size, name=name)
    assert a.ok, a.failure
    assert problems(a, (1, *size)) == []
    assert a.total_params == sum(p.numel() for p in model.parameters())
    macs, y = counted_macs(model, torch.empty((1, *size), device="meta"))
    assert a.output_shape == tuple(first_tensor(y).shape)
    assert not [n.id for n in a.nodes if n.macs_note], "a layer's MACs were not counted"
    assert a.total_macs == pytest.approx(macs, rel=0.02)


def test_timm_vit_at_the_wrong_size_names_the_sizes(timm):
    """flexivit_base is built for 240×240: at 224 it fails where timm's own check does, and
    the message shows the numbers (not fx's ``Proxy(getitem_2)``)."""
    with torch.device("meta"):
        model = timm.create_model("flexivit_base", pretrained=False)
    a = analyze(model, (3, 224, 224))
    assert a.failure is not None and a.failure.module_path == "patch_embed"
    assert "Input height (224) doesn't match model (240)" in a.failure.message
    assert "Proxy" not in a.failure.message
