"""The Graph page in AppTest (no browser): controls, the too-big / timed-out paths that offer
the collapsed view, expand/collapse buttons, exports."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit.testing.v1")
from streamlit.testing.v1 import AppTest  # noqa: E402

import components.page_graph as pg  # noqa: E402

APP = str(Path(__file__).parent / "graph_app.py")


def app(model: str = "resnet18") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = model
    return at.run()


def texts(at: AppTest) -> str:
    return "\n".join([*(w.value for w in at.warning), *(m.value for m in at.markdown),
                      *(c.value for c in at.caption), *(e.value for e in at.error)])


def test_controls_and_downloads():
    at = app("resnet50")
    assert not at.exception
    assert at.slider(key=pg.DEPTH_KEY).value == 2
    assert at.toggle(key=pg.FOLD_KEY).value is True
    assert "repeats folded" in texts(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["DOT"]  # SVG and PNG are made by the browser (components/png_export.py)
    at.slider(key=pg.DEPTH_KEY).set_value(99 if at.slider(key=pg.DEPTH_KEY).max >= 99
                                          else at.slider(key=pg.DEPTH_KEY).max).run()
    assert not at.exception
    at.toggle(key=pg.FOLD_KEY).set_value(False).run()
    assert "repeats folded" not in texts(at)


def _component(at: AppTest, name: str) -> dict:
    import json

    return json.loads(next(b.proto.json for b in at.get("bidi_component")
                           if b.proto.component_name == name))


def test_svg_and_png_downloads_are_made_from_the_viewers_svg_at_slide_size():
    """The viewer gets the SVG once and the export settings: the PNG at the SVG's points
    × 200/72 (ResNet-50 unfolded at full depth is tall enough to need a lower dpi)."""
    from components import png_export
    from components.graph_viewer import COMPONENT_NAME

    at = app("resnet50")
    assert [b.proto.component_name for b in at.get("bidi_component")] == [COMPONENT_NAME]
    viewer = _component(at, COMPONENT_NAME)
    ex = viewer["export"]
    w_pt, h_pt = png_export.svg_points(viewer["svg"])
    assert (ex["width"], ex["height"]) == (round(w_pt * 200 / 72), round(h_pt * 200 / 72))
    assert ex["stem"] == "resnet50_depth2" and "200 dpi" in ex["pngTitle"]
    at.slider(key=pg.DEPTH_KEY).set_value(at.slider(key=pg.DEPTH_KEY).max).run()
    at.toggle(key=pg.FOLD_KEY).set_value(False).run()
    viewer = _component(at, COMPONENT_NAME)
    ex = viewer["export"]
    assert max(ex["width"], ex["height"]) <= png_export.MAX_SIDE_PX
    w_pt, h_pt = png_export.svg_points(viewer["svg"])
    dpi = png_export.slide_dpi(viewer["svg"])
    assert dpi < 200 and ex["height"] == round(h_pt * dpi / 72)
    assert ex["stem"].endswith(f"_depth{at.slider(key=pg.DEPTH_KEY).value}")


def test_too_big_offers_collapsed_view(monkeypatch):
    monkeypatch.setattr(pg, "MAX_UNITS", 10)
    at = app("resnet18")
    assert "too big to draw in the browser" in texts(at)
    button = next(b for b in at.button if b.label == "Show the collapsed view")
    button.click().run()
    assert at.slider(key=pg.DEPTH_KEY).value == 1
    assert not at.exception


def test_layout_timeout_offers_collapsed_view(monkeypatch):
    monkeypatch.setattr(pg, "LAYOUT_TIMEOUT", 1e-4)
    pg.cached_layout.clear()
    try:
        at = app("lenet-bn")
        t = texts(at)
        assert "too big to draw in the browser" in t and "took longer than" in t
        assert any(b.label == "Show the collapsed view" for b in at.button)
    finally:
        pg.cached_layout.clear()


def test_expand_collapse_buttons():
    at = app("resnet18")
    at.session_state[pg.SEL_KEY] = "b-b3.0"  # as if the collapsed block had been clicked
    at.run()
    assert "b3.0" in texts(at)
    expand = next(b for b in at.button if b.label == "Expand this block")
    expand.click().run()
    assert at.session_state[pg.EXP_KEY] == ["b3.0"]
    collapse = next(b for b in at.button if b.label == "Collapse this block")
    collapse.click().run()
    assert at.session_state[pg.COL_KEY] == ["b3.0"] and at.session_state[pg.EXP_KEY] == []
    next(b for b in at.button if b.label == "Reset expansions").click().run()
    assert at.session_state[pg.COL_KEY] == [] and not at.exception


def test_macs_are_per_image_on_every_page() -> None:
    """One convention, said on screen: ResNet-50 (seed 001, batch 2) b2.0 has 231,211,008 MACs
    per image (Compare's and torchvision's figure); the Graph details and the Shapes page said
    462 M (the batch's) before."""
    from streamlit.testing.v1 import AppTest

    from components import page_graph
    from tests.test_app import MAIN
    from vizapp.analysis import analyze_spec
    from vizapp.zoo import resolve
    a = analyze_spec(resolve("resnet50"))
    per_image = a.block("b2.0").macs // 2
    assert per_image == 231_211_008
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["model"] = "resnet50"
    at.run()
    at.session_state[page_graph.SEL_KEY] = "b-b2.0"
    at.run()
    text = " ".join(m.value for m in at.markdown)
    assert "MACs per image" in text and "**231 M**" in text and "462 M" not in text, text
    at.switch_page("app_pages/shapes.py").run()
    metric = next(m for m in at.metric if "MACs" in m.label)
    assert metric.label == "MACs per image" and metric.value == "4.09 G"  # 8.18 G / 2


def test_the_viewer_gets_the_link_s_node_the_flow_and_the_label_sizes():
    """A link's node= reaches the viewer as the id to open centred on (with what draws it
    when it is folded away), the drawn units in data-flow order for ← / →, and the label
    sizes the first view is made for (11 px at least; 14 px when presenting)."""
    from components.graph_viewer import COMPONENT_NAME, drawn_as, flow
    from vizapp.render.dot import build_view

    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in {"model": "resnet18", "expand": "b3.0", "node": "n-b3_0_conv3"}.items():
        at.query_params[k] = v
    at.run()
    viewer = _component(at, COMPONENT_NAME)
    assert viewer["selected"] == "n-b3_0_conv3" and viewer["focus"][0] == "n-b3_0_conv3"
    ids = viewer["flow"]["ids"]
    assert ids[:3] == ["n-input_1", "n-b1_conv", "n-b1_bn"] and ids[-1] == "n-output"
    i = ids.index("n-b3_0_conv3")
    assert ids[i + 1] == "n-add_2"  # the shortcut conv, then the addition it feeds
    first, last = viewer["flow"]["spans"]["b-b3.0"]  # an open block: its first and last unit
    assert ids[first] == "n-b3_0_conv1" and ids[last] == "n-relu_5"
    assert (viewer["labelPx"], viewer["minPx"]) == (13.0, 11.0)
    # what draws a node or block that is folded or collapsed away
    from vizapp.analysis import analyze_spec
    from vizapp.zoo import resolve
    v = build_view(analyze_spec(resolve("resnet18")), 2)
    assert drawn_as(v, "n-b4_0_conv1") == ["n-b4_0_conv1", "b-b4.0"]
    assert drawn_as(v, "b-b2.1") == ["b-b2.1", "f-b2.0", "b-b2"]
    assert flow(None) is None and drawn_as(v, None) == []
