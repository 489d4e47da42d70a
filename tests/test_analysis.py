"""The analysis core: every number cross-checked against an independent computation.

- shapes: arithmetic rules vs fx ShapeProp on meta tensors (and vs real forwards in test_zoo)
- MACs: rules vs torch.utils.flop_counter, and vs torchvision's published GFLOPS
- params: vs torchvision's published num_params
- receptive fields: vs the non-zero extent of an input gradient in a positive linear copy
"""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vizapp.analysis import analyze, analyze_spec, verify_with_meta
from vizapp.analysis.core import build_for_analysis
from vizapp.zoo import presets, resolve

TV_MODELS = ["resnet18", "resnet50", "densenet121", "vgg16", "googlenet", "mobilenet_v2"]


def meta_flops(model: nn.Module, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(torch.empty(shape, device="meta"))
    return counter.get_total_flops()


def meta_model(name: str) -> nn.Module:
    with torch.device("meta"):
        return torchvision.models.get_model(name)


# ----------------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", [n for n, p in presets().items() if not p.exercise])
def test_preset_rules_agree_with_meta_execution_and_flop_counter(name):
    spec = resolve(name)
    model, _ = build_for_analysis(spec)
    a = analyze(model, spec.input_shape, spec.batch)
    assert a.ok, a.failure
    assert verify_with_meta(model, a) == []
    full = (spec.batch,) + spec.input_shape
    assert 2 * a.total_macs == meta_flops(model, full)
    assert a.total_params == sum(p.numel() for p in model.parameters())
    # every row has its worked arithmetic
    for row in a.rows(99):
        assert row.explanation, row.name


# ----------------------------------------------------------------------------- torchvision
@pytest.mark.parametrize("name", TV_MODELS)
def test_torchvision_published_params_and_gmacs(name):
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    a = analyze_spec(resolve(f"torchvision:{name}"))
    assert a.ok
    assert a.total_params == meta["num_params"]
    assert a.total_macs / 1e9 == pytest.approx(meta["_ops"], rel=0.02)


@pytest.mark.parametrize("name", TV_MODELS + ["inception_v3", "efficientnet_b0",
                                              "shufflenet_v2_x1_0", "convnext_tiny"])
def test_torchvision_rules_vs_meta_and_flop_counter(name):
    model = meta_model(name)
    shape = (3, 299, 299) if name == "inception_v3" else (3, 224, 224)
    a = analyze(model, shape, 2)
    assert a.ok
    assert verify_with_meta(model, a) == []
    assert 2 * a.total_macs == meta_flops(model, (2,) + shape)


def test_regnet_builds_without_weights_though_its_builder_computes_on_real_tensors():
    spec = resolve("torchvision:regnet_y_400mf")
    with pytest.raises(Exception):  # the plain meta build fails: the builder calls .tolist()
        with torch.device("meta"):
            torchvision.models.get_model("regnet_y_400mf", weights=None)
    model, notes = build_for_analysis(spec)
    assert not notes and all(p.is_meta for p in model.parameters())
    a = analyze_spec(spec)
    assert a.ok and a.output_shape == (1, 1000)
    assert a.total_params == torchvision.models.get_model_weights(
        "regnet_y_400mf").DEFAULT.meta["num_params"]


# ----------------------------------------------------------------------------- random layers
@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4),
       p=st.integers(0, 3), d=st.integers(1, 3), cin=st.integers(1, 4), g=st.sampled_from([1, 2]),
       kind=st.sampled_from(["conv", "max", "avg"]), ceil=st.booleans())
