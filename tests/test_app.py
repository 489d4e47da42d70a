"""The Streamlit app through AppTest: every page with every preset, the shareable URLs, knob
changes, invalid knobs (message under the knob, last good model kept), and the pure URL ⇄ spec
functions behind them."""

from __future__ import annotations

from pathlib import Path

import pytest

from components import state
from vizapp.zoo import presets, resolve

st_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = st_testing.AppTest

MAIN = str(Path(__file__).resolve().parents[1] / "vizapp" / "main.py")
PAGES = ["graph", "shapes", "compare", "batchnorm", "features", "explain", "schedules", "train",
         "run", "code"]
PRESETS = list(presets())
# what each page must show (besides its header); pages written elsewhere are only smoke-tested
KEY_ELEMENTS = {
    "shapes": ("dataframe", "plotly"),
    "compare": ("dataframe", "plotly"),
    "code": ("code",),
    "explain": ("plotly", "metric"),
}


def app(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    for k, v in query.items():
        at.query_params[k.replace("__", ".")] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page and page != "graph":
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def kinds(at: AppTest) -> set[str]:
    """Element types in the main area (graphviz, plotly and custom components appear under
    their proto field names: ``plotly_chart``, ``graphviz_chart`` …)."""
    out = set()

    def walk(node):
        if hasattr(node, "children"):
            for child in node.children.values():
                walk(child)
        out.add(str(getattr(node, "type", "")).lower())

    walk(at.main)
    return out


def unknown_protos(at: AppTest, which: str) -> list:
    """Protos of the elements AppTest does not model (graphviz, plotly …): their ``type`` is
    the proto's field name, e.g. ``graphviz_chart``."""
    out = []

    def walk(node):
        if hasattr(node, "children"):
            for child in node.children.values():
                walk(child)
        if getattr(node, "type", "") == which and getattr(node, "proto", None) is not None:
            out.append(node.proto)  # already the inner proto (GraphVizChart, PlotlyChart …)

    walk(at.main)
    return out


def headers(at: AppTest) -> list[str]:
    return [h.value for h in at.header]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def sidebar_errors(at: AppTest) -> list[str]:
    """Messages shown under a knob (red markdown in the sidebar)."""
    return [m.value for m in at.sidebar.markdown if m.value.startswith(":red[")]


def caption_text(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


# ------------------------------------------------------------------------------ pure URL ⇄ spec
@pytest.mark.parametrize("name", PRESETS)
def test_query_round_trip_and_minimal(name: str) -> None:
    spec = resolve(name)
    assert state.query_from_spec(spec) == {"model": name}  # nothing changed: nothing written
    again, msgs = state.spec_from_query(state.query_from_spec(spec))
    assert again == spec and msgs == []


def test_urls_from_the_issue() -> None:
    spec, msgs = state.spec_from_query({"model": "densenet", "growth_rate": "16"})
    assert spec.family == "densenet" and spec.config.growth_rate == 16 and not msgs
    assert state.query_from_spec(spec) == {"model": "densenet", "growth_rate": "16"}

    spec, msgs = state.spec_from_query({"model": "alexnet", "input": "1,28,28"})
    assert spec.input_shape == (1, 28, 28) and not msgs
    assert state.query_from_spec(spec) == {"model": "alexnet", "input": "1,28,28"}

    spec, msgs = state.spec_from_query({"model": "torchvision:densenet121", "depth": "99"})
    assert spec.family == "torchvision" and spec.config.name == "densenet121" and not msgs
    assert state.query_from_spec(spec) == {"model": "torchvision:densenet121"}


def test_bad_urls_give_messages_not_errors() -> None:
    spec, msgs = state.spec_from_query({"model": "nosuchnet"})
    assert spec.preset == state.default_model() and "unknown model" in msgs[0]
    spec, msgs = state.spec_from_query({"model": "densenet", "growth_rate": "lots",
                                        "input": "a,b", "typo": "1"})
    assert spec == resolve("densenet")
    text = " ".join(msgs)
    assert "growth_rate" in text and "input" in text and "'typo'" in text
    spec, msgs = state.spec_from_query({"model": "resnet18", "blocks": "2,2,2"})  # 3 ≠ 4 widths
    assert spec == resolve("resnet18") and msgs


# ------------------------------------------------------------------------------ every page
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("name", PRESETS)
def test_every_page_with_every_preset(page: str, name: str) -> None:
    at = app(page, model=name)
    shown = errors(at)
    if presets()[name].exercise:  # a deliberate bug: the header says where it stops
        shown = [e for e in shown if "cannot run on a" not in e]
        if page in ("run", "train", "batchnorm", "features", "explain"):
            assert any("Fix the model first" in i.value for i in at.info), page
            return
    assert not shown, shown
    assert at.header, f"{page} shows no header"
    found = kinds(at)
    for want in KEY_ELEMENTS.get(page, ()):
        assert any(want in k for k in found), (page, name, sorted(found))
    assert at.query_params.get("model") == name


def test_default_page_is_the_graph_of_resnet18() -> None:
    at = app()
    assert headers(at)[0] == "Graph"
    assert at.query_params.get("model") == state.default_model() == "resnet18"
    assert "resnet18" in caption_text(at)


# ------------------------------------------------------------------------------ the three URLs
def test_url_densenet_growth_16() -> None:
    at = app(model="densenet", growth_rate="16")
    assert at.number_input(key="vz.k.densenet.growth_rate").value == 16
    assert "growth_rate=16" in caption_text(at)
    assert at.query_params["growth_rate"] == "16"


def test_url_alexnet_28_explains_and_offers_the_minimum() -> None:
    at = app("shapes", model="alexnet", input="1,28,28")
    text = "\n".join(m.value for m in at.markdown)
    assert "too small" in text and "Failing layer" in text and "Smallest input" in text
    assert not at.exception
    use = [b for b in at.button if b.label.startswith("Use ")]
    assert use, "no button to use the smallest input"
    use[0].click().run()
    h = at.number_input(key="vz.k.alexnet.height").value
    assert h > 28 and at.query_params["input"] == f"1,{h},{h}"
    assert "too small" not in "\n".join(m.value for m in at.markdown)


def test_url_torchvision_densenet121_full_depth() -> None:
    at = app(model="torchvision:densenet121", depth="99")
    assert "torchvision:densenet121" in caption_text(at)
    depth = at.slider(key="vz.graph.depth") if _has_key(at, "vz.graph.depth") else None
    if depth is not None:
        assert depth.value == depth.max  # clamped to the deepest level
    assert at.sidebar.selectbox(key="vz.model").value == "torchvision:densenet121"


def _has_key(at: AppTest, key: str) -> bool:
    return any(getattr(w, "key", None) == key for w in at.slider)


# ------------------------------------------------------------------------------ interaction
def test_knob_change_updates_spec_and_url() -> None:
    at = app("shapes", model="densenet")
    before = at.session_state[state.SPEC_KEY]
    at.number_input(key="vz.k.densenet.growth_rate").set_value(12).run()
    after = at.session_state[state.SPEC_KEY]
    assert after.config.growth_rate == 12 and after != before
    assert at.query_params["growth_rate"] == "12"
    assert "growth_rate=12" in caption_text(at)
    at.number_input(key="vz.k.densenet.growth_rate").set_value(32).run()  # back: URL minimal
    assert "growth_rate" not in at.query_params


def test_invalid_knob_shows_message_and_keeps_last_good_model() -> None:
    at = app("shapes", model="resnet18")
    good = at.session_state[state.SPEC_KEY]
    at.text_input(key="vz.k.resnet.blocks").input("2,2,2").run()  # 3 stages, 4 widths
    assert not at.exception
    side_errors = sidebar_errors(at)
    assert side_errors and any("blocks" in e or "widths" in e or "stage" in e
                               for e in side_errors), side_errors
    assert any("not a valid model" in w.value for w in at.warning)  # said on the page too
    assert at.session_state[state.SPEC_KEY] == good
    assert at.dataframe  # the page still shows the last good model
    at.text_input(key="vz.k.resnet.blocks").input("2,x").run()  # unreadable
    assert any("blocks" in e for e in sidebar_errors(at))
    at.text_input(key="vz.k.resnet.blocks").input("1,1,1,1").run()
    assert not sidebar_errors(at)
    assert at.session_state[state.SPEC_KEY].config.blocks == (1, 1, 1, 1)


def test_family_and_preset_switch_reload_the_knobs() -> None:
    at = app("shapes")
    at.sidebar.selectbox(key="vz.family").set_value("densenet").run()
    assert at.sidebar.selectbox(key="vz.model").value == "densenet"
    assert at.query_params["model"] == "densenet"
    at.sidebar.selectbox(key="vz.model").set_value("densenet121").run()
    assert at.session_state[state.SPEC_KEY] == resolve("densenet121")
    at.sidebar.selectbox(key="vz.family").set_value("torchvision").run()
    assert at.query_params["model"].startswith("torchvision:")
    assert not at.exception


def test_reset_button_restores_the_preset() -> None:
    at = app("shapes", model="lenet", activation="relu")
    assert at.session_state[state.SPEC_KEY].config.activation == "relu"
    [b for b in at.sidebar.button if "Reset" in b.label][0].click().run()
    assert at.session_state[state.SPEC_KEY] == resolve("lenet")
    assert {k: v for k, v in at.query_params.items() if k != "depth"} == {"model": "lenet"}


def test_bad_url_shows_a_warning_not_a_traceback() -> None:
    at = app(model="densenet", growth_rate="many", foo="1")
    assert not at.exception
    text = "\n".join(w.value for w in at.warning)
    assert "growth_rate" in text and "'foo'" in text


def test_compare_densenet_growth_12_vs_32() -> None:
    at = app("compare", model="densenet")
    assert at.query_params["vs"] == "densenet" and at.query_params["vs.growth_rate"] == "12"
    df = at.dataframe[0].value
    row = df[df["stage"] == "dense_block_0"].iloc[0]
    assert row["shape A"] == "192×24×24" and row["shape B"] == "112×24×24"  # 64 + 4·32, 64 + 4·12
    assert row["Δ params"] < 0


def test_compare_b_from_url() -> None:
    at = app("compare", model="resnet18", vs="resnet50")
    df = at.dataframe[0].value
    assert {"b2", "b5", "fc"} <= set(df["stage"])
    assert (df["shape A"] != df["shape B"]).any()


def test_compare_depth_in_the_link() -> None:
    at = app("compare", model="resnet18", vs="resnet50", cdepth="2")
    assert at.button_group(key="vz.cmp.depth").value == 2
    assert "b2.0" in set(at.dataframe[0].value["stage"])
    assert at.query_params["cdepth"] == "2"


def test_shapes_depth_from_the_link_then_seed_style() -> None:
    at = app("shapes", model="resnet18", depth="2")
    assert at.slider(key="vz.shapes.depth").value == 2
    assert "b2.0" in set(at.dataframe[0].value["layer"].str.strip())
    at = app(model="resnet18")  # Graph first (writes depth=2), then Shapes: depth 1 rows
    at.switch_page("app_pages/shapes.py").run()
    assert at.slider(key="vz.shapes.depth").value == 1
    at.slider(key="vz.shapes.depth").set_value(3).run()
    assert at.query_params["depth"] == "3"


def test_code_page_styles() -> None:
    at = app("code", model="lenet")
    code = at.code[0].value
    assert "nn.Sequential(" in code and "nn.Conv2d(1, 6, kernel_size=5, padding=2)" in code
    at.button_group(key="vz.code.style").set_value("class").run()
    assert "class LeNet(nn.Module)" in at.code[0].value
    assert at.query_params["style"] == "class"


def test_code_page_writes_the_seed_blocks() -> None:
    at = app("code", model="resnet50")
    code = at.code[0].value
    assert "def _make_layer(self, block" in code and "net = ResNet(Bottleneck, [3, 4, 6, 3])" in code
    at.button_group(key="vz.code.style").set_value("ordereddict").run()
    assert "def make_layer(block, in_channels" in at.code[0].value
    assert at.query_params["style"] == "ordereddict"
    at.button_group(key="vz.code.form").set_value("flat").run()
    assert at.query_params["form"] == "flat" and "class Block(nn.Module)" in at.code[0].value
    linked = app("code", model="googlenet", form="flat", style="class")
    assert "class Inception(nn.Module)" not in linked.code[0].value
    seed = app("code", model="googlenet", stem_channels="32")
    assert "nn.Conv2d(1, 32, kernel_size=7, stride=2, padding=3)" in seed.code[0].value
    assert "class Inception(nn.Module)" in seed.code[0].value


def test_graph_page_falls_back_without_the_viewer(monkeypatch) -> None:
    from components import pages

    real = pages._import

    def no_viewer(name):
        if name == "components.page_graph":
            raise ImportError("components v2 is not available")
        return real(name)

    monkeypatch.setattr(pages, "_import", no_viewer)
    at = app(model="lenet")
    assert headers(at)[0] == "Graph"
    dots = [p.spec for p in unknown_protos(at, "graphviz_chart")]
    assert dots and "fc3" in dots[0] and "output" in dots[0]


def test_sidebar_caption_follows_the_knobs() -> None:
    """The preset's description ("growth 32") stayed under the pickers with the knob at 16."""
    at = app(model="densenet")
    side = " ".join(c.value for c in at.sidebar.caption)
    assert "growth 32" in side
    at.number_input(key="vz.k.densenet.growth_rate").set_value(16).run()
    side = " ".join(c.value for c in at.sidebar.caption)
    assert "growth 32" not in side and "growth_rate=16" in side, side
