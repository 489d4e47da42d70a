"""The model zoo: seed presets against the seeds' printed shapes (real forwards on CPU),
parameter counts against the seeds' own code and against torchvision, knob changes, and the
messages a student gets for impossible configurations.

The seed code is re-implemented here, independently of ``vizapp.zoo``, as the reference.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from seed_shapes import SEED_000_RESNET18, SEEDS
from vizapp.zoo import (ConfigError, ModelSpec, build_model, families, format_value, presets,
                        resolve)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def param_shapes(model: nn.Module) -> list[tuple[int, ...]]:
    return sorted(tuple(p.shape) for p in model.parameters())


def on_meta(fn, *args, **kwargs) -> nn.Module:
    """Build without allocating or initialising weights (for counting parameters)."""
    with torch.device("meta"):
        return fn(*args, **kwargs)


def meta_out(model: nn.Module, spec: ModelSpec) -> tuple[int, ...]:
    with torch.no_grad():
        x = torch.empty(spec.batch, *spec.input_shape, device="meta")
        return tuple(model.eval()(x).shape)


def run_children(model: nn.Module, x: torch.Tensor) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, class name, output shape) per direct child, as the seeds' loops print them."""
    rows = []
    with torch.no_grad():
        for name, layer in model.named_children():
            x = layer(x)
            rows.append((name, type(layer).__name__, tuple(x.shape)))
    return rows


@pytest.fixture(scope="module")
def real():
    """Real (CPU, random-weight) preset models, each built once for the whole module."""
    cache: dict[str, tuple[ModelSpec, nn.Module]] = {}

    def get(name: str) -> tuple[ModelSpec, nn.Module]:
        if name not in cache:
            torch.manual_seed(0)
            spec = resolve(name)
            cache[name] = (spec, build_model(spec).eval())
        return cache[name]

    return get


# =============================================================================== seed shapes
@pytest.mark.parametrize("preset", list(SEEDS))
def test_preset_reproduces_seed_printout(preset, real):
    seed = SEEDS[preset]
    spec, model = real(preset)
    assert (spec.batch, *spec.input_shape) == seed.input_shape
    torch.manual_seed(0)
    rows = run_children(model, torch.rand(*seed.input_shape))
    if seed.label_kind == "final":
        assert rows[-1][2] == seed.output_shape
        return
    assert len(rows) == len(seed.rows), [r[:2] for r in rows]
    types = seed.types or tuple(label for label, _ in seed.rows)
    for i, ((name, typ, shape), (label, want), want_type) in enumerate(
            zip(rows, seed.rows, types)):
        assert (typ, shape) == (want_type, want), \
            f"row {i} ({name}) vs seed {seed.source} row '{label}'"


def test_resnet18_matches_seed_000_flat_layout(real):
    """Seed 000 prints the same network with the stem as four children and Flatten inside fc."""
    _, model = real("resnet18")
    torch.manual_seed(0)
    x = torch.rand(*SEED_000_RESNET18.input_shape)
    shapes = []
    with torch.no_grad():
        for layer in model.b1:
            x = layer(x)
            shapes.append(tuple(x.shape))
        for name in ("b2", "b3", "b4", "b5", "avgpool"):
            x = getattr(model, name)(x)
            shapes.append(tuple(x.shape))
        x = model.fc(model.flatten(x))
        shapes.append(tuple(x.shape))
    assert shapes == [s for _, s in SEED_000_RESNET18.rows]


def test_googlenet_inception_concatenates_four_branches(real):
    _, model = real("googlenet")
    inc = model.b3[0]
    assert [n for n, _ in inc.named_children()] == ["p1_1", "p2_1", "p2_2", "p3_1", "p3_2",
                                                    "p4_1", "p4_2"]
    y = inc(torch.rand(1, 192, 12, 12))
    assert y.shape == (1, 64 + 128 + 32 + 32, 12, 12)  # d2l: 64+128+32+32 = 256


