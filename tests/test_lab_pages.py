"""The BatchNorm, Feature maps, LR schedules and Run page bodies render without errors (AppTest,
each page standalone for one model)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


def _page(module: str, model: str, state: dict | None = None, click: str | None = None,
          errors_ok: bool = False):
    def script(module: str, model: str) -> None:
        import importlib

        from components import frame

        from vizapp.zoo import resolve

        importlib.import_module(module).render(frame.begin(resolve(model)))

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

        from components import frame

        from vizapp.zoo import resolve

        importlib.import_module(module).render(frame.begin(resolve(model)))

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


# ----------------------------------------------------------------------------- trained weights
def _trained_run():
    from vizapp.labs import data as D
    from vizapp.labs import train as T
    from vizapp.zoo import build_model, resolve

    spec = resolve("lenet-bn")
    ds = D.shapes((1, 28, 28), 10, n=200, seed=1)
    run = T.TrainRun([T.Job("lenet-bn", build_model(spec, seed=0), {}, None, spec)], ds,
                     T.TrainSettings(epochs=2, lr=0.5, batch_size=32)).start()
    run.thread.join(120)
    assert run.results["lenet-bn"].status == "done"
    return run


@pytest.fixture(scope="module")
def trained():
    return _trained_run()


def _spec_page(module: str, model: str, overrides: dict | None, state: dict):
    def script(module: str, model: str, overrides: dict | None) -> None:
        import importlib

        from components import frame

        from vizapp.zoo import resolve

        importlib.import_module(module).render(frame.begin(resolve(model, overrides or {})))

    at = AppTest.from_function(script, args=(module, model, overrides), default_timeout=300)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _array(z):
    """A plotly array from figure JSON: a nested list or {"dtype", "bdata", "shape"}."""
    import base64

    import numpy as np

    if isinstance(z, dict):
        a = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        shape = [int(d) for d in str(z.get("shape", len(a))).split(",")]
        return a.reshape(shape).astype(float)
    return np.asarray(z, dtype=float)


def _heatmaps(at, shape) -> list:
    """The z of every heatmap of the given shape, over all the page's plotly charts."""
    import json

    out = []
    for e in at.get("plotly_chart"):
        for t in json.loads(e.proto.spec)["data"]:
            if t.get("type") == "heatmap":
                z = _array(t["z"])
                if z.shape == tuple(shape):
                    out.append(z)
    return out


def _scaled(w):
    """An image as the filter grid draws it: stretched to its own [0, 1]."""
    import numpy as np

    a = np.asarray(w, dtype=float)
    return (a - a.min()) / (np.ptp(a) or 1.0)


def test_features_page_shows_the_trained_filters_and_maps(trained):
    import numpy as np

    from vizapp.labs import features as F
    from vizapp.labs import train as T
    from vizapp.zoo import build_model, resolve

    (t,) = T.trained_for(trained, resolve("lenet-bn"))
    sd = t.state_dict
    at = _spec_page("components.page_features", "lenet-bn", None,
                    {"vz.train.run": trained, "vz.feat.layer": "conv1"})
    assert at.radio(key="vz.feat.weights").value == t.key  # trained is the default
    assert at.selectbox(key="vz.feat.kind").value == "val"
    assert any("Showing the trained weights of lenet-bn" in c.value for c in at.caption)
    filters = _heatmaps(at, (5, 5))
    assert len(filters) == 6
    for i, z in enumerate(filters):
        np.testing.assert_allclose(z, _scaled(sd["conv1.weight"][i, 0].numpy()), atol=1e-6)
    # the maps are those of validation image 0 through the trained model
    x, (true,) = t.validation(0)
    want = F.feature_maps(T.trained_model(t), "conv1", x, max_channels=16).maps
    maps = _heatmaps(at, want.shape[1:])
    assert len(maps) == len(want)
    for z, w in zip(maps, want):
        np.testing.assert_allclose(z, w, rtol=1e-5, atol=1e-6)
    assert any(f"true class: {t.data.classes[true]}" in x.value for x in at.text)
    # random weights are still there, and are what the filter grid then shows
    at.radio(key="vz.feat.weights").set_value("random").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="vz.feat.kind").value != "val"
    rand = build_model(resolve("lenet-bn"), seed=0).state_dict()["conv1.weight"]
    assert not np.allclose(rand.numpy(), sd["conv1.weight"].numpy())
    filters = _heatmaps(at, (5, 5))
    assert len(filters) == 6
    for i, z in enumerate(filters):
        np.testing.assert_allclose(z, _scaled(rand[i, 0].numpy()), atol=1e-6)
    assert any("Showing random weights" in c.value for c in at.caption)


@pytest.mark.parametrize("model,overrides,offered", [
    ("lenet-bn", {"batch": 8}, True),  # the batch is not part of the architecture
    ("lenet-bn", {"num_classes": 5}, False),  # same label family, another configuration
    ("lenet", None, False),
])
def test_only_the_trained_configuration_gets_the_trained_weights(trained, model, overrides,
                                                                  offered):
    import numpy as np

    from vizapp.zoo import build_model, resolve

    at = _spec_page("components.page_features", model, overrides, {"vz.train.run": trained})
    assert bool([r for r in at.radio if r.key == "vz.feat.weights"]) == offered
    sd = (trained.results["lenet-bn"].state_dict if offered else
          build_model(resolve(model, overrides or {}), seed=0).state_dict())
    filters = _heatmaps(at, (5, 5))
    assert len(filters) == 6
    for i, z in enumerate(filters):
        np.testing.assert_allclose(z, _scaled(sd["conv1.weight"][i, 0].numpy()), atol=1e-6)
    if not offered:
        assert any("is another configuration" in c.value for c in at.caption)


def test_batchnorm_page_shows_the_trained_running_statistics(trained):
    import numpy as np

    sd = trained.results["lenet-bn"].state_dict
    at = _spec_page("components.page_batchnorm", "lenet-bn", None, {"vz.train.run": trained})
    rows = at.dataframe[0].value
    np.testing.assert_allclose(rows["running_mean before"], sd["bn1.running_mean"].numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(rows["running_var before"], sd["bn1.running_var"].numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(rows["γ"], sd["bn1.weight"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(rows["β"], sd["bn1.bias"].numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(sd["bn1.running_mean"].numpy(), 0)  # training moved them
    assert any("validation images of shapes" in c.value for c in at.caption)
    at.radio(key="vz.bn.weights").set_value("random").run()
    assert not at.exception and not at.error
    rows = at.dataframe[0].value
    assert np.allclose(rows["running_mean before"], 0) and np.allclose(rows["γ"], 1)
    other = _spec_page("components.page_batchnorm", "lenet-bn", {"num_classes": 5},
                       {"vz.train.run": trained})
    assert np.allclose(other.dataframe[0].value["running_mean before"], 0)


def test_run_page_says_the_trained_model_times_the_same(trained):
    at = _spec_page("components.page_run", "lenet-bn", None, {"vz.train.run": trained})
    assert any("trained in the Train lab (lenet-bn)" in i.value for i in at.info)
    at = _spec_page("components.page_run", "lenet", None, {"vz.train.run": trained})
    assert not any("Train lab" in i.value for i in at.info)
