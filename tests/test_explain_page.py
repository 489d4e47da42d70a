"""The Inside-a-layer page: the link's layer, position and input reopen it; the numbers on the
page are the pass's; a bad position or layer kind gives a message, not a traceback."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture(scope="module", autouse=True)
def workers_started_outside_the_script():
    """The analysis workers start from pytest's own __main__ (a spawned worker re-imports the
    starting process's main module, and inside AppTest that is the script)."""
    from vizapp.runtime import workers

    workers.warm()


def _linked(model: str, query: dict[str, str], state: dict | None = None):
    def script(model: str) -> None:
        from components import frame, page_explain

        from vizapp.zoo import resolve

        page_explain.render(frame.begin(resolve(model)))

    at = AppTest.from_function(script, args=(model,), default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_link_opens_layer_pixel_and_input_and_the_numbers_match_the_pass():
    import torch

    from vizapp import analyze
    from vizapp.labs import explain, features
    from vizapp.zoo import build_model, resolve

    at = _linked("lenet-bn", {"layer": "conv2", "at": "3,4,5", "src": "checkerboard"})
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="vz.explain.layer").value == "conv2"
    assert at.selectbox(key="vz.explain.kind").value == "checkerboard"
    assert at.query_params["at"] == "3,4,5"
    spec = resolve("lenet-bn")
    model = build_model(spec, seed=0)
    x = features.make_input("checkerboard", spec.input_shape)
    b = explain.explain(model, "conv2", x, (3, 4, 5), analysis=analyze(model, (1, 1, 28, 28)))
    m = _metrics(at)
    assert float(m["the layer's real output"]) == round(b.forward_output, 5)
    with torch.no_grad():  # and that is the model's own conv2 output there
        y = model.eval()[:5](x)
    assert abs(float(m["the layer's real output"]) - float(y[0, 3, 4, 5])) < 1e-5
    assert any("bn2" in str(d.value) for d in at.dataframe)  # then: BN, sigmoid


def test_pixel_inputs_move_and_the_link_follows():
    at = _linked("lenet", {"layer": "pool2", "at": "0,0,0"})
    at.number_input(key="vz.explain.at2.5").set_value(4).run()
    assert at.query_params["at"] == "0,0,4"
    assert not at.error


def test_linear_and_block_layers_render():
    at = _linked("lenet", {"layer": "fc1", "at": "7"})
    assert not at.error, [e.value for e in at.error]
    assert len(at.dataframe) >= 1
    at = _linked("resnet18", {"layer": "b3.0", "at": "1,2,3", "input": "1,64,64"})
    assert not at.error, [e.value for e in at.error]


def test_a_node_selected_on_the_graph_page_opens_its_layer():
    at = _linked("resnet18", {"input": "1,64,64"}, {"vz.graph.selected": "n-b3_0_conv3"})
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="vz.explain.layer").value == "b3.0.conv3"
    assert at.query_params["layer"] == "b3.0.conv3"
    at = _linked("resnet18", {"input": "1,64,64"}, {"vz.graph.selected": "b-b3.0"})
    assert at.selectbox(key="vz.explain.layer").value == "b3.0"