def test_window_rules_match_torch(h, w, k, s, p, d, cin, g, kind, ceil):
    if kind == "conv":
        layer = nn.Conv2d(cin * g, 2 * g, k, s, p, d, groups=g)
    elif kind == "max":
        if p > k // 2:
            p = k // 2
        layer = nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
    else:
        if p > k // 2:
            p = k // 2
        layer = nn.AvgPool2d(k, s, p, ceil_mode=ceil)
    model = nn.Sequential(layer)
    shape = (cin * g if kind == "conv" else cin, h, w)
    a = analyze(model, shape, 1, search_min_input=False)
    try:
        with torch.no_grad():
            real = model(torch.zeros((1,) + shape))
        expected = tuple(real.shape)
        if 0 in expected:
            expected = None
    except RuntimeError:
        expected = None
    if expected is None:
        assert not a.ok, f"rule accepted {shape} but torch rejects it"
    else:
        assert a.ok, a.failure
        assert a.output_shape == expected
        if kind == "conv":
            n, c, ho, wo = expected
            assert a.total_macs == n * c * ho * wo * cin * k * k


# ----------------------------------------------------------------------------- receptive field
def positive_linear_copy(model: nn.Module) -> nn.Module:
    """Same geometry, no non-linearities, all weights positive: the input gradient of one
    output pixel is non-zero exactly on its receptive field."""
    m = copy.deepcopy(model).double().eval()
    for name, mod in list(m.named_modules()):
        for cname, child in list(mod.named_children()):
            if isinstance(child, (nn.ReLU, nn.Sigmoid, nn.Tanh)):
                setattr(mod, cname, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                setattr(mod, cname, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                                 ceil_mode=child.ceil_mode,
                                                 count_include_pad=True))
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(0.1)
    return m


def gradient_extent(model: nn.Module, shape: tuple[int, int, int], yx: tuple[int, int]):
    x = torch.zeros((1,) + shape, dtype=torch.float64, requires_grad=True)
    out = model(x)
    out[0, :, yx[0], yx[1]].sum().backward()
    nz = (x.grad[0].abs().sum(0) > 0).nonzero()
    rows, cols = nz[:, 0], nz[:, 1]
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1),
            float(rows.min() + rows.max()) / 2, float(cols.min() + cols.max()) / 2)


