"""The graph viewer in a real browser: ``streamlit run tests/graph_app.py`` driven by Playwright
in headless Chromium. Click a node → its details appear; click a folded block → the fold's
details; zoom buttons change the view; the full-depth DenseNet-121 appears quickly.

Screenshots go to ``artifacts/screenshots/``. Skips (with the reason) when Playwright or
Chromium is missing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


SERVER_SCRIPT = ROOT / "tests" / "graph_app.py"  # the server fixture (tests/conftest.py) runs it


def _open(browser, url: str, model: str):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(f"{url}/?model={model}", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    _settle(page)
    return page


def _settle(page, timeout: int = 90_000) -> None:
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_selector("[data-testid='vz-graph-viewer'][data-ready='true']", timeout=timeout)


def _details(page) -> str:
    return page.locator(".st-key-vz_details").inner_text()


def test_click_node_shows_details(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _open(browser, server, "resnet18")
    page.screenshot(path=str(SHOTS / "graph_resnet18_depth2.png"))
    assert "Click a node" in _details(page)

    # depth 2 shows the stem conv as a node: click it
    node = page.locator("[data-testid='vz-graph-viewer'] g.node.conv").first
    node_id = node.get_attribute("id")
    assert node_id and node_id.startswith("n-")
    node.click()
    # wait for the whole panel (it streams in element by element during the rerun)
    page.wait_for_function(
        "() => { const t = document.querySelector('.st-key-vz_details')?.innerText || '';"
        " return t.includes('Shape arithmetic') && t.includes('64×112×112'); }",
        timeout=30_000)
    _settle(page)
    text = _details(page)
    assert "Conv2d" in text and "64×112×112" in text, text
    assert "params" in text and "MACs" in text and "receptive field" in text
    assert page.locator(f"g[id='{node_id}'].vz-selected").count() == 1
    page.screenshot(path=str(SHOTS / "graph_resnet18_clicked_conv1.png"))

    # a folded run: its label and the unfold button (the whole graph in the frame first: it
    # opens on its first blocks at a readable zoom)
    page.locator("[data-testid='vz-graph-viewer'] button[data-act='fit']").click()
    fold = page.locator("[data-testid='vz-graph-viewer'] g.node.fold").first
    fold_first = fold.get_attribute("id")[2:]  # "b2.0"
    assert "×2" in fold.text_content()
    fold.click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-vz_details')?.innerText.includes('identical')",
        timeout=30_000)
    _settle(page)
    assert "×2" in _details(page)
    page.get_by_role("button", name="Unfold the repeats").click()
    page.wait_for_selector(f"g[id='b-{fold_first}']", timeout=30_000)
    _settle(page)
    page.screenshot(path=str(SHOTS / "graph_resnet18_unfolded.png"))


def test_zoom_buttons_change_view(server, browser):
    page = _open(browser, server, "lenet")
    svg = page.locator("[data-testid='vz-graph-viewer'] svg")
    before = svg.get_attribute("viewBox")
    page.locator("[data-testid='vz-graph-viewer'] button[data-act='in']").click()
    after = svg.get_attribute("viewBox")
    assert before != after
    w0, w1 = float(before.split()[2]), float(after.split()[2])
    assert w1 < w0  # zoomed in: a smaller part of the graph fills the frame
    # drag pans (and is not a click: nothing gets selected)
    box = page.locator("[data-testid='vz-graph-viewer']").bounding_box()
    x, y = box["x"] + 60, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y + 40, steps=8)
    page.mouse.up()
    panned = svg.get_attribute("viewBox")
    assert panned != after and float(panned.split()[2]) == pytest.approx(w1)
    assert page.locator("[data-testid='vz-graph-viewer'] .vz-selected").count() == 0
    page.locator("[data-testid='vz-graph-viewer'] button[data-act='fit']").click()
    page.screenshot(path=str(SHOTS / "graph_lenet_fit.png"))


def test_full_densenet121_appears_fast(server, browser):
    page = _open(browser, server, "torchvision:densenet121")
    slider = page.get_by_role("slider")
    slider.focus()
    t0 = time.perf_counter()
    page.keyboard.press("End")  # deepest level: every operation
    nodes = page.locator("[data-testid='vz-graph-viewer'] g.node")
    while nodes.count() < 300:  # locators pierce the component's shadow root
        assert time.perf_counter() - t0 < 60, "the full graph did not appear within 60 s"
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    _settle(page)
    page.screenshot(path=str(SHOTS / "graph_densenet121_full.png"))
    edges = page.locator("[data-testid='vz-graph-viewer'] g.edge").count()
    nodes = page.locator("[data-testid='vz-graph-viewer'] g.node").count()
    assert edges < 2 * nodes  # O(n) dense connections
    print(f"full DenseNet-121 appeared {seconds:.2f} s after the slider moved "
          f"({nodes} nodes, {edges} edges)")
    assert seconds < 15  # generous on a shared 2-core box; ≈1–3 s when idle


def test_dark_theme_graph(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1100}, color_scheme="dark")
    page.goto(f"{server}/?model=resnet50", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    _settle(page)
    # the theme reaches the server with the first messages; the drawn SVG follows it
    viewer = page.locator("[data-testid='vz-graph-viewer']")
    deadline = time.time() + 30
    while viewer.get_attribute("data-graph-bg") != "#0e1117" and time.time() < deadline:
        time.sleep(0.2)
    assert viewer.get_attribute("data-graph-bg") == "#0e1117"  # the dark palette was drawn
    conv = page.locator("[data-testid='vz-graph-viewer'] g.node.conv path").first
    assert conv.get_attribute("fill") == "#1e40af"
    _settle(page)
    page.screenshot(path=str(SHOTS / "graph_resnet50_dark.png"))


def test_click_cluster_shows_block_and_collapses(server, browser):
    page = _open(browser, server, "resnet18")
    cluster = page.locator("[data-testid='vz-graph-viewer'] g.cluster").first
    cid = cluster.get_attribute("id")  # an open block, e.g. "b-b1"
    box = cluster.bounding_box()
    page.mouse.click(box["x"] + 6, box["y"] + box["height"] / 2)  # its frame, not a node
    page.wait_for_function(
        "() => document.querySelector('.st-key-vz_details')?.innerText.includes('child modules')",
        timeout=30_000)
    _settle(page)
    page.get_by_role("button", name="Collapse this block").click()
    page.wait_for_selector(f"[data-testid='vz-graph-viewer'] g.node[id='{cid}']", timeout=30_000)
    _settle(page)
    page.screenshot(path=str(SHOTS / "graph_resnet18_cluster_collapsed.png"))
