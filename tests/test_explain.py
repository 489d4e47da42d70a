"""Inside a layer: the breakdown of one output value equals the layer's real output there.

Two independent ways each time: the breakdown's own arithmetic (window × kernel summed in
float64, + bias; the pooling rule; the dot product) against the value PyTorch's forward pass
puts at that position; the conv window against ``F.unfold`` of the captured input; the
receptive-field box against the region where the input gradient of that pixel is nonzero."""

from __future__ import annotations

import copy
import json
import math
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vizapp import analyze
from vizapp.cli import main
from vizapp.labs import explain as E
from vizapp.labs import features
from vizapp.labs import train as train_lab
from vizapp.labs import data as train_data
from vizapp.zoo import build_model, codec, resolve
from vizapp.zoo.base import parse_input


def keep(d: dict, k, v) -> None:
    """Record in a forward hook (a hook that returns a value would replace the output)."""
    d.setdefault(k, v)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)


def setup(preset: str, shape: str | None = None):
    spec = resolve(preset, parse_input(shape) if shape else {})
    model = build_model(spec)
    x = features.make_input("digit", spec.input_shape, digit=3)
    return spec, model, x, analyze(model, tuple(x.shape))


def output_shapes(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda m, a, o, n=n: keep(shapes, n, tuple(o.shape)))
             for n, m in model.named_modules() if n and E.kind_of(m) in ("conv", "pool", "linear")]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return shapes


def positions(shape: tuple[int, ...], rng: np.random.Generator, n: int = 3):
    """Random positions plus the two corners (windows in the padding)."""
    dims = shape[1:]
    out = [tuple(int(rng.integers(d)) for d in dims) for _ in range(n)]
    out.append(tuple(0 for _ in dims))
    out.append(tuple(d - 1 for d in dims))
    return out


def check_layers(model, x, a, layers=None, seed=0):
    shapes = output_shapes(model, x)
    rng = np.random.default_rng(seed)
    checked = 0
    for layer in (layers or shapes):
        for at in positions(shapes[layer], rng):
            b = E.explain(model, layer, x, at, analysis=a)
            assert close(b.output, b.forward_output), (layer, at, b.output, b.forward_output)
            if b.kind == "conv":
                assert close(sum(t.sum for t in b.terms), b.total)
                assert len(b.terms) == shapes_in(model, layer)
            for s in b.then:
                if s.forward_output is not None:
                    assert close(s.output, s.forward_output), (layer, at, s)
            checked += 1
    return checked


def shapes_in(model, layer):
    m = dict(model.named_modules())[layer]
    return m.in_channels // m.groups


@pytest.mark.parametrize("preset,shape", [("lenet", None), ("lenet-bn", None),
                                          ("alexnet", "1,65,65")])
def test_every_conv_pool_linear_layer_random_weights(preset, shape):
    _, model, x, a = setup(preset, shape)
    assert check_layers(model, x, a) >= 5 * 5


def trained(preset: str):
    spec = resolve(preset, {})
    ds = train_data.load(train_data.DataChoice.parse("digits", 0), spec.input_shape,
                         spec.config.num_classes)
    model = build_model(spec, seed=0)
    settings = train_lab.TrainSettings(lr=0.9, batch_size=64, epochs=1, seed=0)
    res = train_lab.train(model, ds, settings, label=spec.label, config=codec.to_dict(spec),
                          in_place=True)
    assert res.ok
    return spec, model, res, ds


@pytest.mark.parametrize("preset", ["lenet", "lenet-bn"])
def test_every_layer_trained_weights(preset):
    spec, model, res, ds = trained(preset)
    x = ds.x_val[:1]
    a = analyze(model, tuple(x.shape))
    if preset == "lenet-bn":  # the BN step uses the trained running numbers, not 0 and 1
        bn = E.explain(model, "conv2", x, (0, 1, 1), analysis=a).then[0]
        assert dict(bn.params)["mean"] != 0.0 and bn.forward_output is not None
    assert check_layers(model, x, a) >= 5 * 5