class SkipNet(nn.Module):
    """A 3×3 main path next to a 1×1 shortcut: the merge takes the larger field."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 2, 3, padding=1)
        self.b = nn.Conv2d(2, 2, 5, stride=2, padding=2)
        self.short = nn.Conv2d(1, 2, 1, stride=2)
        self.pool = nn.MaxPool2d(3, 2, 1)

    def forward(self, x):
        return self.pool(torch.relu(self.b(self.a(x)) + self.short(x)))


@pytest.mark.parametrize("which", ["lenet", "skipnet", "alexnet_features", "resnet18_b3"])
def test_receptive_field_matches_gradient_extent(which):
    from vizapp.zoo import build_model

    if which == "lenet":  # conv-pool-conv-pool
        model = nn.Sequential(*list(build_model(resolve("lenet")).children())[:6])
        shape = (1, 64, 64)
    elif which == "skipnet":
        model, shape = SkipNet(), (1, 64, 64)
    elif which == "alexnet_features":  # up to the second max pool
        model = nn.Sequential(*list(build_model(resolve("alexnet")).children())[:6])
        shape = (1, 224, 224)
    else:  # d2l ResNet-18 stem + two stages (residual adds, 1×1 projections)
        model = nn.Sequential(*list(build_model(resolve("resnet18")).children())[:3])
        shape = (1, 160, 160)
    a = analyze(model, shape, 1)
    rf = [n for n in a.nodes if n.category == "output"][0].rf
    assert rf is not None
    out = a.output_shape
    yx = (out[2] // 2, out[3] // 2)
    eh, ew, ch, cw = gradient_extent(positive_linear_copy(model), shape, yx)
    # the field lies inside the image for a central pixel of a large enough input
    assert (eh, ew) == rf.size
    assert (ch, cw) == (rf.start[0] + yx[0] * rf.jump[0], rf.start[1] + yx[1] * rf.jump[1])


# ----------------------------------------------------------------------------- failures
def test_too_small_input_names_layer_and_minimum_size():
    a = analyze_spec(resolve("alexnet", {"height": 28, "width": 28}))
    assert not a.ok
    f = a.failure
    assert f.module_path and "smaller than" in f.message
    m = f.min_input
    assert m is not None
    # independent check: the minimum side works, one less fails (the zoo re-derives Linear)
    ok = analyze_spec(resolve("alexnet", {"height": m[0], "width": m[1]}))
    assert ok.ok
    bad = analyze_spec(resolve("alexnet", {"height": m[0] - 1, "width": m[1] - 1}))
    assert not bad.ok
    # the graph up to the failing node is still there
    assert a.nodes[-1].id == f.node and a.nodes[-1].output_shape is None
    assert a.rows(1)


def test_linear_in_features_mismatch_gives_the_needed_value():
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Flatten(), nn.Linear(100, 10))
    a = analyze(model, (1, 10, 10))
    assert not a.ok
    assert a.failure.module_path == "2"
    assert "expects 100 input features but gets 512" in a.failure.message
    assert "nn.Linear(512, 10)" in a.failure.fix


class BadResidual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)

    def forward(self, x):
        return self.conv(x) + x


def test_channel_mismatch_at_add_suggests_projection():
    a = analyze(BadResidual(), (3, 8, 8))
    assert not a.ok
    assert a.failure.op == "add"
    assert "6×8×8" in a.failure.message and "3×8×8" in a.failure.message
    assert "1×1 convolution" in a.failure.fix


def test_input_channel_mismatch():
    a = analyze_spec(resolve("lenet", {"in_channels": 1}))
    assert a.ok
    model = nn.Sequential(nn.Conv2d(3, 4, 3))
    bad = analyze(model, (1, 8, 8))
    assert "expects 3 input channels but gets 1" in bad.failure.message


# ----------------------------------------------------------------------------- robustness
class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = self.conv(x)
        if y.sum() > 0:  # fx cannot trace this
            y = y * 2
        return self.fc(y.mean((2, 3)))


def test_untraceable_model_falls_back_to_hooks():
    a = analyze(DataDependent(), (3, 16, 16))
    assert a.method == "hooks"
    assert any("forward hooks" in n for n in a.notes)
    convs = [n for n in a.nodes if n.op == "conv2d"]
    assert convs and convs[0].output_shape == (1, 4, 14, 14)
    # the functional mean between conv and fc is stood in for with its observed shape
    assert a.ok and a.output_shape == (1, 2)
    assert [n.output_shape for n in a.nodes if n.op == "linear"] == [(1, 2)]


def test_callers_model_is_not_modified():
    from vizapp.zoo import build_model
    model = build_model(resolve("lenet-bn")).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    analyze(model, (1, 28, 28), 2)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())


def test_resolution_does_not_change_the_work():
    model = meta_model("resnet152")
    small = analyze(model, (3, 224, 224))
    big = analyze(model, (3, 1024, 1024))
    assert len(small.nodes) == len(big.nodes)
    assert big.output_shape == (1, 1000)
    assert big.block("layer4").output_shape == (1, 2048, 32, 32)
    assert big.total_macs > 20 * small.total_macs  # ≈ (1024/224)² more arithmetic, not work


def test_shared_parameters_counted_once():
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    a = analyze(model, (4,), 1)
    assert a.total_params == 20
    assert sum(n.params for n in a.nodes) == 20


# ----------------------------------------------------------------------------- explanations
def test_worked_arithmetic_texts():
    vgg = analyze_spec(resolve("vgg11"))
    flat = [r for r in vgg.rows(1) if r.type == "Flatten"][0]
    assert "512·7·7 = 25,088" in flat.explanation or "512·7·7 = 25088" in flat.explanation
    g = analyze_spec(resolve("googlenet"))
    b3 = g.block("b3.0")
    assert "64 + 128 + 32 + 32 = 256" in b3.explanation
    d = analyze_spec(resolve("densenet"))
    db = [b for b in d.blocks if b.depth == 1 and b.type == "DenseBlock"][0]
    assert "64 + 4·32 = 192" in db.explanation
    r50 = analyze_spec(resolve("resnet50"))
    first = r50.block("b2.0")
    assert "1×1 keeps 64 channels" in first.explanation  # 64 in, width 64: nothing is reduced
    assert "expands ×4 to 64·4 = 256" in first.explanation
    r18 = analyze_spec(resolve("resnet18"))
    conv = r18.node(r18.block("b1").nodes[0])
    assert "⌊(224 + 2·3 − (7−1) − 1)/2⌋ + 1 = 112" in conv.explanation
    assert "7²·1·64 + 64 = 3,200" in conv.param_explanation
    proj = [b for b in r18.blocks if b.path == "b3.0"][0]
    assert "1×1 convolution" in proj.explanation


def test_residual_story_says_where_the_relu_is():
    """d2l's Residual returns F.relu(Y + X): the story writes the ReLU around the sum, as the
    graph draws it (the add feeds the ReLU); a block without it keeps F(x) + x."""
    r18 = analyze_spec(resolve("resnet18"))
    assert "output = ReLU(F(x) + x)" in r18.block("b2.0").explanation
    assert "output = ReLU(F(x) + shortcut(x))" in r18.block("b3.0").explanation
    add = next(r18.node(i) for i in r18.block("b2.0").nodes if r18.node(i).op == "add")
    relu = [c for c in r18.consumers()[add.id]]
    assert len(relu) == 1 and r18.node(relu[0]).op == "relu"

    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(x) + x

    a = analyze(torch.nn.Sequential(Plain(), Plain()), (4, 8, 8))
    assert "output = F(x) + x (identity" in a.block("0").explanation
    assert "ReLU(" not in a.block("0").explanation


# ----------------------------------------------------------------------------- labels
def test_labels_carry_the_settings() -> None:
    """A node's label says kernel, stride, padding, dilation and groups (those not at their
    default) and the channels, from the same record fields the full call in Details is written
    from; within the graph node's width budget (at most two lines of LABEL_CHARS)."""
    from vizapp.render.calls import layer_call
    from vizapp.render.dot import LABEL_CHARS, fit_label

    def labels(a):
        return [(n.label, layer_call(n.module_type, n.attrs)) for n in a.nodes
                if n.category in ("conv", "pool") and n.attrs]

    alex = dict(labels(analyze_spec(resolve("alexnet"))))
    assert alex["Conv2d 11×11 s4 p1 · 1→96"] == \
        "nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1)"
    assert alex["MaxPool 3×3 s2"] == "nn.MaxPool2d(kernel_size=3, stride=2)"
    lenet = [lab for lab, _ in labels(analyze_spec(resolve("lenet")))]
    assert lenet[:2] == ["Conv2d 5×5 p2 · 1→6", "AvgPool 2×2 s2"]
    net = nn.Sequential(nn.Conv2d(256, 256, 3, padding=2, dilation=2, groups=32),
                        nn.Conv2d(256, 8, (1, 3), stride=(2, 1)),
                        nn.MaxPool2d(3, stride=1, dilation=2),
                        nn.ConvTranspose2d(8, 4, 2, stride=2))
    got = labels(analyze(net, (256, 16, 16)))
    assert got == [
        ("Conv2d 3×3 p2 d2 g32 · 256→256",
         "nn.Conv2d(256, 256, kernel_size=3, padding=2, dilation=2, groups=32)"),
        ("Conv2d 1×3 s2×1 · 256→8", "nn.Conv2d(256, 8, kernel_size=(1, 3), stride=(2, 1))"),
        ("MaxPool 3×3 d2", "nn.MaxPool2d(kernel_size=3, stride=1, dilation=2)"),
        ("ConvT 2×2 s2 · 8→4", "nn.ConvTranspose2d(8, 4, kernel_size=2, stride=2)")]
    assert fit_label(got[0][0]) == "Conv2d 3×3 p2 d2 g32\n256→256"  # over budget: two lines
    for name in ("resnext50_32x4d", "mobilenet_v2", "efficientnet_b0", "googlenet"):
        for lab, _ in labels(analyze(meta_model(name), (3, 224, 224))):
            assert all(len(line) <= LABEL_CHARS for line in fit_label(lab).split("\n")), lab