def test_densenet_block_concatenates(real):
    _, model = real("densenet")
    db = model.dense_block_0
    assert isinstance(db.net, nn.ModuleList) and len(db.net) == 4
    x = torch.rand(1, 64, 8, 8)
    y = db(x)
    assert y.shape == (1, 64 + 4 * 32, 8, 8)
    assert torch.equal(y[:, :64], x)  # the input is passed through unchanged (cat, not add)


# ====================================================== the seeds' own code, re-implemented
class SeedResidual(nn.Module):
    """Seed 002 / 000 ``Residual`` (d2l), as printed."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1,
                               stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = (nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
                      if use_1x1conv else None)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        return F.relu(Y + X)


def seed_resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(SeedResidual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(SeedResidual(num_channels, num_channels))
    return blk


def seed_d2l_resnet18() -> nn.Sequential:
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64),
                       nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    return nn.Sequential(b1, nn.Sequential(*seed_resnet_block(64, 64, 2, first_block=True)),
                         nn.Sequential(*seed_resnet_block(64, 128, 2)),
                         nn.Sequential(*seed_resnet_block(128, 256, 2)),
                         nn.Sequential(*seed_resnet_block(256, 512, 2)),
                         nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10))


class SeedBottleneck(nn.Module):
    """Seed 001 ``block``: 1×1, 3×3 (stride), 1×1 ×4, all convs with the default bias."""

    def __init__(self, in_channels, out_channels, identity_downsample=None, stride=1):
        super().__init__()
        self.expansion = 4
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=stride,
                               padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = nn.Conv2d(out_channels, out_channels * 4, kernel_size=1, stride=1,
                               padding=0)
        self.bn3 = nn.BatchNorm2d(out_channels * 4)
        self.relu = nn.ReLU()
        self.identity_downsample = identity_downsample

    def forward(self, x):
        identity = x
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        if self.identity_downsample is not None:
            identity = self.identity_downsample(identity)
        return self.relu(x + identity)


class SeedResNet(nn.Module):
    """Seed 001 ``ResNet``."""

    def __init__(self, layers, image_channels=3, num_classes=1000):
        super().__init__()
        self.in_channels = 64
        self.conv1 = nn.Conv2d(image_channels, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(layers[0], 64, 1)
        self.layer2 = self._make_layer(layers[1], 128, 2)
        self.layer3 = self._make_layer(layers[2], 256, 2)
        self.layer4 = self._make_layer(layers[3], 512, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * 4, num_classes)

    def _make_layer(self, num_residual_blocks, out_channels, stride):
        identity_downsample = None
        if stride != 1 or self.in_channels != out_channels * 4:
            identity_downsample = nn.Sequential(
                nn.Conv2d(self.in_channels, out_channels * 4, kernel_size=1, stride=stride),
                nn.BatchNorm2d(out_channels * 4))
        layers = [SeedBottleneck(self.in_channels, out_channels, identity_downsample, stride)]
        self.in_channels = out_channels * 4
        for _ in range(num_residual_blocks - 1):
            layers.append(SeedBottleneck(self.in_channels, out_channels))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).reshape(x.shape[0], -1))


SEED_001_LAYERS = {"resnet50": [3, 4, 6, 3], "resnet101": [3, 4, 23, 3],
                   "resnet152": [3, 8, 36, 3]}


def seed_d2l_densenet() -> nn.Sequential:
    """Seed 000's DenseNet (conv_block, DenseBlock, transition_block; growth 32, 4,4,4,4)."""

    def conv_block(cin, cout):
        return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(),
                             nn.Conv2d(cin, cout, kernel_size=3, padding=1))

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, in_channels, out_channels):
            super().__init__()
            self.net = nn.ModuleList(conv_block(in_channels + i * out_channels, out_channels)
                                     for i in range(num_convs))
            self.out_channels = in_channels + num_convs * out_channels

        def forward(self, X):
            for blk in self.net:
                X = torch.cat((X, blk(X)), dim=1)
            return X

    def transition_block(cin, cout):
        return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, kernel_size=1),
                             nn.AvgPool2d(kernel_size=2, stride=2))

    net = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64),
                        nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    c, k = 64, 32
    blocks = [4, 4, 4, 4]
    for i, n in enumerate(blocks):
        db = DenseBlock(n, c, k)
        net.add_module(f"DenseBlosk_{i}", db)
        c = db.out_channels
        if i != len(blocks) - 1:
            net.add_module(f"transition_block_{i}", transition_block(c, c // 2))
            c //= 2
    net.add_module("BN", nn.BatchNorm2d(c))
    net.add_module("relu", nn.ReLU())
    net.add_module("global_avg_pool", nn.AdaptiveAvgPool2d((1, 1)))
    net.add_module("fc", nn.Sequential(nn.Flatten(), nn.Linear(c, 10)))
    return net


class SeedInception(nn.Module):
    def __init__(self, cin, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(cin, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(cin, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(cin, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(cin, c4, kernel_size=1)


def seed_002(name: str) -> nn.Module:
    """The other seed-002 networks, layer for layer (only their parameters are compared)."""
    if name == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
                             nn.AvgPool2d(2, 2), nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
                             nn.AvgPool2d(2, 2), nn.Flatten(), nn.Linear(16 * 5 * 5, 120),
                             nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
    if name == "lenet-bn":
        return nn.Sequential(nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
                             nn.AvgPool2d(2, 2), nn.Conv2d(6, 16, kernel_size=5),
                             nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
                             nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
                             nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
                             nn.Linear(84, 10))
    if name == "alexnet":
        return nn.Sequential(
            nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
            nn.MaxPool2d(3, 2), nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(3, 2), nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Flatten(), nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 10))
    if name == "vgg11":
        blks, cin = [], 1
        for convs, cout in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)):
            layers = []
            for _ in range(convs):
                layers += [nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.ReLU()]
                cin = cout
            blks.append(nn.Sequential(*layers, nn.MaxPool2d(2, 2)))
        return nn.Sequential(*blks, nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(),
                             nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(4096, 10))
    if name == "nin":
        def nin_block(cin, cout, k, s, p):
            return nn.Sequential(nn.Conv2d(cin, cout, k, s, p), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 1), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 1), nn.ReLU())
        return nn.Sequential(nin_block(1, 96, 11, 4, 0), nn.MaxPool2d(3, 2),
                             nin_block(96, 256, 5, 1, 2), nn.MaxPool2d(3, 2),
                             nin_block(256, 384, 3, 1, 1), nn.MaxPool2d(3, 2), nn.Dropout(0.5),
                             nin_block(384, 10, 3, 1, 1), nn.AdaptiveAvgPool2d((1, 1)),
                             nn.Flatten())
    if name == "googlenet":
        b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                           nn.MaxPool2d(3, 2, 1))
        b2 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
                           nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
                           nn.MaxPool2d(3, 2, 1))
        b3 = nn.Sequential(SeedInception(192, 64, (96, 128), (16, 32), 32),
                           SeedInception(256, 128, (128, 192), (32, 96), 64),
                           nn.MaxPool2d(3, 2, 1))
        b4 = nn.Sequential(SeedInception(480, 192, (96, 208), (16, 48), 64),
                           SeedInception(512, 160, (112, 224), (24, 64), 64),
                           SeedInception(512, 128, (128, 256), (24, 64), 64),
                           SeedInception(512, 112, (144, 288), (32, 64), 64),
                           SeedInception(528, 256, (160, 320), (32, 128), 128),
                           nn.MaxPool2d(3, 2, 1))
        b5 = nn.Sequential(SeedInception(832, 256, (160, 320), (32, 128), 128),
                           SeedInception(832, 384, (192, 384), (48, 128), 128),
                           nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
        return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, 10))
    raise KeyError(name)


