"""Real weights only within a byte budget, estimated on meta before anything is allocated
(issue 15 item 4); uploads decoded within a pixel cap (item 6); ``?batch=`` clamped on the
BatchNorm page (item 5)."""

from __future__ import annotations

import io
import resource

import pytest
import torch
from streamlit.testing.v1 import AppTest

import vizapp.runtime as R
from vizapp.cli import main
from vizapp.labs.features import MAX_UPLOAD_PIXELS, FeatureError, decode_image
from vizapp.runtime import BuildRefused, check_build, estimate_build, model_cache
from vizapp.zoo import build_model, resolve
from vizapp.zoo.meta_build import build_meta, weight_bytes

HUGE_LENET = resolve("lenet-bn", {"in_channels": "1", "height": "4096", "width": "4096"})


def _rss_peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def test_meta_estimate_matches_the_real_weights():
    spec = resolve("resnet18")
    est = estimate_build(spec, 4)
    assert est.param_bytes == weight_bytes(build_model(spec))
    assert est.activation_bytes > 0 and est.fits


def test_regnet_builds_on_meta_without_weights():
    spec = resolve("torchvision:regnet_y_128gf")
    before = _rss_peak_mib()
    m = build_meta(spec)
    assert {p.device.type for p in m.parameters()} == {"meta"}
    assert weight_bytes(m) > 2_000_000_000  # 2.5 GB of weights, none allocated
    assert _rss_peak_mib() - before < 500


def test_a_huge_build_is_refused_with_the_numbers_before_any_allocation():
    before = _rss_peak_mib()
    with pytest.raises(BuildRefused) as ei:
        check_build(HUGE_LENET, 2, weight_copies=2)
    assert _rss_peak_mib() - before < 500  # the 7.5 GiB fc1 was never allocated
    msg = str(ei.value)
    assert "not built" in msg and "GiB" in msg and "budget" in msg and "Fix:" in msg


def test_cli_bn_refuses_in_one_line(capsys):
    assert main(["bn", "lenet-bn", "--input", "1,4096,4096"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not built" in err and "Traceback" not in err


def test_model_cache_is_bounded_in_bytes(monkeypatch):
    R.clear_cache()
    cpu = torch.device("cpu")
    small = resolve("lenet")
    big = resolve("alexnet", {"height": "64", "width": "64"})
    big_bytes = weight_bytes(build_meta(big))
    monkeypatch.setattr(model_cache, "MODEL_CACHE_BYTES", big_bytes + 1000)
    R.cached_model(small, cpu)
    R.cached_model(big, cpu)  # lenet + alexnet > the bound: lenet goes
    assert len(model_cache._CACHE) == 1 and R.cache_bytes() == big_bytes
    R.clear_cache()


def _page(module: str, spec, state=None):
    def script(module, spec):
        import importlib

        from components import frame

        importlib.import_module(module).render(frame.begin(spec))

    at = AppTest.from_function(script, args=(module, spec), default_timeout=300)
    for k, v in (state or {}).items():
        at.session_state[k] = v
    return at.run()


@pytest.mark.parametrize("module", ["components.page_features", "components.page_batchnorm",
                                    "components.page_run"])
def test_pages_refuse_a_huge_model_with_a_message(module):
    before = _rss_peak_mib()
    at = _page(module, HUGE_LENET)
    assert not at.exception, [e.value for e in at.exception]
    assert any("not built" in e.value and "budget" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert _rss_peak_mib() - before < 1000


def test_batchnorm_page_clamps_a_huge_batch_with_a_note():
    at = _page("components.page_batchnorm", resolve("lenet-bn", {"batch": "1000"}))
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="vz.bn.batch").value == 256
    assert any("batch 1000" in c.value and "at most 256" in c.value for c in at.caption)


def _png(w: int, h: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (w, h)).save(buf, "PNG")
    return buf.getvalue()


def test_decode_downscales_and_refuses_by_header():
    a = decode_image(_png(3000, 1500))
    assert a.shape == (512, 1024, 3)
    big = _png(4097, 4097)  # compresses to a few KB
    assert len(big) < 200_000 and 4097 * 4097 > MAX_UPLOAD_PIXELS
    before = _rss_peak_mib()
    with pytest.raises(FeatureError, match="downscale it first"):
        decode_image(big)
    assert _rss_peak_mib() - before < 40  # refused before decoding 16.8 M pixels


def test_upload_errors_name_no_python_object():
    with pytest.raises(FeatureError) as ei:
        decode_image(b"this is not an image")
    assert "BytesIO" not in str(ei.value) and "0x" not in str(ei.value)
    with pytest.raises(FeatureError, match="truncated or damaged"):
        decode_image(_png(64, 64)[:60])


def test_feature_maps_stay_small_whatever_the_input():
    """A cached feature-map result held K full planes (64 × 1024² floats = 268 MB)."""
    from vizapp.labs.features import DISPLAY_PIXELS, feature_maps, make_input

    from torch import nn

    spec = resolve("lenet", {"height": "1024", "width": "1024"})
    model = nn.Sequential()
    model.add_module("conv1", nn.Conv2d(1, 8, 5, padding=2))
    x = make_input("checkerboard", spec.input_shape)
    fm = feature_maps(model, "conv1", x, max_channels=6)
    assert fm.output_shape[-2:] == (1024, 1024)
    assert fm.maps.shape[0] == 6 and fm.maps.shape[1] * fm.maps.shape[2] <= DISPLAY_PIXELS
    assert fm.image.shape[0] * fm.image.shape[1] <= DISPLAY_PIXELS
    assert "averaged down" in fm.note
    small = feature_maps(model, "conv1", make_input("checkerboard", (1, 28, 28)), max_channels=6)
    assert small.maps.shape == (6, 28, 28) and not small.note