@pytest.mark.parametrize("preset,shape,layers", [
    ("googlenet", None, ["b3.0.p1_1", "b3.0.p2_1", "b3.0.p2_2", "b3.0.p3_1", "b3.0.p3_2",
                         "b3.0.p4_1", "b3.0.p4_2"]),
    ("resnet18", "1,96,96", ["b3.0.conv1", "b3.0.conv2", "b3.0.conv3", "b1.pool"]),
    ("densenet", None, ["dense_block_0.net.1.conv", "dense_block_0.net.3.conv",
                        "transition_0.conv", "transition_0.pool"]),
])
def test_branches_shortcuts_dense_layers(preset, shape, layers):
    _, model, x, a = setup(preset, shape)
    assert check_layers(model, x, a, layers) == 5 * len(layers)


@pytest.mark.parametrize("preset,shape,block,kind", [
    ("googlenet", None, "b3.0", "cat"), ("resnet18", "1,96,96", "b3.0", "add"),
    ("resnet18", "1,96,96", "b2.1", "add"), ("densenet", None, "dense_block_0", "cat")])
def test_blocks_that_add_or_concatenate(preset, shape, block, kind):
    _, model, x, a = setup(preset, shape)
    out_shape = output_shapes_block(model, x, block)
    for at in positions(out_shape, np.random.default_rng(1)):
        b = E.explain(model, block, x, at, analysis=a)
        assert b.kind == kind
        assert close(b.output, b.forward_output)
        if kind == "add":
            assert len(b.sources) == 2 and close(b.total, sum(s.value for s in b.sources))
        else:
            assert len(b.sources) == 1 and b.sources[0].channel <= at[0]


def output_shapes_block(model, x, block):
    got = {}
    h = dict(model.named_modules())[block].register_forward_hook(
        lambda m, a, o: keep(got, "s", tuple(o.shape)))
    with torch.no_grad():
        model.eval()(x)
    h.remove()
    return got["s"]


def odd_model() -> nn.Module:
    """Grouped, dilated, strided, reflect-padded, 'same'-padded convolutions and the pooling
    corner cases (ceil mode, dilation, count_include_pad off, adaptive)."""
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), nn.BatchNorm2d(6),
        nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1, groups=3, padding_mode="reflect"),
        nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True),
        nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        nn.Conv2d(6, 4, 2, padding="same", dilation=2), nn.AvgPool2d(2, 2, 1, ceil_mode=True),
        nn.AdaptiveAvgPool2d((3, 2)), nn.Flatten(), nn.Linear(24, 5))


def test_grouped_dilated_and_pooling_corner_cases_every_position():
    model = odd_model()
    x = torch.randn(1, 4, 23, 21, generator=torch.Generator().manual_seed(0))
    a = analyze(model, tuple(x.shape))
    shapes = output_shapes(model, x)
    for layer, shape in shapes.items():
        for at in np.ndindex(*shape[1:]):
            b = E.explain(model, layer, x, at, analysis=a)
            assert close(b.output, b.forward_output), (layer, at, b.output, b.forward_output)
    lin = E.explain(model, "10", x, (2,), analysis=a)
    assert lin.origins[7] == (1, 0, 1)  # index 7 of a 4×3×2 flatten: channel 1, row 0, col 1


def captured_input(model, layer, x):
    got = {}
    h = dict(model.named_modules())[layer].register_forward_hook(
        lambda m, a, o: keep(got, "x", a[0]))
    with torch.no_grad():
        model.eval()(x)
    h.remove()
    return got["x"]


@pytest.mark.parametrize("layer,at", [("0", (4, 0, 0)), ("0", (1, 11, 10)), ("3", (2, 0, 5))])
def test_conv_window_matches_unfold(layer, at):
    """The window (zeros in the padding) is the column F.unfold takes for that pixel."""
    model = odd_model()
    x = torch.randn(1, 4, 23, 21, generator=torch.Generator().manual_seed(0))
    b = E.explain(model, layer, x, at)
    m = dict(model.named_modules())[layer]
    xin = captured_input(model, layer, x)
    if m.padding_mode == "reflect":
        xin = F.pad(xin, (1, 1, 1, 1), mode="reflect")
        pad = 0
    else:
        pad = m.padding
    cols = F.unfold(xin, m.kernel_size, dilation=m.dilation, padding=pad, stride=m.stride)
    ow = b.output_shape[-1]
    col = cols[0, :, at[1] * ow + at[2]].reshape(xin.shape[1], *m.kernel_size)
    ones = F.unfold(torch.ones_like(xin), m.kernel_size, dilation=m.dilation, padding=pad,
                    stride=m.stride)[0, :, at[1] * ow + at[2]].reshape(col.shape)
    for t in b.terms:
        assert np.allclose(np.array(t.window), col[t.in_channel].double().numpy())
        if m.padding_mode == "zeros":  # the cells unfold fills with padding
            assert np.array_equal(np.array(t.padded), (ones[t.in_channel] == 0).numpy())


