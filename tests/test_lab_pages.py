"""The BatchNorm, Feature maps, LR schedules and Run page bodies render without errors (AppTest,
each page standalone for one model)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


def _page(module: str, model: str, state: dict | None = None, click: str | None = None,
          errors_ok: bool = False):
    def script(module: str, model: str) -> None:
        import importlib

        from vizapp.zoo import resolve

        importlib.import_module(module).render(resolve(model))

    at = AppTest.from_function(script, args=(module, model), default_timeout=300)
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    if click:
        at.button(key=click).click().run()
    assert not at.exception, [e.value for e in at.exception]
    if not errors_ok:
        assert not at.error, [e.value for e in at.error]
    return at


def test_batchnorm_page():
    at = _page("components.page_batchnorm", "lenet-bn")
    labels = {m.label: m.value for m in at.metric}
    assert float(labels["max |manual − module|"]) < 1e-5
    assert len(at.tabs) == 3


def test_batchnorm_page_without_bn_layers():
    at = _page("components.page_batchnorm", "lenet")
    assert any("no BatchNorm layer" in i.value for i in at.info)


def test_features_page():
    _page("components.page_features", "lenet", {"vz.feat.layer": "fc1"})
    _page("components.page_features", "lenet", {"vz.feat.kind": "checkerboard"})


@pytest.mark.parametrize("name", ["ReduceLROnPlateau", "OneCycleLR", "LambdaLR"])
def test_schedules_page(name):
    _page("components.page_schedules", "lenet", {"vz.sched.name": name})


def test_run_page_runs_on_cpu():
    at = _page("components.page_run", "lenet", {"vz.run.iters": 3}, click="vz.run.go")
    assert {m.label for m in at.metric} >= {"latency p50", "latency p95", "throughput",
                                            "peak memory"}


def test_run_page_refuses_a_huge_batch():
    at = _page("components.page_run", "resnet50", {"vz.run.batch": 65536}, errors_ok=True)
    assert any("will not fit" in e.value and "use a batch of" in e.value for e in at.error)


def _linked(module: str, model: str, query: dict[str, str]):
    """The page opened from a link carrying ``query``."""
    def script(module: str, model: str) -> None:
        import importlib

        from vizapp.zoo import resolve

        importlib.import_module(module).render(resolve(model))

    at = AppTest.from_function(script, args=(module, model), default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_schedule_link_reopens_schedule_and_parameters():
    at = _linked("components.page_schedules", "lenet",
                 {"sched": "ExponentialLR", "epochs": "40", "lr": "0.05", "s.gamma": "0.9"})
    assert at.selectbox(key="vz.sched.name").value == "ExponentialLR"
    assert at.number_input(key="vz.sched.epochs").value == 40
    assert at.number_input(key="vz.sched.lr").value == pytest.approx(0.05)
    assert at.query_params["s.gamma"] == "0.9" and at.query_params["sched"] == "ExponentialLR"
    at.selectbox(key="vz.sched.name").set_value("StepLR").run()  # the default: no sched=
    assert "sched" not in at.query_params and "s.gamma" not in at.query_params
    assert at.query_params["epochs"] == "40"
    bad = _linked("components.page_schedules", "lenet", {"sched": "Nope", "epochs": "x"})
    assert bad.selectbox(key="vz.sched.name").value == "StepLR"  # the first, as without a link
    assert bad.number_input(key="vz.sched.epochs").value == 100


def test_bn_and_feature_layers_come_from_the_link():
    at = _linked("components.page_batchnorm", "lenet-bn", {"bn_layer": "bn3"})
    assert at.selectbox(key="vz.bn.layer_stats").value == "bn3"
    assert at.query_params["bn_layer"] == "bn3"
    at = _linked("components.page_features", "lenet", {"fm_layer": "conv2"})
    assert at.selectbox(key="vz.feat.layer").value == "conv2"
    assert at.query_params["fm_layer"] == "conv2"
