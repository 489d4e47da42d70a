"""Switching pages back and forth keeps every page working and keeps what was picked on a page
that is not on screen (Streamlit drops the state of widgets that are not drawn in a run).

Compare → Shapes → Compare used to fail for the rest of the session with
``KeyError: st.session_state has no key "vz.b.model"``."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from components.pages import PAGES

MAIN = str(Path(__file__).resolve().parents[1] / "vizapp" / "main.py")
KEYS = [p.key for p in PAGES]


def _go(at: AppTest, page: str) -> None:
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, (page, [e.value for e in at.exception])
    broken = [e.value for e in at.error if "could not be shown" in e.value]
    assert not broken, (page, broken)


def test_every_page_survives_leaving_and_coming_back():
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params["model"] = "lenet-bn"
    at.run()
    assert not at.exception
    # every page, then from Compare to every other page and back again
    walk = KEYS + ["compare"]
    for other in KEYS:
        if other != "compare":
            walk += [other, "compare"]
    for page in walk:
        _go(at, page)


def test_what_was_picked_on_compare_survives_other_pages():
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params["model"] = "lenet"
    at.run()
    _go(at, "compare")
    at.selectbox(key="vz.b.model").set_value("alexnet").run()
    assert at.selectbox(key="vz.b.model").value == "alexnet"
    for page in ("shapes", "code", "compare"):
        _go(at, page)
    assert at.selectbox(key="vz.b.model").value == "alexnet"
    assert any("alexnet" in c.value for c in at.caption)