# ----------------------------------------------------------------------------- receptive field
def smooth(model: nn.Module) -> nn.Module:
    """The same geometry with a gradient everywhere: ReLU → Softplus, max → average pooling
    (F.relu is patched around the pass, see :func:`gradient_box`)."""
    model = copy.deepcopy(model).double().eval()
    for name, m in list(model.named_modules()):
        parent, _, leaf = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        if isinstance(m, nn.ReLU):
            setattr(owner, leaf, nn.Softplus())
        elif isinstance(m, nn.MaxPool2d):
            setattr(owner, leaf, nn.AvgPool2d(m.kernel_size, m.stride, m.padding,
                                              ceil_mode=m.ceil_mode))
    return model


def gradient_box(model, layer, x, at):
    net = smooth(model)
    got = {}
    h = net.get_submodule(layer).register_forward_hook(lambda m, a, o: keep(got, "y", o))
    x = x.double().clone().requires_grad_(True)
    softplus = F.softplus
    with mock.patch.object(F, "relu", lambda t, inplace=False: softplus(t)):
        net(x)
    h.remove()
    got["y"][(0, *at)].backward()
    rows, cols = np.nonzero(x.grad[0].abs().sum(0).numpy() > 0)
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


@pytest.mark.parametrize("preset,shape,layer", [
    ("lenet", None, "conv2"), ("lenet", None, "pool2"), ("lenet-bn", None, "conv2"),
    ("alexnet", "1,65,65", "conv3"), ("googlenet", None, "b3.0.p3_2"),
    ("googlenet", None, "b3.0"), ("resnet18", "1,96,96", "b3.0"),
    ("resnet18", "1,96,96", "b3.0.conv3"), ("densenet", None, "dense_block_0")])
