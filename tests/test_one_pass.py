"""One pass per rerun: a knob change on the Graph page fetches its analysis once and lays out
its graph once (issue: one pass per rerun, one owner per fact)."""

from __future__ import annotations

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
