"""The Train lab's speed figures and its GPU path (issue 24, item 5). The CUDA tests skip
without a GPU; the FLOP count is checked on the CPU against the analysis' MACs."""

from __future__ import annotations

import pytest
import torch

from vizapp.analysis import analyze_spec
from vizapp.labs import data as D
from vizapp.labs import train as T
from vizapp.labs.train.loop import forward_flops
from vizapp.runtime.devices import PEAK_TFLOPS, peak_tflops
from vizapp.zoo import build_model, resolve

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@pytest.mark.parametrize("name", ["lenet-bn", "alexnet", "resnet18"])
def test_forward_flops_are_twice_the_analysis_macs(name):
    spec = resolve(name)
    a = analyze_spec(spec)
    x = torch.zeros(1, *spec.config.input_shape)
    assert forward_flops(build_model(spec), x) == 2 * a.macs_per_image


def test_epoch_records_carry_the_training_flops():
    ds = D.digits((1, 28, 28), 10, seed=0)
    spec = resolve("lenet-bn")
    r = T.train(build_model(spec), ds, T.TrainSettings(lr=0.9, epochs=1))
    e = r.epochs[0]
    fwd = 2 * analyze_spec(spec).macs_per_image
    assert e.flops_per_s == pytest.approx(e.images_per_s * 3 * fwd)
    assert peak_tflops("cpu", "fp32") is None  # no published peak for a CPU: none claimed


def test_the_peak_table_is_sane():
    for name, half, single in PEAK_TFLOPS:
        assert half > single > 0, name


@cuda
def test_cuda_training_autocasts_and_reports_its_share_of_the_peak():
    ds = D.digits((1, 28, 28), 10, seed=0)
    r = T.train(build_model(resolve("lenet-bn")), ds,
                T.TrainSettings(lr=0.9, epochs=2, device="cuda"))
    assert r.status == "done" and r.device.startswith("cuda")
    assert r.precision in ("bfloat16", "float16")
    assert r.epochs[-1].val_acc > 0.8 and r.epochs[-1].flops_per_s > 0
    f32 = T.train(build_model(resolve("lenet-bn")), ds,
                  T.TrainSettings(lr=0.9, epochs=1, device="cuda", precision="fp32"))
    assert f32.precision == "fp32"


@cuda
def test_cuda_training_uses_channels_last():
    seen = []
    model = build_model(resolve("lenet-bn"))
    model.conv1.register_forward_pre_hook(
        lambda m, a: seen.append(a[0].is_contiguous(memory_format=torch.channels_last)))
    T.train(model, D.digits((1, 28, 28), 10, seed=0),
            T.TrainSettings(lr=0.9, epochs=1, device="cuda"), in_place=True)
    assert seen and all(seen)