def test_receptive_field_box_is_the_nonzero_gradient(preset, shape, layer):
    _, model, x, a = setup(preset, shape)
    shape_out = (output_shapes(model, x).get(layer) or output_shapes_block(model, x, layer))
    for at in [(0, 0, 0), (1, shape_out[2] // 2, shape_out[3] // 3),
               (0, shape_out[2] - 1, shape_out[3] - 1)]:
        b = E.explain(model, layer, x, at, analysis=a)
        assert b.rf_box == gradient_box(model, layer, x, at), (layer, at, b.rf_size)


# ----------------------------------------------------------------------------- errors, CLI
def test_bad_layer_and_position_name_the_cause():
    _, model, x, a = setup("lenet")
    with pytest.raises(E.ExplainError, match="no layer named 'conv9'"):
        E.explain(model, "conv9", x, (0, 0, 0))
    with pytest.raises(E.ExplainError, match=r"0…15, 0…9, 0…9"):
        E.explain(model, "conv2", x, (0, 10, 0))
    with pytest.raises(E.ExplainError, match="cannot be taken apart"):
        E.explain(model, "flatten", x, (0,))
    with pytest.raises(E.ExplainError):
        E.parse_at("1,a")


def test_cli_json_with_saved_weights(tmp_path, capsys):
    _, model, res, ds = trained("lenet-bn")
    path = tmp_path / "w.pt"
    path.write_bytes(train_lab.save_bytes(res))
    np.save(tmp_path / "x.npy", ds.x_val[0].numpy())
    assert main(["explain", "lenet-bn", "--layer", "conv2", "--at", "3,4,5", "--weights",
                 str(path), "--input-file", str(tmp_path / "x.npy"), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert close(d["output"], d["forward_output"])
    with torch.no_grad():  # the trained model's own conv2 output at that position
        y = model.eval()[:5](ds.x_val[:1])  # conv1, bn1, act1, pool1, conv2
    assert close(d["forward_output"], float(y[0, 3, 4, 5]))
    assert d["rf_box"] is not None and len(d["terms"]) == 6 and d["then"][0]["op"] == "BatchNorm2d"


@pytest.mark.parametrize("args,says", [
    (["--layer", "conv9", "--at", "0,0,0"], "no layer named"),
    (["--layer", "conv2", "--at", "0,99,0"], "not in the layer's output"),
    (["--layer", "conv2", "--at", "x"], "C,H,W"),
])
def test_cli_bad_layer_or_position_is_one_line_exit_2(args, says, capsys):
    assert main(["explain", "lenet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1


def test_sliding_window_frames_are_the_windows():
    """Each animation frame's taps are the window the breakdown computes for that pixel."""
    from vizapp.render import plots_explain as P

    model = odd_model()
    x = torch.randn(1, 4, 23, 21, generator=torch.Generator().manual_seed(0))
    b0 = E.explain(model, "0", x, (0, 0, 0))
    fig = P.sliding_window(b0, "in", "out")
    oh, ow = b0.plane.shape
    assert len(fig.frames) == oh * ow
    for at in [(0, 0, 0), (0, 3, 5), (0, oh - 1, ow - 1)]:
        b = E.explain(model, "0", x, at)
        taps = fig.frames[at[1] * ow + at[2]].data[0]
        assert sorted(set(taps.y)) == sorted(b.rows) and sorted(set(taps.x)) == sorted(b.cols)


def test_cli_without_weights_uses_the_apps_random_weights(capsys):
    """The CLI's default weights are the app's (seed 0): the same value as the page shows."""
    from vizapp.runtime import cached_model

    assert main(["explain", "lenet", "--layer", "conv2", "--at", "1,2,3", "--format",
                 "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    spec = resolve("lenet")
    x = features.make_input("digit", spec.input_shape, digit=7)
    with torch.no_grad():
        y = copy.deepcopy(cached_model(spec, torch.device("cpu"))).eval()[:4](x)
    assert close(d["forward_output"], float(y[0, 1, 2, 3]))


def test_one_partial_forward_per_breakdown():
    """A breakdown runs the model once, up to the layer and what follows it in the block
    (BN, activation), and nothing after: the modules' own call counts say so."""
    _, model, x, a = setup("lenet-bn")
    calls: dict[str, int] = {}
    for n, m in model.named_modules():
        if n:
            m.register_forward_hook(lambda m, i, o, n=n: keep_count(calls, n))
    b = E.explain(model, "conv2", x, (0, 1, 1), analysis=a, private=True)
    assert [s.name for s in b.then] == ["bn2", "act2"]
    assert calls == {"conv1": 1, "bn1": 1, "act1": 1, "pool1": 1, "conv2": 1, "bn2": 1,
                     "act2": 1}


def keep_count(d: dict, k: str) -> None:
    d[k] = d.get(k, 0) + 1


def test_window_figure_marks_exactly_the_padding_cells():
    from vizapp.render import plots_explain as P

    model = odd_model()
    x = torch.randn(1, 4, 23, 21, generator=torch.Generator().manual_seed(0))
    b = E.explain(model, "0", x, (0, 0, 0))
    t = b.terms[0]
    fig = P.term_figure(t, list(b.rows), list(b.cols))
    text = fig.data[0].text
    marked = sum(cell.endswith(" pad") for row in text for cell in row)
    assert marked == sum(map(sum, t.padded)) > 0
    assert all(cell == "0 pad" for row in text for cell in row if cell.endswith(" pad"))


def test_cli_png_input_is_the_pages_upload(tmp_path, capsys):
    """A PNG through --input-file becomes the same input as the page's upload."""
    from PIL import Image

    from vizapp.runtime import cached_model

    img = (features.draw_digit(4, 40, 40) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "four.png")
    assert main(["explain", "lenet-bn", "--layer", "fc1", "--at", "5", "--input-file",
                 str(tmp_path / "four.png"), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    spec = resolve("lenet-bn")
    x = features.image_to_input(features.decode_image((tmp_path / "four.png").read_bytes()),
                                spec.input_shape)
    with torch.no_grad():  # conv1 … flatten, fc1
        y = copy.deepcopy(cached_model(spec, torch.device("cpu"))).eval()[:10](x)
    assert close(d["forward_output"], float(y[0, 5])) and close(d["output"], float(y[0, 5]))
    assert len(d["origins"]) == len(d["vector"]) == 256 and d["origins"][17] == [1, 0, 1]
