"""Numbers stay right beyond the seed zoo (issue #10): attention, tuple outputs, unpooling,
transposed convolutions, padding layers, per-axis receptive fields, uncounted ops said so,
and block stories that agree with the numbers of the same block."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from test_analysis import gradient_extent, positive_linear_copy
from vizapp.analysis import analyze, analyze_spec
from vizapp.zoo import presets, resolve


def flop_macs(model: nn.Module, x: torch.Tensor) -> int:
    c = FlopCounterMode(display=False)
    with c, torch.no_grad():
        model(x)
    return c.get_total_flops() // 2


# ----------------------------------------------------------------------------- attention
class ConvAttention(nn.Module):
    """Conv2d → tokens → MultiheadAttention → Linear, the small custom net of the issue."""

    def __init__(self, e: int = 32, heads: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, e, 4, stride=4)
        self.attn = nn.MultiheadAttention(e, heads, batch_first=True)
        self.head = nn.Linear(e, 10)

    def forward(self, x):
        t = self.conv(x).flatten(2).transpose(1, 2)
        y, _ = self.attn(t, t, t, need_weights=False)
        return self.head(y.mean(1))


def manual_attention_macs(m: nn.MultiheadAttention, x: torch.Tensor) -> int:
    """The same attention written with explicit matmuls, counted by FlopCounterMode."""
    e, h = m.embed_dim, m.num_heads

    def run():
        q, k, v = F.linear(x, m.in_proj_weight, m.in_proj_bias).chunk(3, dim=-1)
        n, L, _ = q.shape
        q, k, v = (t.reshape(n, L, h, e // h).transpose(1, 2) for t in (q, k, v))
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(e // h), -1)
        return F.linear((w @ v).transpose(1, 2).reshape(n, L, e), m.out_proj.weight,
                        m.out_proj.bias)

    c = FlopCounterMode(display=False)
    with c, torch.no_grad():
        run()
    return c.get_total_flops() // 2


def test_attention_is_a_row_with_its_macs():
    model = ConvAttention().eval()
    a = analyze(model, (3, 32, 32), 2)
    assert a.ok
    attn = next(n for n in a.nodes if n.module_path == "attn")
    assert attn.output_shape == (2, 64, 32)
    assert attn.params == sum(p.numel() for p in model.attn.parameters())
    tokens = model.conv(torch.zeros(2, 3, 32, 32)).flatten(2).transpose(1, 2)
    assert attn.macs == manual_attention_macs(model.attn, tokens)
    assert "attn" in [r.name for r in a.rows(1)]
    assert a.output_shape == tuple(model(torch.zeros(2, 3, 32, 32)).shape)


@pytest.mark.parametrize("name", ["vit_b_16", "vit_b_32"])
def test_vit_matches_published_ops(name):
    import torchvision

    a = analyze_spec(resolve(f"torchvision:{name}"))
    meta = next(iter(torchvision.models.get_model_weights(name))).meta
    assert a.total_params == meta["num_params"]
    assert abs(a.total_macs / 1e9 / meta["_ops"] - 1) < 0.02
    assert any(r.type == "MultiheadAttention" for r in a.rows(4))


# ----------------------------------------------------------------------------- tuple outputs
class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(1, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.dec = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, x):
        y, idx = self.pool(self.enc(x))
        x = F.pad(self.pad(self.unpool(y, idx)), (1, 0, 1, 0))
        return self.dec(self.up(x))


class LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.rnn = nn.LSTM(26 * 4, 16, batch_first=True)

    def forward(self, x):
        out, _ = self.rnn(self.conv(x).permute(0, 2, 1, 3).flatten(2))
        return out


def test_autoencoder_shapes_and_macs_match_execution():
    model = AutoEncoder().eval()
    x = torch.zeros(2, 1, 28, 28)
    a = analyze(model, (1, 28, 28), 2)
    assert a.ok, a.failure
    assert a.output_shape == tuple(model(x).shape)
    assert a.total_macs == flop_macs(model, x)
    shapes = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(
        n, tuple((o[0] if isinstance(o, tuple) else o).shape)))
        for n, m in model.named_children()]
    model(x)
    for h in hooks:
        h.remove()
    by_path = {n.module_path: n.output_shape for n in a.nodes if n.module_path}
    assert {k: by_path[k] for k in shapes} == shapes
    unpool = next(n for n in a.nodes if n.module_path == "unpool")
    assert set(unpool.inputs) == {"pool"}  # both getitems of the pool's tuple lead back to it
    up = next(n for n in a.nodes if n.module_path == "up")
    assert up.rf is None and up.rf_note  # said, not silently missing


def test_lstm_is_a_row_with_its_macs():
    a = analyze(LSTMHead(), (1, 28, 28), 1)
    assert a.ok and a.output_shape == (1, 26, 16)
    rnn = next(n for n in a.nodes if n.module_path == "rnn")
    steps, features, hidden = 26, 26 * 4, 16  # 4 gates, each (input + hidden) × hidden
    assert rnn.macs == steps * 4 * hidden * (features + hidden) and not rnn.macs_note
    assert rnn.params == sum(p.numel() for p in LSTMHead().rnn.parameters())


class BilinearHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.mix = nn.Bilinear(8, 8, 4)

    def forward(self, x):
        t = self.conv(x).flatten(1)
        return self.mix(t[:, :8], t[:, 8:16])


def test_uncounted_op_is_said_everywhere():
    from vizapp.cli.table import format_text

    a = analyze(BilinearHead(), (1, 6, 6), 1)
    assert a.ok and a.output_shape == (1, 4)
    mix = next(n for n in a.nodes if n.module_path == "mix")
    assert mix.macs == 0 and "Bilinear" in mix.macs_note
    assert a.uncounted and a.macs_text("1") == "≥ 1"
    d = a.to_dict(1)
    row = next(r for r in d["rows"] if r["name"] == "mix")
    assert row["macs"] is None and "Bilinear" in row["macs_note"]
    assert d["total_macs_complete"] is False
    text = format_text(a, 1)
    assert "MACs: ≥ " in text and "not counted: MACs not counted for Bilinear" in text
    assert "uncounted" not in analyze(ConvAttention(), (3, 32, 32)).to_dict()


# ----------------------------------------------------------------------------- receptive fields
class CrossBranches(nn.Module):
    """An Inception-style split: 1×3 and 3×1 branches concatenated, then a 3×3 conv."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 2, (1, 3), padding=(0, 1))
        self.b = nn.Conv2d(1, 2, (3, 1), padding=(1, 0))
        self.c = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x):
        return self.c(torch.cat([self.a(x), self.b(x)], 1))


