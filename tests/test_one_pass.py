"""One pass per rerun: a knob change on the Graph page fetches its analysis once and lays out
its graph once (issue: one pass per rerun, one owner per fact)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_app import MAIN


def _count(monkeypatch, obj, name):
    calls = []
    real = getattr(obj, name)

    def counted(*args, **kwargs):
        calls.append(args[:1])
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, name, counted)
    return calls


def test_a_knob_change_fetches_the_analysis_once_and_lays_out_once(monkeypatch):
    from components import page_graph, state
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["model"] = "densenet"
    at.run()
    assert not at.exception
    fetched = _count(monkeypatch, state.ANALYSES, "get")
    laid_out = _count(monkeypatch, page_graph.LAYOUTS, "get")
    at.number_input(key="vz.k.densenet.growth_rate").set_value(16).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["growth_rate"] in ("16", ["16"])
    assert len(fetched) == 1, fetched
    assert len(laid_out) == 1, laid_out
    fetched.clear()
    laid_out.clear()
    at.number_input(key="vz.k.densenet.growth_rate").set_value(32).run()  # back: cache hits
    assert len(fetched) == 1 and len(laid_out) == 1, (fetched, laid_out)


# ----------------------------------------------------------------------------- one Train press
def _count_train_work(monkeypatch):
    """Wrap what a Train press may repeat: the zoo's family builds (meta or real), the memory
    estimates and the deep copies of a module; each is logged with the model it was for
    (LeNet-BN or LeNet: the two configurations differ in ``batch_norm``)."""
    import copy
    import dataclasses
    import threading

    import torch.nn as nn

    from vizapp.runtime import memory
    from vizapp.zoo import registry

    log: list[tuple[str, str]] = []
    registry.families()  # every family registered before its build is wrapped
    for name, fam in list(registry.FAMILIES.items()):
        def build(cfg, _build=fam.build):
            model = _build(cfg)
            meta = any(p.is_meta for p in model.parameters())
            log.append(("build " + ("meta" if meta else "real"), _which(cfg.batch_norm)))
            return model
        monkeypatch.setitem(registry.FAMILIES, name, dataclasses.replace(fam, build=build))

    estimate_memory = memory.estimate_memory

    def estimate(model, *args, **kwargs):
        log.append(("estimate", _which(_has_bn(model))))
        return estimate_memory(model, *args, **kwargs)
    monkeypatch.setattr(memory, "estimate_memory", estimate)

    deepcopy, depth = copy.deepcopy, threading.local()

    def counted_deepcopy(x, *args, **kwargs):  # the copy's own recursion is not counted
        outer = not getattr(depth, "n", 0) and isinstance(x, nn.Module)
        if outer:
            log.append(("deepcopy", _which(_has_bn(x))))
        depth.n = getattr(depth, "n", 0) + 1
        try:
            return deepcopy(x, *args, **kwargs)
        finally:
            depth.n -= 1
    monkeypatch.setattr(copy, "deepcopy", counted_deepcopy)
    return log


def _has_bn(model) -> bool:
    import torch.nn as nn

    return any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def _which(batch_norm: bool) -> str:
    return "lenet-bn" if batch_norm else "lenet"


@pytest.mark.parametrize("mode,state,want", [
    ("model", {}, {("build meta", "lenet-bn"): 1, ("build real", "lenet-bn"): 1,
                   ("estimate", "lenet-bn"): 1, ("build real", "lenet"): 1,
                   ("estimate", "lenet"): 1}),
    # two runs of one configuration: two models (one each), one estimate for both
    ("lr", {"vz.train.lr2": 0.1}, {("build meta", "lenet-bn"): 1,
                                   ("build real", "lenet-bn"): 2, ("estimate", "lenet-bn"): 1}),
])
def test_one_train_press_builds_and_estimates_each_model_once(monkeypatch, mode, state, want):
    """A configuration no test used before (so every cache is cold) drawn on the Train page,
    then Train pressed (LeNet-BN vs LeNet, or two learning rates) until both runs end: the
    page's layer list and memory estimate come from one build on the meta device; each model
    is built with real weights once, estimated once (the run's check measures the budget
    again, not the model) and never deep-copied (the run owns the models the page built).
    Before: LeNet-BN built 3 times (2 on meta), estimated twice and deep-copied twice."""
    from collections import Counter

    log = _count_train_work(monkeypatch)

    def script(overrides: dict):
        from components import frame, page_train
        from vizapp.zoo import resolve

        # no analysis: this page does not use it, and its workers would count nothing here
        page_train.render(frame.Frame(resolve("lenet-bn", overrides), None))

    # height 26/25: a configuration of its own per case (cold caches, whatever ran before)
    side = 26 if mode == "model" else 25
    at = AppTest.from_function(script, args=({"height": side, "width": side,
                                              "num_classes": 6},), default_timeout=120)
    for k, v in {"vz.train.data": "shapes", "vz.train.n": 200, "vz.train.s.epochs": 1,
                 "vz.train.s.lr": 0.5, "vz.train.cmp": mode, **state}.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.button(key="vz.train.go").click().run()
    run = at.session_state["vz.train.run"]
    run.thread.join(120)
    assert [r.status for r in run.results.values()] == ["done", "done"], run.results
    assert Counter(log) == want, log