SEED_CODE = {
    "lenet": lambda: seed_002("lenet"), "lenet-bn": lambda: seed_002("lenet-bn"),
    "alexnet": lambda: seed_002("alexnet"), "vgg11": lambda: seed_002("vgg11"),
    "nin": lambda: seed_002("nin"), "googlenet": lambda: seed_002("googlenet"),
    "resnet18": seed_d2l_resnet18, "densenet": seed_d2l_densenet,
    **{name: (lambda layers=layers: SeedResNet(layers)) for name, layers in
       SEED_001_LAYERS.items()},
}


@pytest.mark.parametrize("preset", list(SEED_CODE))
def test_preset_has_the_seed_codes_parameters(preset, real):
    """Same parameter count and the same multiset of parameter shapes as the seed's code."""
    _, model = real(preset)
    ref = on_meta(SEED_CODE[preset])
    assert n_params(model) == n_params(ref)
    assert param_shapes(model) == param_shapes(ref)


def test_seed_parameter_counts_are_what_we_report():
    """The counts quoted in the report (seed code built here, not by vizapp)."""
    counts = {name: n_params(on_meta(fn)) for name, fn in SEED_CODE.items()}
    assert counts["resnet18"] == 11_178_378
    assert counts["resnet50"] == 25_583_592  # = torchvision's 25,557,032 + 26,560 conv biases
    assert counts["resnet101"] == 44_601_832
    assert counts["resnet152"] == 60_268_520
    assert counts["densenet"] == 758_226


