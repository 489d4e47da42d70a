"""Teaching from the front of the room, in a real browser (Playwright + Chromium against
``streamlit run tests/graph_app.py``): a link reopens an expanded block with a selected node;
expanding a block keeps it where it was on screen and writes the view into the URL.

Screenshots go to ``artifacts/screenshots/teach_*.png``. Skips without Playwright/Chromium.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from vizapp.testing import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
VIEWER = "[data-testid='vz-graph-viewer']"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


SERVER_SCRIPT = ROOT / "tests" / "graph_app.py"  # the server fixture (tests/conftest.py) runs it


def _settle(page, timeout: int = 90_000) -> None:
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_selector(f"{VIEWER}[data-ready='true']", timeout=timeout)


def _open(browser, url: str, query: str):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/?{query}", wait_until="domcontentloaded")
    _settle(page)
    return page


def _query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_link_reopens_expanded_block_and_selected_node(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _open(browser, server, "model=resnet18&expand=b3.0&node=n-b3_0_conv3")
    # b3.0 is open (a cluster holding its convs) although depth 2 would draw it as one node
    assert page.locator(f"{VIEWER} g.cluster[id='b-b3.0']").count() == 1
    assert page.locator(f"{VIEWER} g.node[id='b-b3.0']").count() == 0
    # the shortcut conv is drawn, highlighted, and its details are shown
    assert page.locator(f"{VIEWER} g[id='n-b3_0_conv3'].vz-selected").count() == 1
    details = page.locator(".st-key-vz_details").inner_text()
    assert "Conv2d" in details and "128×28×28" in details, details
    page.screenshot(path=str(SHOTS / "teach_link_expanded_selected.png"))


def test_bad_link_parts_are_named_not_fatal(server, browser):
    page = _open(browser, server, "model=resnet18&expand=b3.0,nope&node=n-missing")
    assert page.locator(f"{VIEWER} g.cluster[id='b-b3.0']").count() == 1
    body = page.locator("[data-testid='stAlert']").first.inner_text()
    assert "expand=nope" in body and "node=n-missing" in body, body


def test_expanding_keeps_the_block_in_place_and_in_the_url(server, browser):
    page = _open(browser, server, "model=resnet18")
    page.locator(f"{VIEWER} button[data-act='fit']").click()  # it opens on the first blocks
    block = page.locator(f"{VIEWER} g.node[id='b-b3.0']")
    block.click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-vz_details')?.innerText.includes('child modules')",
        timeout=30_000)
    _settle(page)
    box = block.bounding_box()  # zoom in on it, as a teacher would, to read it
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(3):
        page.mouse.wheel(0, -300)
    page.wait_for_timeout(300)
    before = block.bounding_box()
    assert before["width"] > box["width"] * 1.5  # zoomed in
    page.get_by_role("button", name="Expand this block").click()
    cluster = page.locator(f"{VIEWER} g.cluster[id='b-b3.0']")
    cluster.wait_for(timeout=30_000)
    _settle(page)
    page.wait_for_selector(f"{VIEWER}[data-anchor='b-b3.0']", timeout=10_000)
    after = cluster.bounding_box()
    # the same place on screen: centre x and top edge within a few pixels
    assert abs((after["x"] + after["width"] / 2) - (before["x"] + before["width"] / 2)) < 4
    assert abs(after["y"] - before["y"]) < 4
    q = _query(page)
    assert q.get("expand") == "b3.0" and q.get("node") == "b-b3.0", q
    page.screenshot(path=str(SHOTS / "teach_expanded_in_place.png"))
