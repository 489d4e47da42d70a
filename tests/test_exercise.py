"""Predict, then reveal (components/exercise.py): the pure parsing/checking/scoring, and the
Shapes page in exercise mode through AppTest (a wrong then a right answer, the score, the link)."""

from __future__ import annotations

from pathlib import Path

import pytest

from components import exercise as ex
from vizapp.analysis.core import analyze_spec
from vizapp.zoo import resolve

MAIN = str(Path(__file__).resolve().parents[1] / "vizapp" / "main.py")


@pytest.mark.parametrize("text, dims", [
    ("6×28×28", (6, 28, 28)), ("6x28x28", (6, 28, 28)), (" 6, 28 ,28 ", (6, 28, 28)),
    ("(6 28 28)", (6, 28, 28)), ("[16X5X5]", (16, 5, 5)), ("120", (120,)), ("6*14*14", (6, 14, 14)),
    ("", None), ("six", None), ("6×0×28", None), ("-6×28×28", None), ("1x2x3x4x5", None),
    ("6.5×28×28", None), (None, None)])
def test_parse_shape(text, dims) -> None:
    assert ex.parse_shape(text) == dims


def test_check_against_the_analysis_rows() -> None:
    """Every LeNet row: its own shape typed three ways is right; one dim off names that dim."""
    rows = analyze_spec(resolve("lenet")).rows(1)
    assert [r.name for r in rows][:3] == ["conv1", "act1", "pool1"]
    for r in rows:
        dims = r.output_shape[1:]
        for text in ("×".join(map(str, dims)), "x".join(map(str, dims)), ", ".join(map(str, dims))):
            assert ex.check(text, r.output_shape).right, (r.name, text)
        wrong = (dims[0] + 1,) + tuple(dims[1:])
        v = ex.check("x".join(map(str, wrong)), r.output_shape)
        assert not v.right
        assert ("check C" in v.message) if len(dims) == 3 else ("check W" in v.message)
    conv1 = rows[0]  # 1×28×28 → 6×28×28 (padding 2 keeps 28)
    assert not ex.check("6x24x24", conv1.output_shape).right
    assert "check H, W" in ex.check("6x24x24", conv1.output_shape).message
    assert "flat" in ex.check("6x28", rows[-1].output_shape).message  # fc3 → 10
    assert not ex.check("hello", conv1.output_shape).right


def test_score_counts_first_tries() -> None:
    results: dict = {}
    ex.record(results, "a", ex.Verdict(False, ""))
    ex.record(results, "a", ex.Verdict(True, ""))
    ex.record(results, "b", ex.Verdict(True, ""))
    ex.record(results, "c", None)  # revealed: done, not right
    ex.record(results, "c", ex.Verdict(True, ""))  # too late: stays revealed
    assert ex.score(results, ["a", "b", "c", "d"]) == (2, 1, 4)
    assert ex.score_text(2, 1, 4) == "2/4 right (1 on the first try)"
    assert ex.done(results["c"]) and not ex.done(results.get("d"))