def test_seed_001_resnet50_forward_matches_the_zoo_with_the_same_weights(real):
    """Not just counts: the seed's code, given the zoo's resnet50 weights, computes the same
    function (both register their tensors in the same order: stem, stages, fc)."""
    _, model = real("resnet50")
    ref = SeedResNet([3, 4, 6, 3]).eval()
    ours, theirs = model.state_dict(), ref.state_dict()
    assert [t.shape for t in ours.values()] == [t.shape for t in theirs.values()]
    ref.load_state_dict(dict(zip(theirs, ours.values())))
    torch.manual_seed(1)
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-4, atol=1e-4)


# ============================================================================== torchvision
@pytest.mark.parametrize("name,count", [("resnet18", 11_689_512), ("resnet50", 25_557_032),
                                        ("densenet121", 7_978_856)])
def test_torchvision_reference_parameter_counts(name, count):
    spec = resolve(f"torchvision:{name}")
    assert spec.family == "torchvision" and spec.input_shape == (3, 224, 224)
    model = on_meta(build_model, spec)
    assert n_params(model) == count
    assert meta_out(model, spec) == (1, 1000)


def test_torchvision_input_size_and_num_classes():
    assert resolve("torchvision:inception_v3").input_shape == (3, 299, 299)
    spec = resolve("torchvision:mobilenet_v2", {"num_classes": 7})
    assert meta_out(on_meta(build_model, spec), spec) == (1, 7)


def test_torchvision_names_are_choices_and_unknown_names_get_hints():
    from vizapp.zoo.torchvision_ref import TorchvisionConfig

    choices = TorchvisionConfig.knob_info("name").knob.choices
    assert set(choices) == set(torchvision.models.list_models(module=torchvision.models))
    with pytest.raises(ConfigError) as exc:
        resolve("torchvision:resnet05")
    assert exc.value.knob == "name" and "resnet50" in exc.value.message


def test_torchvision_spec_round_trips_its_knobs():
    spec = resolve("torchvision:densenet121", {"num_classes": 5})
    cfg = spec.config
    assert cfg.name == "densenet121" and spec.label.startswith("torchvision:densenet121")
    text = {k.name: format_value(getattr(cfg, k.name)) for k in cfg.knobs()}
    assert cfg.with_overrides(text) == cfg
    with pytest.raises(ConfigError) as exc:
        resolve("torchvision:resnet18", {"in_channels": 1})
    assert exc.value.knob == "in_channels"


@pytest.mark.parametrize("zoo,overrides,tv", [
    ("resnet18", dict(in_channels=3, num_classes=1000, conv_bias=False, shortcut="conv-bn"),
     "resnet18"),
    ("resnet34", dict(in_channels=3, num_classes=1000, conv_bias=False, shortcut="conv-bn"),
     "resnet34"),
    ("resnet50", dict(conv_bias=False), "resnet50"),
    ("resnet152", dict(conv_bias=False), "resnet152"),
    ("densenet121", {}, "densenet121"),
    ("densenet169", {}, "densenet169"),
    ("densenet201", {}, "densenet201"),
])
def test_zoo_with_torchvision_settings_matches_torchvision(zoo, overrides, tv):
    ours = on_meta(build_model, resolve(zoo, overrides))
    ref = on_meta(torchvision.models.get_model, tv, weights=None)
    assert n_params(ours) == n_params(ref)
    assert param_shapes(ours) == param_shapes(ref)


