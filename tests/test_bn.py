"""BatchNorm lab: every number checked against plain tensor maths written out here."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from torch import nn

from vizapp.labs import bn
from vizapp.cli import main
from vizapp.zoo import build_model, resolve


def independent_stats(x: torch.Tensor):
    """Per-channel mean / biased var / unbiased var by hand: channels first, flatten the rest."""
    c = x.shape[1]
    v = x.double().transpose(0, 1).reshape(c, -1)
    n = v.shape[1]
    mean = v.sum(1) / n
    var_b = ((v - mean[:, None]) ** 2).sum(1) / n
    var_u = ((v - mean[:, None]) ** 2).sum(1) / (n - 1)
    return mean, var_b, var_u


def close(a, b, tol=1e-5):
    return all(math.isclose(float(p), float(q), rel_tol=tol, abs_tol=tol) for p, q in zip(a, b))


# ----------------------------------------------------------------------------- the seed demo
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_demo_numbers(seed):
    torch.manual_seed(seed)
    x = torch.randn(4, 3, 2, 2)
    mean, var_b, var_u = independent_stats(x)
    # the seed's own arithmetic for channel 0: sum of the 4 planes / 16
    a = (x[0, 0] + x[1, 0] + x[2, 0] + x[3, 0]).sum() / 16
    assert math.isclose(float(a), float(mean[0]), abs_tol=1e-6)
    d = bn.seed_demo(seed)
    assert d.input_shape == (4, 3, 2, 2)
    assert close(d.batch_mean, mean) and close(d.batch_var_biased, var_b)
    assert close(d.batch_var_unbiased, var_u)
    # momentum update from fresh buffers (mean 0, var 1): r = (1 − m)·r0 + m·batch
    for m in (0.1, 1.0):
        key = f"{m:.1f}"
        assert close(d.running_mean[key], [(1 - m) * 0 + m * float(v) for v in mean])
        assert close(d.running_var[key], [(1 - m) * 1 + m * float(v) for v in var_u])
    assert d.max_abs_diff_manual_vs_module < 1e-5
    assert close(d.output_mean, [0, 0, 0], 1e-5) and close(d.output_std, [1, 1, 1], 1e-3)


def test_demo_does_not_touch_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    bn.seed_demo(7)
    assert torch.equal(torch.rand(3), expected)


def test_demo_cli_json_contract(capsys):
    assert main(["bn", "--demo", "--seed", "3", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == {"input_shape", "batch_mean", "batch_var_biased", "batch_var_unbiased",
                      "running_mean", "running_var", "max_abs_diff_manual_vs_module"}
    assert d["input_shape"] == [4, 3, 2, 2]
    assert set(d["running_mean"]) == set(d["running_var"]) == {"0.1", "1.0"}
    torch.manual_seed(3)
    x = torch.randn(4, 3, 2, 2)
    mean, var_b, var_u = independent_stats(x)
    assert close(d["batch_mean"], mean) and close(d["batch_var_biased"], var_b)
    assert close(d["batch_var_unbiased"], var_u)
    assert close(d["running_mean"]["1.0"], mean)  # momentum 1: running = batch
    assert close(d["running_mean"]["0.1"], [0.1 * float(v) for v in mean])
    assert close(d["running_var"]["1.0"], var_u)  # running_var gets the unbiased variance
    assert close(d["running_var"]["0.1"], [0.9 + 0.1 * float(v) for v in var_u])
    assert d["max_abs_diff_manual_vs_module"] < 1e-5


def test_demo_text(capsys):
    assert main(["bn", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "var unbiased" in out and "running_mean m=0.1" in out


# ----------------------------------------------------------------------------- models
@pytest.fixture(scope="module")
def lenet_bn():
    spec = resolve("lenet-bn")
    torch.manual_seed(0)
    return spec, build_model(spec)


def test_model_layer_stats_match_independent_maths(lenet_bn):
    spec, model = lenet_bn
    x = bn.synthetic_batch(spec.input_shape, 4, seed=5)
    # independent capture: run the BN inputs ourselves on our own copy
    ref = copy.deepcopy(model).train()
    inputs = {}
    hooks = [m.register_forward_pre_hook(lambda mod, a, n=n: inputs.setdefault(n, a[0].clone()))
             for n, m in ref.named_modules() if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d)]
    with torch.no_grad():
        ref(x)
    for h in hooks:
        h.remove()
    report = bn.analyze_bn(model, x=x)
    assert [s.name for s in report.layers] == ["bn1", "bn2", "bn3", "bn4"]
    assert report.layers[2].type == "BatchNorm1d" and report.layers[2].input_shape == (4, 120)
    for s in report.layers:
        xi = inputs[s.name]
        mean, var_b, var_u = independent_stats(xi)
        assert s.values_per_channel == xi.numel() // xi.shape[1]
        assert close(s.batch_mean, mean) and close(s.batch_var_biased, var_b)
        assert close(s.batch_var_unbiased, var_u)
        m = 0.1
        assert close(s.running_mean_after, [m * float(v) for v in mean])
        assert close(s.running_var_after, [(1 - m) + m * float(v) for v in var_u])
        assert close(s.running_mean_before, [0.0] * s.num_features)
        assert close(s.weight, [1.0] * s.num_features) and close(s.bias, [0.0] * s.num_features)
        assert s.max_abs_diff_manual < 1e-4
        # fresh buffers (0, 1) in eval mode normalise nothing away: train ≠ eval
        assert s.max_abs_diff_train_eval > 1e-3
        assert close(s.out_mean, [0.0] * s.num_features, 1e-4)
        # output std = sqrt(var / (var + eps)) per channel, by hand
        want = [math.sqrt(float(v) / (float(v) + s.eps)) for v in var_b]
        assert close(s.out_std, want, 1e-3)


def test_caller_model_untouched(lenet_bn):
    spec, model = lenet_bn
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bn.analyze_bn(model, spec.input_shape, batch=3)
    bn.running_evolution(model, "bn2", spec.input_shape, steps=3)
    assert not model.training  # the copy was put in train mode, not the caller's model
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in model.modules())
    model.train()


def test_custom_gamma_beta_and_trained_buffers():
    layer = nn.BatchNorm2d(2, momentum=0.3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([2.0, -0.5]))
        layer.bias.copy_(torch.tensor([1.0, 3.0]))
        layer.running_mean.copy_(torch.tensor([0.5, -1.0]))
        layer.running_var.copy_(torch.tensor([4.0, 0.25]))
    model = nn.Sequential(layer)
    x = torch.randn(5, 2, 3, 3) * 3 + 1
    s = bn.analyze_bn(model, x=x).layers[0]
    mean, var_b, var_u = independent_stats(x)
    assert close(s.out_mean, [1.0, 3.0], 1e-4)  # ≈ β
    assert close(s.out_std, [2.0, 0.5], 1e-3)  # ≈ |γ|
    assert close(s.running_mean_after, [0.7 * r + 0.3 * float(b) for r, b in
                                        zip([0.5, -1.0], mean)])
    assert close(s.running_var_after, [0.7 * r + 0.3 * float(b) for r, b in
                                       zip([4.0, 0.25], var_u)])
    # eval output uses the running buffers: (x − rm)/sqrt(rv + eps)·γ + β
    y_eval = (x - torch.tensor([0.5, -1.0]).view(1, 2, 1, 1)) / torch.sqrt(
        torch.tensor([4.0, 0.25]).view(1, 2, 1, 1) + 1e-5) * torch.tensor([2.0, -0.5]).view(
        1, 2, 1, 1) + torch.tensor([1.0, 3.0]).view(1, 2, 1, 1)
    y_train = bn.manual_bn(x, 1e-5, layer.weight, layer.bias)
    assert math.isclose(s.max_abs_diff_train_eval, float((y_train - y_eval).abs().max()),
                        rel_tol=1e-4)


@pytest.mark.parametrize("momentum", [0.1, 1.0, None])
def test_running_evolution_formula(lenet_bn, momentum):
    spec, model = lenet_bn
    (evo,) = bn.running_evolution(model, "bn1", spec.input_shape, batch=3, steps=6,
                                  momenta=(momentum,), seed=11)
    assert evo.steps == 6 and len(evo.running_mean) == 7 and len(evo.batch_mean) == 6
    for c in evo.channels:
        bm = [row[c] for row in evo.batch_mean]
        bv = [row[c] for row in evo.batch_var_unbiased]
        # written out: r ← (1 − m)·r + m·b, and m = 1/t for the cumulative average
        r, rv = 0.0, 1.0
        for t, (b, v) in enumerate(zip(bm, bv), start=1):
            m = 1.0 / t if momentum is None else momentum
            r, rv = (1 - m) * r + m * b, (1 - m) * rv + m * v
            assert math.isclose(evo.running_mean[t][c], r, abs_tol=1e-5)
            assert math.isclose(evo.running_var[t][c], rv, rel_tol=1e-4, abs_tol=1e-6)
        assert evo.running_mean[0][c] == 0.0
        if momentum is None:
            assert math.isclose(evo.running_mean[-1][c], sum(bm) / len(bm), abs_tol=1e-5)
            assert math.isclose(evo.cumulative_mean[-1][c], sum(bm) / len(bm), abs_tol=1e-9)
        if momentum == 1.0:
            assert math.isclose(evo.running_mean[-1][c], bm[-1], abs_tol=1e-5)


def test_evolution_batches_match_the_seeded_batches(lenet_bn):
    spec, model = lenet_bn
    (evo,) = bn.running_evolution(model, "bn1", spec.input_shape, batch=2, steps=2,
                                  momenta=(1.0,), seed=4)
    x = bn.synthetic_batch(spec.input_shape, 2, seed=5)  # step 2 uses seed + 1
    rep = bn.analyze_bn(model, x=x, layers=["bn1"])
    assert close(evo.batch_mean[1], rep.layers[0].batch_mean[:len(evo.channels)])


def test_expected_running_helper():
    assert bn.expected_running(0.0, [1.0, 1.0], 0.5) == [0.5, 0.75]
    assert bn.expected_running(5.0, [1.0, 3.0], None) == [1.0, 2.0]


def test_errors_name_cause(lenet_bn):
    spec, model = lenet_bn
    with pytest.raises(bn.BNError, match="BN layers: bn1, bn2, bn3, bn4"):
        bn.running_evolution(model, "conv1", spec.input_shape)
    with pytest.raises(bn.BNError, match="batch of 2"):
        bn.analyze_bn(model, spec.input_shape, batch=1)
    with pytest.raises(bn.BNError, match="no BatchNorm"):
        bn.analyze_bn(build_model(resolve("lenet")), (1, 28, 28))
    assert bn.parse_momentum("none") is None and bn.parse_momentum("0.5") == 0.5
    with pytest.raises(bn.BNError):
        bn.parse_momentum("2")


def test_cli_model_and_errors(capsys):
    assert main(["bn", "lenet-bn", "--layer", "bn3", "--steps", "3", "--momentum", "none",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in d["layers"]] == ["bn3"]
    assert d["evolution"]["momentum"] is None and len(d["evolution"]["running_mean"]) == 4
    assert main(["bn", "lenet-bn", "--layer", "nope"]) == 2
    err = capsys.readouterr().err
    assert "bn1, bn2, bn3, bn4" in err and "Traceback" not in err
    assert main(["bn"]) == 2
    assert main(["bn", "lenet"]) == 2
    assert main(["bn", "lenet-bn", "--momentum", "x", "--steps", "2"]) == 2


def test_resnet_bn_layers_any_model():
    spec = resolve("resnet18", {"height": "32", "width": "32"})
    model = build_model(spec)
    rep = bn.analyze_bn(model, spec.input_shape, batch=2, seed=1)
    assert len(rep.layers) == len(bn.bn_layers(model)) > 10
    assert all(s.max_abs_diff_manual < 1e-4 for s in rep.layers)