def _texts(at, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def test_shapes_page_exercise_wrong_then_right() -> None:
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["model"] = "lenet"
    at.query_params["exercise"] = "1"
    at.run()
    assert at.toggle(key=ex.KEY + ".graph").value is True
    at.switch_page("app_pages/shapes.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key=ex.KEY + ".shapes").value is True  # kept across the page switch
    md = " ".join(_texts(at, "markdown"))
    assert "0/12 right" in md and "Layer 1 of 12: conv1" in md
    shapes = list(at.dataframe[0].value["output shape"])
    assert shapes == ["?"] * 12  # nothing revealed yet
    assert not at.get("plotly_chart")  # the chart would give it away

    at.text_input(key=ex.ANSWER_KEY).input("6x24x24")
    at.button(key="vz.exercise.check").click().run()
    assert not at.exception
    assert any("Not quite" in t and "check H, W" in t for t in _texts(at, "error"))
    assert "0/12 right" in " ".join(_texts(at, "markdown"))

    at.text_input(key=ex.ANSWER_KEY).input("6×28×28")
    at.button(key="vz.exercise.check").click().run()
    assert not at.exception
    assert any("Right: 6×28×28" in t for t in _texts(at, "success"))
    md = " ".join(_texts(at, "markdown"))
    assert "1/12 right (0 on the first try)" in md and "Layer 2 of 12: act1" in md
    assert any("⌊(28 + 2·2 − (5−1) − 1)/1⌋ + 1 = 28" in c.value for c in at.code)  # the arithmetic
    assert list(at.dataframe[0].value["output shape"])[:2] == ["6×28×28", "?"]
    assert at.query_params["exercise"] == ["1"] or at.query_params["exercise"] == "1"

    at.toggle(key=ex.KEY + ".shapes").set_value(False).run()  # off: the link drops it, shapes are back
    assert "exercise" not in at.query_params
    assert "?" not in list(at.dataframe[0].value["output shape"])
    at.switch_page("app_pages/graph.py").run()  # off stays off on the next page
    assert at.toggle(key=ex.KEY + ".graph").value is False


def test_exercise_graph_has_no_shapes_and_stays_drawable() -> None:
    from vizapp.render.dot import to_dot
    from vizapp.render.layout import layout
    a = analyze_spec(resolve("lenet"))
    dot = to_dot(a, depth=1)
    assert "6×28×28" in dot and "tooltip=" in dot
    bare = to_dot(a, depth=1, tooltips=False, edge_labels=False)  # what the exercise draws
    edges = [ln for ln in bare.splitlines() if " -> " in ln]
    assert len(edges) == len([ln for ln in dot.splitlines() if " -> " in ln]) >= 10
    assert not any("×" in ln for ln in edges) and "tooltip=" not in bare
    assert b"<svg" in layout(bare, "svg")


def test_graph_page_exercise_on_a_clicked_node() -> None:
    from streamlit.testing.v1 import AppTest
    from components import page_graph
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["model"] = "lenet"
    at.query_params["exercise"] = "1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key=ex.KEY + ".graph").value is True
    assert any("Click a node or a block" in c.value for c in at.caption)
    at.session_state[page_graph.SEL_KEY] = "n-conv2"  # as if clicked: 6×14×14 → 16×10×10
    at.run()
    md = " ".join(_texts(at, "markdown"))
    assert "conv2" in md and "6×14×14" in md and "16×10×10" not in md
    at.text_input(key=ex.ANSWER_KEY).input("16x14x14")
    at.button(key="vz.exercise.gcheck").click().run()
    assert any("check H, W" in t for t in _texts(at, "error"))
    at.text_input(key=ex.ANSWER_KEY).input("16x10x10")
    at.button(key="vz.exercise.gcheck").click().run()
    assert not at.exception
    assert any("Right: 16×10×10" in t for t in _texts(at, "success"))
    assert "1/1 right (0 on the first try)" in " ".join(_texts(at, "markdown"))
    assert any("⌊(14 + 2·0 − (5−1) − 1)/1⌋ + 1 = 10" in c.value for c in at.code)


def test_nothing_on_the_shapes_page_gives_an_unanswered_row_away() -> None:
    """LeNet in exercise mode: the question shows the layer as written (its padding=2 too);
    the placeholder is no answer; downloads are off; params/MACs/totals/output are hidden;
    the Graph's exercise DOT has no computed sizes (no 'Flatten → 400', no 'Linear 400→120',
    no block outputs, no totals)."""
    from streamlit.testing.v1 import AppTest

    from vizapp.render.dot import to_dot
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update({"model": "lenet", "exercise": "1"})
    at.run()
    at.switch_page("app_pages/shapes.py").run()
    assert not at.exception, [e.value for e in at.exception]
    codes = [c.value for c in at.code]
    assert "nn.Conv2d(1, 6, kernel_size=5, padding=2)" in codes, codes
    box = at.text_input(key=ex.ANSWER_KEY)
    assert not any(ch.isdigit() for ch in (box.placeholder or ""))
    downloads = at.get("download_button")
    assert downloads and all(d.proto.disabled for d in downloads)
    table = at.dataframe[0].value
    assert set(table["params"]) == {"?"} and set(table["MACs"]) == {"?"}
    assert all(m.value == "?" for m in at.metric[:3])
    text = " ".join(c.value for c in at.caption)
    assert "61,706" not in text and "1×10" not in text
    dot = to_dot(analyze_spec(resolve("lenet")), depth=1, tooltips=False, edge_labels=False,
                 answers=False)
    assert "400" not in dot and "61.7 k" not in dot and "output 10" not in dot
    assert "Conv2d 5×5 p2 · 1→6" in dot  # the network as written stays


def test_predict_parameters_then_see_the_arithmetic() -> None:
    """The same exercise for counts: LeNet's conv1 has 5·5·1·6 + 6 = 156 parameters; a wrong
    count is said wrong, the right one right, and the working appears."""
    from streamlit.testing.v1 import AppTest

    assert ex.parse_count("48,120") == 48120 and ex.parse_count("48 120") == 48120
    assert ex.parse_count("4.8e4") is None and ex.parse_count("") is None
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update({"model": "lenet", "exercise": "1"})
    at.run()
    at.switch_page("app_pages/shapes.py").run()
    at.session_state[ex.MODE_KEY] = "params"
    at.run()
    assert any("How many parameters" in m.value for m in at.markdown)
    at.text_input(key=ex.ANSWER_KEY).set_value("150")
    at.button(key="vz.exercise.ccheck").click().run()
    assert any("Not quite" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert table.loc[table["layer"] == "conv1", "params"].item() == "?"
    at.text_input(key=ex.ANSWER_KEY).set_value("156")
    at.button(key="vz.exercise.ccheck").click().run()
    assert any("Right: 156" in s.value for s in at.success)
    assert any("5²·1·6 + 6 = 156" in c.value for c in at.code)
    table = at.dataframe[0].value
    assert table.loc[table["layer"] == "conv1", "params"].item() == "156"