def test_densenet121_count_is_torchvisions_published_number():
    assert n_params(on_meta(build_model, resolve("densenet121"))) == 7_978_856


# ============================================================================== knob changes
def test_densenet_growth_rate_16_gives_128_channels_after_the_first_block():
    spec = resolve("densenet", {"growth_rate": "16"})
    rows = {n: s for n, _, s in run_children(build_model(spec).eval(), torch.rand(1, 1, 96, 96))}
    assert rows["dense_block_0"][1] == 64 + 4 * 16 == 128
    assert rows["transition_0"][1] == 64
    assert rows["fc"] == (1, 10)


def test_densenet_compression_floors_and_one_keeps_all():
    spec = resolve("densenet", {"growth_rate": 5, "blocks": "3,3", "compression": 0.5})
    model = build_model(spec)
    assert model.transition_0.conv.out_channels == (64 + 15) // 2 == 39
    keep = build_model(resolve("densenet", {"compression": 1.0}))
    assert keep.transition_0.conv.out_channels == 192
    assert keep.fc.linear.in_features == 64 + 16 * 32


def test_densenet_bottleneck_adds_a_1x1_to_4k():
    model = build_model(resolve("densenet", {"bottleneck": True}))
    layer = model.dense_block_0.net[0]
    assert layer.conv1.kernel_size == (1, 1) and layer.conv1.out_channels == 4 * 32
    assert layer.conv2.kernel_size == (3, 3) and layer.conv2.out_channels == 32


def test_resnet_fewer_blocks_fewer_parameters(real):
    _, r18 = real("resnet18")
    small = build_model(resolve("resnet18", {"blocks": "1,1,1,1"}))
    assert len(small.b2) == 1 and len(small.b5) == 1
    assert n_params(small) < n_params(r18)
    with torch.no_grad():
        assert small.eval()(torch.rand(1, 1, 224, 224)).shape == (1, 10)


def test_resnet_widths_and_stage_count_drive_the_head():
    spec = resolve("resnet18", {"blocks": "2,2,2", "widths": "32,64,96"})
    model = build_model(spec)
    assert [n for n, _ in model.named_children()] == ["b1", "b2", "b3", "b4", "avgpool",
                                                      "flatten", "fc"]
    assert model.fc.in_features == 96
    bott = build_model(resolve("resnet50", {"widths": "16,32,64,128"}))
    assert bott.fc.in_features == 128 * 4
    assert meta_out(on_meta(build_model, spec), spec) == (1, 10)


def test_resnet_shortcut_and_batch_norm_knobs():
    conv = build_model(resolve("resnet18"))
    assert isinstance(conv.b3[0].conv3, nn.Conv2d)
    cbn = build_model(resolve("resnet18", {"shortcut": "conv-bn"}))
    assert isinstance(cbn.b3[0].conv3[1], nn.BatchNorm2d)
    assert n_params(cbn) - n_params(conv) == 2 * (128 + 256 + 512)
    nobn = build_model(resolve("resnet18", {"batch_norm": False}))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in nobn.modules())
    basic50 = build_model(resolve("resnet50", {"block": "basic"}))
    assert basic50.fc.in_features == 512


def test_vgg_conv_arch_drives_the_first_linear():
    spec = resolve("vgg11", {"conv_arch": "1x32,1x64,2x128", "hidden": 64})
    model = build_model(spec)
    assert [n for n, _ in model.named_children()][:4] == ["block1", "block2", "block3",
                                                          "flatten"]
    assert len(model.block3) == 2 * 2 + 1  # two conv+relu pairs and the pool
    assert model.fc1.in_features == 128 * 28 * 28
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 1, 224, 224)).shape == (1, 10)
    small = on_meta(build_model, resolve("vgg11", {"height": 96, "width": 96}))
    assert small.fc1.in_features == 512 * 3 * 3
    bn = on_meta(build_model, resolve("vgg16", {"batch_norm": True}))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == 13
    assert bn.fc1.in_features == 25088


