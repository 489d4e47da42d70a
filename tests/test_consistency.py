"""A result that fails its own consistency checks is never cached (issue 15 item 3)."""

from __future__ import annotations

import dataclasses

import pytest

import vizapp.analysis as analysis
from components import state
from vizapp.analysis import analyze_spec
from vizapp.analysis.consistency import InconsistentAnalysis, check, problems
from vizapp.zoo import presets, resolve


@pytest.fixture(scope="module")
def resnet50():
    spec = resolve("resnet50", {"batch": "1"})
    return spec, analyze_spec(spec)


def _two_nodes(a):
    """What overlapping traces once produced: ResNet-50 with 2 nodes, output = input."""
    inp = a.nodes[0]
    out = dataclasses.replace(a.nodes[-1], inputs=(inp.id,), output_shape=inp.output_shape)
    return dataclasses.replace(a, nodes=(inp, out), output_shape=inp.output_shape,
                               total_macs=0)


@pytest.mark.parametrize("name", list(presets()) + ["torchvision:mobilenet_v2"])
def test_every_preset_is_consistent(name):
    spec = resolve(name)
    assert problems(analyze_spec(spec), (spec.batch, *spec.input_shape)) == []


def test_a_failed_analysis_is_consistent_too():
    spec = resolve("alexnet", {"height": "28", "width": "28"})
    a = analyze_spec(spec)
    assert a.failure is not None and problems(a, (spec.batch, *spec.input_shape)) == []


def test_wrong_results_are_caught(resnet50):
    spec, a = resnet50
    found = problems(_two_nodes(a), (1, *spec.input_shape))
    assert any("only 2 nodes" in p for p in found)
    assert any("total params" in p or "model block" in p for p in found)
    assert problems(dataclasses.replace(a, total_macs=a.total_macs + 1))
    assert problems(dataclasses.replace(a, output_shape=(1, 999)))
    assert problems(a, (2, *spec.input_shape))  # not the input that was asked for
    with pytest.raises(InconsistentAnalysis, match="inconsistent"):
        check(_two_nodes(a))


def test_the_shared_cache_refuses_an_inconsistent_result(monkeypatch, resnet50):
    spec, good = resnet50
    results = [_two_nodes(good), good]
    calls = []

    def flaky(s):
        calls.append(s)
        return results[min(len(calls) - 1, 1)]

    from vizapp.runtime import workers

    monkeypatch.setattr(workers, "WORKERS", 0)  # in this process, where the patch applies
    state.cached_analysis.clear()
    monkeypatch.setattr(analysis, "analyze_spec", flaky)
    a = state.get_analysis(spec)  # wrong, not kept; computed again: right
    assert a is not None and len(a.nodes) == len(good.nodes) and len(calls) == 2
    assert len(state.cached_analysis(spec).nodes) == len(good.nodes)
    assert len(calls) == 2  # the good one was cached

    state.cached_analysis.clear()
    calls.clear()
    results[:] = [_two_nodes(good), _two_nodes(good)]
    assert state.get_analysis(spec) is None  # wrong twice: a message, nothing cached
    results[:] = [good, good]
    calls.clear()
    assert len(state.cached_analysis(spec).nodes) == len(good.nodes) and len(calls) == 1
    state.cached_analysis.clear()