class SamePad(nn.Module):
    """TF "SAME" style asymmetric padding before a stride-2 conv, then F.pad."""

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.conv = nn.Conv2d(1, 2, 3, stride=2)
        self.conv2 = nn.Conv2d(2, 2, 3)

    def forward(self, x):
        return self.conv2(F.pad(self.conv(self.pad(x)), (1, 1, 1, 1)))


@pytest.mark.parametrize("model", [CrossBranches(), SamePad()], ids=["cross", "same_pad"])
def test_receptive_field_per_axis_and_through_padding(model):
    shape = (1, 33, 33)
    a = analyze(model, shape, 1)
    rf = [n for n in a.nodes if n.category == "output"][0].rf
    assert rf is not None
    out = a.output_shape
    yx = (out[2] // 2, out[3] // 2)
    eh, ew, ch, cw = gradient_extent(positive_linear_copy(model), shape, yx)
    assert (eh, ew) == rf.size
    assert (ch, cw) == (rf.start[0] + yx[0] * rf.jump[0], rf.start[1] + yx[1] * rf.jump[1])


# ----------------------------------------------------------------------------- words
def _stories():
    for name in presets():
        a = analyze_spec(resolve(name))
        for b in a.blocks:
            yield name, a, b


def test_shortcut_words_agree_with_the_block_numbers():
    checked = 0
    for name, a, b in _stories():
        adds = [a.node(i) for i in b.nodes if a.node(i).shortcut is not None]
        for n in adds:
            x, y = n.input_shapes
            changes = len(b.input_shapes) and b.input_shapes[0] != b.output_shape
            if n.shortcut.projection:
                assert n.shortcut.layer and "1×1 convolution" in n.explanation, (name, b.path)
            else:
                assert x == y and "identity" in n.explanation, (name, b.path)
            checked += 1
        if len(adds) == 1 and b.input_shapes and b.input_shapes[0] != b.output_shape:
            assert "projection" in b.explanation or "1×1 convolution" in b.explanation, \
                (name, b.path, b.explanation)
            assert "identity" not in b.explanation, (name, b.path)
    assert checked > 50


def test_inception_and_dense_sums_agree_with_channels():
    g = analyze_spec(resolve("googlenet"))
    for b in g.blocks:
        cats = [g.node(i) for i in b.nodes if g.node(i).op == "cat"]
        if cats:
            assert "dense" not in b.explanation, b.path
    inc = next(b for b in g.blocks if b.type == "Inception")
    parts = dict(g.node(next(i for i in inc.nodes if g.node(i).op == "cat")).attrs)["parts"]
    assert sum(parts) == inc.output_shape[1]
    assert " + ".join(map(str, parts)) + f" = {sum(parts)}" in inc.explanation
    d = analyze_spec(resolve("densenet"))
    blk = d.block("dense_block_0")
    c0, L = blk.input_shapes[0][1], 4
    k = (blk.output_shape[1] - c0) // L
    assert f"c₀ + L·k = {c0} + {L}·{k} = {blk.output_shape[1]}" in blk.explanation


def test_stem_story_names_every_downsampling_layer():
    a = analyze_spec(resolve("resnet18"))
    b1 = a.block("b1")
    assert "MaxPool" in b1.explanation and "Conv2d" in b1.explanation
    assert f"(÷{b1.input_shapes[0][2] // b1.output_shape[2]})" in b1.explanation


# ----------------------------------------------------------------------------- every builder
def _builders() -> list[str]:
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


@pytest.mark.parametrize("name", _builders())
def test_every_torchvision_classifier_matches_its_published_figures(name):
    """Parameters exact, MACs within 2% of ``meta["_ops"]`` (GFLOPs as torchvision counts
    multiply–accumulates), at the input size of the builder's weights — all 80 builders."""
    import torchvision

    meta = next(iter(torchvision.models.get_model_weights(name))).meta
    a = analyze_spec(resolve(f"torchvision:{name}"))
    assert a.ok, a.failure
    assert a.total_params == meta["num_params"]
    assert not a.uncounted
    assert abs(a.total_macs / 1e9 / meta["_ops"] - 1) < 0.02, (a.total_macs, meta["_ops"])


# ----------------------------------------------------------------------------- the seed as written
def test_resized_linear_is_said_on_the_row():
    a = analyze_spec(resolve("lenet", {"height": 32, "width": 32}))
    fc1 = next(r for r in a.rows(1) if r.name == "fc1")
    assert "the seed writes in_features = 400" in fc1.explanation
    assert "16·6·6 = 576" in fc1.explanation and "32×32" in fc1.explanation
    plain = analyze_spec(resolve("lenet"))
    assert "Resized" not in next(r for r in plain.rows(1) if r.name == "fc1").explanation


def test_seed_as_written_fails_like_pytorch_and_gives_the_valid_range():
    from vizapp.zoo import build_model

    spec = resolve("lenet", {"height": 32, "width": 32, "fit_input": "false"})
    a = analyze_spec(spec)
    assert a.failure is not None and a.failure.module_path == "fc1"
    with pytest.raises(RuntimeError) as exc:
        build_model(spec)(torch.zeros(1, 1, 32, 32))
    assert str(exc.value).splitlines()[0] in a.failure.message  # PyTorch's own words
    assert "16·6·6" in a.failure.message and "≠ 400" in a.failure.message
    lo, hi = a.failure.valid_inputs
    model = build_model(spec).eval()
    for side in (lo, hi):
        model(torch.zeros(1, 1, side, side))  # runs
    for side in (lo - 1, hi + 1):
        with pytest.raises(RuntimeError):
            model(torch.zeros(1, 1, side, side))
    assert a.failure.min_input == (lo, lo)


def test_alexnet_as_written_does_not_claim_65():
    from vizapp.zoo import build_model

    a = analyze_spec(resolve("alexnet", {"height": 28, "width": 28, "fit_input": "false"}))
    lo, hi = a.failure.valid_inputs
    assert lo > 65 and lo <= 224 <= hi
    model = build_model(resolve("alexnet", {"height": lo, "width": lo,
                                            "fit_input": "false"})).eval()
    model(torch.zeros(1, 1, lo, lo))
    with pytest.raises(RuntimeError):
        model(torch.zeros(1, 1, lo - 1, lo - 1))


def test_dense_rows_show_the_concatenations():
    a = analyze_spec(resolve("densenet"))
    rows = a.rows(2)
    names = [r.name for r in rows]
    i = names.index("dense_block_0.net.0")
    cat = rows[i + 1]
    assert cat.type == "cat" and cat.output_shape[1] == rows[i - 1].output_shape[1] + \
        rows[i].output_shape[1]
    assert "dense_block_0.net" not in names


def test_a_configuration_is_labelled_by_what_it_is_now():
    from vizapp.zoo import presets

    spec = resolve("resnet18", {"block": "bottleneck", "blocks": "3,4,6,3"})
    name, _, rest = spec.label.partition(" (")
    # the preset the link named (a nearer preset was named before: "resnet34 (…)" for a link
    # that said resnet18 confused the class; spec.near() says which presets are that close)
    assert name == "resnet18"
    base = presets()[name].config  # the preset it is named after differs only where it says
    said = {part.split("=")[0] for part in rest.rstrip(")").split(", ") if part}
    differs = {k.name for k in base.knobs() if getattr(base, k.name) != getattr(spec.config, k.name)
               and k.name not in ("batch", "height", "width", "in_channels")}
    assert said == differs
    assert resolve("lenet", {"batch_norm": "true", "conv1_padding": "0"}).label == "lenet-bn"


# ----------------------------------------------------------------------------- RF oracle, families
def _prefix(name: str):
    """A stem-and-first-stages prefix of a torchvision model whose field fits in the image."""
    import torchvision

    kw = {"aux_logits": False, "init_weights": False} if name in ("googlenet",
                                                                     "inception_v3") else {}
    m = torchvision.models.get_model(name, weights=None, **kw)
    take = {"resnet18": (None, 6, 160), "resnext50_32x4d": (None, 5, 128),
            "vgg11": ("features", 11, 128), "densenet121": ("features", 6, 160),
            "googlenet": (None, 7, 160), "mobilenet_v2": ("features", 7, 128),
            "squeezenet1_1": ("features", 7, 160),
            "inception_v3": (None, 12, 383)}  # to Mixed_6b: its 1×7 and 7×1 branches
    if name == "regnet_x_400mf":
        return nn.Sequential(m.stem, m.trunk_output[0]), 128
    sub, k, side = take[name]
    return nn.Sequential(*list((getattr(m, sub) if sub else m).children())[:k]), side


@pytest.mark.parametrize("name", ["resnet18", "resnext50_32x4d", "vgg11", "densenet121",
                                  "googlenet", "mobilenet_v2", "squeezenet1_1", "inception_v3",
                                  "regnet_x_400mf"])
def test_receptive_field_matches_gradients_on_torchvision_families(name, monkeypatch):
    """Per axis, the field equals the input-gradient extent of a central output pixel in a
    positive, linear copy (max → average pooling, functional max pools included)."""
    model, side = _prefix(name)
    model.eval()
    a = analyze(model, (3, side, side), 1)
    rf = [n for n in a.nodes if n.category == "output"][0].rf
    out = a.output_shape
    yx = (out[2] // 2, out[3] // 2)
    monkeypatch.setattr(F, "max_pool2d", lambda x, kernel_size, stride=None, padding=0, *r,
                        **kw: F.avg_pool2d(x, kernel_size, stride, padding,
                                           count_include_pad=True))
    eh, ew, ch, cw = gradient_extent(positive_linear_copy(model), (3, side, side), yx)
    assert (eh, ew) == rf.size
    assert (ch, cw) == (rf.start[0] + yx[0] * rf.jump[0], rf.start[1] + yx[1] * rf.jump[1])