def test_alexnet_channels_drive_the_first_linear():
    model = on_meta(build_model, resolve("alexnet", {"channels": "48,128,192,192,128"}))
    assert model.fc1.in_features == 128 * 5 * 5
    assert on_meta(build_model, resolve("alexnet")).fc1.in_features == 6400
    assert on_meta(build_model, resolve("alexnet", {"height": 128, "width": 128})) \
        .fc1.in_features == 256 * 2 * 2


def test_lenet_at_32_derives_fc1():
    model = build_model(resolve("lenet", {"height": 32, "width": 32}))
    assert model.fc1.in_features == 16 * 6 * 6 == 576
    with torch.no_grad():
        assert model(torch.rand(1, 1, 32, 32)).shape == (1, 10)


def test_googlenet_splits_are_data():
    spec = resolve("googlenet", {
        "inception": "[[[32,[48,64],[8,16],16]],[[64,[64,96],[16,32],32]],[[96,[96,128],[16,32],32]]]"})
    model = build_model(spec)
    assert len(model.b3) == 2 and model.fc.in_features == 96 + 128 + 32 + 32
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 1, 96, 96)).shape == (1, 10)


def test_nin_classes_are_the_last_blocks_channels():
    spec = resolve("nin", {"num_classes": 7})
    assert meta_out(on_meta(build_model, spec), spec) == (1, 7)


def test_too_small_input_still_builds_for_the_analysis_to_explain():
    """flat_features falls back to the seed's in_features when the input cannot reach the
    Linear; the model builds (the analysis then names the failing layer)."""
    model = on_meta(build_model, resolve("vgg11", {"height": 16, "width": 16}))
    assert model.fc1.in_features == 512 * 7 * 7
    with pytest.raises(RuntimeError):
        with torch.no_grad():
            model(torch.empty(1, 1, 16, 16, device="meta"))


# ================================================================================ bad input
def test_unknown_preset():
    with pytest.raises(ConfigError) as exc:
        resolve("resnet19")
    assert "resnet19" in exc.value.message and "resnet18" in exc.value.message


def test_unknown_knob_is_named():
    with pytest.raises(ConfigError) as exc:
        resolve("resnet18", {"growth_rate": 16})
    assert exc.value.knob == "growth_rate" and "growth_rate" in exc.value.message
    assert "blocks" in exc.value.message  # lists the knobs that do exist


@pytest.mark.parametrize("preset,knob,value,words", [
    ("resnet18", "blocks", "2,0,2,2", "at least 1"),
    ("resnet18", "widths", "64,128,256", "one entry per stage"),
    ("resnet18", "blocks", "", "at least 1 entries"),
    ("resnet18", "block", "wide", "basic"),
    ("resnet18", "shortcut", "identity", "conv-bn"),
    ("resnet18", "blocks", "two,two", "comma list"),
    ("densenet", "compression", "0", "at least"),
    ("densenet", "compression", "1.5", "at most 1"),
    ("densenet", "growth_rate", "0", "at least 1"),
    ("densenet", "blocks", "4,4,0,4", "at least 1"),
    ("vgg11", "conv_arch", "1x64,1x0", "at least 1"),
    ("vgg11", "conv_arch", "0x64", "at least 1"),
    ("vgg11", "conv_arch", "12x64", "at most 8"),
    ("alexnet", "channels", "96,256,384,384", "at least 5 entries"),
    ("alexnet", "dropout", "1.5", "at most"),
    ("lenet", "channels", "6,16,32", "at most 2 entries"),
    ("lenet", "activation", "gelu", "sigmoid"),
    ("lenet", "batch_norm", "maybe", "true or false"),
    ("googlenet", "inception", "[[1,2]]", "three stages"),
    ("googlenet", "inception", "[[[64,96,32,32]],[[64,[96,128],[16,32],32]],"
                               "[[64,[96,128],[16,32],32]]]", "c2 reduce"),
    ("googlenet", "inception", "[[[0,[96,128],[16,32],32]],[[64,[96,128],[16,32],32]],"
                               "[[64,[96,128],[16,32],32]]]", "1 to 4096"),
    ("nin", "channels", "96,256", "at least 3"),
    ("resnet50", "num_classes", "0", "at least 1"),
    ("densenet", "height", "-3", "at least 1"),
])
def test_bad_values_name_their_knob(preset, knob, value, words):
    with pytest.raises(ConfigError) as exc:
        resolve(preset, {knob: value})
    msg = exc.value.message
    assert exc.value.knob == knob, msg
    assert words in msg, msg
    label = type(resolve(preset).config).knob_info(knob).label  # as the sidebar shows it
    assert label in msg or knob in msg, msg


