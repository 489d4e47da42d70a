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
