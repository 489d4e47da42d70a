"""Inside the network while it learns (issue 24, item 4): per-layer weight/gradient norms and
distributions and the activations after each BatchNorm/activation, sampled on logged steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vizapp.labs import data as D
from vizapp.labs import train as T
from vizapp.labs.train.inside import SAMPLE, Inside, output_layers, param_layers
from vizapp.labs.train.loop import INSIDE_SAMPLES
from vizapp.labs.train.records import LayerStats
from vizapp.render.plots_inside import activations, distribution, norms, regrid
from vizapp.zoo import build_model, resolve


@pytest.fixture(scope="module")
def digits():
    return D.digits((1, 28, 28), 10, seed=0)


def _inside(recs):
    return [r for r in recs if isinstance(r, LayerStats)]


def test_one_step_equals_direct_computation(digits):
    """The hooks' numbers equal the same numbers computed from captured tensors."""
    torch.manual_seed(1)
    model = build_model(resolve("lenet-bn")).train()
    got: list[LayerStats] = []
    inside = Inside(model, got.append)
    outs = {}
    handles = [m.register_forward_hook(lambda m, a, o, n=n: outs.__setitem__(n, o.detach()))
               for n, m in output_layers(model)]
    inside.arm(True, 7, 0.5)
    loss = F.cross_entropy(model(digits.x_train[:64]), digits.y_train[:64])
    loss.backward()
    inside.after_backward()
    for h in handles:
        h.remove()
    inside.remove()
    by = {(r.layer, r.kind): r for r in got}
    assert {k for k, _ in by} == {n for n, _ in output_layers(model)} | \
        {n for n, _ in param_layers(model)}
    for name, out in outs.items():
        r = by[(name, "act")]
        assert r.step == 7 and r.epochs_done == 0.5
        assert r.mean == pytest.approx(float(out.mean()), rel=1e-5, abs=1e-7)
        assert r.std == pytest.approx(float(out.std()), rel=1e-5)
        assert sum(r.counts) == min(out.numel(), SAMPLE)
    for name, m in param_layers(model):
        assert by[(name, "grad")].norm == pytest.approx(float(m.weight.grad.norm()), rel=1e-5)
        assert by[(name, "weight")].norm == pytest.approx(float(m.weight.detach().norm()), rel=1e-5)
        w = m.weight.detach().flatten()
        assert by[(name, "weight")].lo >= float(w.min()) and by[(name, "weight")].hi <= float(w.max())
    sig = [r for r in got if r.kind == "act" and r.layer.startswith("act")]
    outs_sig = {n: o for n, o in outs.items() if n.startswith("act")}
    for r in sig:  # the saturated share, counted directly
        o = outs_sig[r.layer]
        assert r.saturated == pytest.approx(float(((o <= 0.05) | (o >= 0.95)).float().mean()))


def test_sigmoid_without_batchnorm_starves_the_first_layer(digits):
    """LeNet (sigmoid) at lr 0.9: conv1's gradient is < 1 % of the last layer's on the first
    logged step; with BatchNorm the ratio is over ten times larger."""
    ratios = {}
    for name in ("lenet", "lenet-bn"):
        torch.manual_seed(0)
        recs: list = []
        T.train(build_model(resolve(name)), digits,
                T.TrainSettings(lr=0.9, epochs=1, batch_size=64), emit=recs.append)
        ins = _inside(recs)
        first = min(r.step for r in ins)
        g = {r.layer: r.norm for r in ins if r.step == first and r.kind == "grad"}
        ratios[name] = g["conv1"] / g["fc3"]
    assert ratios["lenet"] < 0.01
    assert ratios["lenet-bn"] > 10 * ratios["lenet"]


def test_sampled_steps_are_bounded_and_can_be_off(digits):
    recs: list = []
    T.train(build_model(resolve("lenet")), digits,
            T.TrainSettings(lr=0.5, epochs=1, batch_size=4, log_every=1, max_seconds=600),
            emit=recs.append)
    steps = {r.step for r in _inside(recs)}
    logged = [r for r in recs if isinstance(r, T.StepRecord)]
    assert len(logged) > 2 * INSIDE_SAMPLES  # every step logged …
    assert INSIDE_SAMPLES // 2 <= len(steps) <= INSIDE_SAMPLES + 1  # … a bounded share sampled
    recs = []
    T.train(build_model(resolve("lenet")), digits,
            T.TrainSettings(lr=0.5, epochs=1, inside=False), emit=recs.append)
    assert not _inside(recs)


def test_regrid_keeps_each_step_a_distribution():
    a = LayerStats(1, 0.1, "x", "act", 0, 1, 1, -1.0, 1.0, (0, 10, 0, 0))  # all in [-0.5, 0)
    b = LayerStats(2, 0.2, "x", "act", 0, 1, 1, 0.0, 4.0, (0, 0, 0, 5))  # all in [3, 4]
    centres, z = regrid([a, b], bins=10)
    assert np.allclose(z.sum(axis=0), 1.0)
    assert -0.5 <= centres[z[:, 0].argmax()] <= 0.0
    assert 3.0 <= centres[z[:, 1].argmax()] <= 4.0


def test_figures_draw_the_records(digits):
    recs: list = []
    T.train(build_model(resolve("lenet-bn")), digits, T.TrainSettings(lr=0.9, epochs=1),
            emit=recs.append)
    ins = _inside(recs)
    assert len(norms(ins).data) == 2 * len(param_layers(build_model(resolve("lenet-bn"))))
    assert activations(ins).data
    fig = distribution(ins, "conv1", "grad")
    assert fig.data[0].type == "heatmap" and len(fig.data[0].x) == len({r.step for r in ins})