def test_build_model_validates_a_bare_config():
    from vizapp.zoo.densenet import DenseNetConfig

    with pytest.raises(ConfigError) as exc:
        build_model(DenseNetConfig(compression=0.0))
    assert exc.value.knob == "compression"


# ============================================================================ every preset
PRESETS = list(presets())


def test_every_seed_preset_exists_and_every_family_has_presets():
    need = {"lenet", "lenet-bn", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "resnet34",
            "resnet50", "resnet101", "resnet152", "densenet", "densenet121", "densenet169",
            "densenet201"}
    assert need <= set(PRESETS)
    assert set(SEEDS) <= set(PRESETS)
    for fam in families().values():
        if fam.name not in ("torchvision", "file"):  # models from outside: names, a file
            assert fam.default_preset in PRESETS
            assert resolve(fam.name).preset == fam.default_preset


@pytest.mark.parametrize("name", PRESETS)
def test_preset_builds_validates_and_round_trips(name):
    preset = presets()[name]
    cfg = preset.config
    cfg.validate()
    spec = resolve(name)
    assert spec.config == cfg and spec.label == name
    for k in cfg.knobs():
        assert k.knob.help.strip(), f"{name}.{k.name} needs help text"
        text = format_value(getattr(cfg, k.name))
        assert cfg.with_overrides({k.name: text}) == cfg, (k.name, text)
    all_text = {k.name: format_value(getattr(cfg, k.name)) for k in cfg.knobs()}
    assert cfg.with_overrides(all_text) == cfg
    assert hash(spec) == hash(resolve(name))  # usable as a cache key
    model = on_meta(build_model, spec)
    assert n_params(model) > 0
    if not preset.exercise:  # an exercise's bug stops it (tests/test_custom.py checks where)
        assert meta_out(model, spec) == (cfg.batch, cfg.num_classes)


def test_spec_labels_show_changed_knobs():
    spec = resolve("densenet", {"growth_rate": 16})
    assert spec.label == "densenet (growth_rate=16)"
    assert dataclasses.replace(spec, config=spec.config.replace(growth_rate=32)).label == \
        "densenet"


def test_seeded_build_is_reproducible_and_leaves_the_global_rng_alone():
    spec = resolve("lenet")
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = build_model(spec, seed=0)
    b = build_model(spec, seed=0)
    c = build_model(spec, seed=1)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's random stream is untouched
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["conv1.weight"], sc["conv1.weight"])


def test_label_names_the_linked_preset_and_says_what_it_is_close_to():
    """``?model=resnet18&blocks=3,4,6,3&block=bottleneck`` was labelled "resnet34
    (block=bottleneck)": the label names the preset the link named and what changed; the
    presets it equals but for one knob are said separately (seed 001's ResNet-50 differs in
    its shortcut: a BatchNorm after the 1×1 convolution)."""
    spec = resolve("resnet18", {"blocks": "3,4,6,3", "block": "bottleneck"})
    assert spec.label == "resnet18 (block=bottleneck, blocks=3,4,6,3)"
    near = dict(spec.near())
    assert near["resnet50"] == {"shortcut": ("conv", "conv-bn")}
    assert near["resnet34"] == {"block": ("bottleneck", "basic")}
    assert resolve("resnet50").near() == []  # a preset as it is
    assert resolve("lenet", {"batch_norm": "true", "conv1_padding": "0"}).label == "lenet-bn"
