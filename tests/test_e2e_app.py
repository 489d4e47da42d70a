"""The whole app in a real browser: ``streamlit run vizapp/main.py`` driven by Playwright in
headless Chromium (Debian's ``/usr/bin/chromium``).

The default page shows the graph; a knob change updates it; the README's three URLs behave;
a node click shows its details; the Shapes, Compare and Code pages render. Screenshots go to
``artifacts/screenshots/app_*.png``. Skips, saying why, without Playwright or Chromium
(``apt-get update && apt-get install -y chromium``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
VIEWER = "[data-testid='vz-graph-viewer']"
FALLBACK = "[data-testid='stGraphVizChart']"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get update && apt-get install -y chromium",
                allow_module_level=True)


def settle(page, timeout: int = 120_000) -> None:
    """Wait until the app is up and the script has finished its run."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)


def wait_graph(page, timeout: int = 120_000) -> str:
    """Wait for a drawn graph (the interactive viewer, or the Graphviz fallback); its kind."""
    page.wait_for_selector(f"{VIEWER}[data-ready='true'] svg, {FALLBACK} svg", timeout=timeout)
    return "viewer" if page.locator(VIEWER).count() else "graphviz"


def graph_texts(page) -> list[str]:
    return page.locator(f"{VIEWER} svg text, {FALLBACK} svg text").all_text_contents()


def wait_graph_text(page, text: str, timeout: float = 60.0) -> float:
    """Poll until a text of the drawn graph equals ``text`` (Playwright locators pierce the
    viewer's shadow root; document.querySelector does not). Returns the seconds waited."""
    t0 = time.perf_counter()
    while text not in [t.strip() for t in graph_texts(page)]:
        if time.perf_counter() - t0 > timeout:
            raise AssertionError(f"the graph never showed '{text}'")
        time.sleep(0.02)
    return time.perf_counter() - t0


def open_page(browser, url: str, dark: bool = False):
    page = browser.new_page(viewport={"width": 1440, "height": 1000},
                            color_scheme="dark" if dark else "light")
    page.goto(url, wait_until="domcontentloaded")
    settle(page)
    return page


def no_traceback(page) -> None:
    body = page.locator("[data-testid='stApp']").inner_text()
    assert "Traceback" not in body and "Exception:" not in body, body[-1500:]


SHOTS.mkdir(parents=True, exist_ok=True)


def test_default_page_shows_the_graph(server, browser):
    page = open_page(browser, server + "/")
    wait_graph(page)
    settle(page)
    assert "model=resnet18" in page.url
    assert any("input" in t for t in graph_texts(page))
    assert "resnet18" in page.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']").first.inner_text()
    no_traceback(page)
    page.screenshot(path=str(SHOTS / "app_default_graph.png"))
    page.close()


def test_knob_change_updates_the_graph(server, browser):
    page = open_page(browser, server + "/?model=lenet")
    wait_graph(page)
    assert "output 10" in graph_texts(page)
    field = page.get_by_role("spinbutton", name="Classes", exact=True)
    field.fill("7")
    field.press("Enter")
    wait_graph_text(page, "output 7")
    settle(page)
    assert "num_classes=7" in page.url
    page.screenshot(path=str(SHOTS / "app_knob_change_lenet_7_classes.png"))
    page.close()


def test_invalid_knob_shows_message_and_keeps_graph(server, browser):
    page = open_page(browser, server + "/?model=resnet18")
    wait_graph(page)
    field = page.get_by_role("textbox", name="Residual blocks", exact=True)  # its label
    field.fill("2,2,2")
    field.press("Enter")
    page.wait_for_selector("[data-testid='stSidebar'] >> text=Showing the last valid model",
                           timeout=60_000)
    settle(page)
    side = page.locator("[data-testid='stSidebar']").inner_text()
    assert "widths needs one entry per stage" in side or "blocks" in side, side
    assert "not a valid model" in page.locator("[data-testid='stMain']").inner_text()
    assert page.locator(f"{VIEWER} svg, {FALLBACK} svg").count() >= 1  # last good graph stays
    no_traceback(page)
    page.screenshot(path=str(SHOTS / "app_invalid_knob.png"))
    page.close()


def test_url_densenet_growth_16(server, browser):
    page = open_page(browser, server + "/?model=densenet&growth_rate=16")
    wait_graph(page)
    settle(page)
    assert page.get_by_role("spinbutton", name="Growth rate", exact=True).input_value() == "16"
    assert "growth_rate=16" in page.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']").first.inner_text()
    no_traceback(page)
    page.screenshot(path=str(SHOTS / "app_url_densenet_growth16.png"))
    page.close()


def test_url_alexnet_28_explains(server, browser):
    page = open_page(browser, server + "/shapes?model=alexnet&input=1,28,28")
    page.wait_for_selector("text=The input is too small", timeout=60_000)
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "Failing layer" in body and "Smallest input that works" in body
    no_traceback(page)
    page.screenshot(path=str(SHOTS / "app_url_alexnet_28.png"))
    # the same link on the Graph page explains too, and the fix button works
    page.goto(server + "/?model=alexnet&input=1,28,28")
    settle(page)
    page.wait_for_selector("text=The input is too small", timeout=60_000)
    no_traceback(page)
    page.screenshot(path=str(SHOTS / "app_url_alexnet_28_graph.png"))
    page.get_by_role("button", name="Use ").first.click()
    page.wait_for_function("() => !document.body.innerText.includes('The input is too small')",
                           timeout=60_000)
    settle(page)
    assert "input=1%2C" in page.url or "input=1," in page.url
    page.close()


def test_url_torchvision_densenet121_full_depth(server, browser):
    page = open_page(browser, server + "/?model=torchvision:densenet121&depth=99")
    kind = wait_graph(page, timeout=180_000)
    settle(page)
    nodes = page.locator(f"{VIEWER} g.node, {FALLBACK} g.node").count()
    assert nodes > 300, f"only {nodes} nodes: not the full-depth graph ({kind})"
    slider = page.get_by_role("slider").first
    assert slider.get_attribute("aria-valuenow") == slider.get_attribute("aria-valuemax")
    no_traceback(page)
    page.screenshot(path=str(SHOTS / "app_url_torchvision_densenet121_depth99.png"))
    page.close()


def test_node_click_shows_details(server, browser):
    page = open_page(browser, server + "/?model=resnet18")
    if wait_graph(page) != "viewer":
        pytest.skip("the interactive viewer is not installed (Graphviz fallback has no clicks)")
    node = page.locator(f"{VIEWER} g.node.conv").first
    node.click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-vz_details')?.innerText.includes('Conv2d')",
        timeout=60_000)
    settle(page)
    text = page.locator(".st-key-vz_details").inner_text()
    assert "64×112×112" in text and "params" in text
    page.screenshot(path=str(SHOTS / "app_node_details.png"))
    page.close()


@pytest.mark.parametrize("path,expect", [
    ("/shapes?model=densenet", "Worked arithmetic"),
    ("/compare?model=resnet18&vs=resnet50", "MACs per image"),
    ("/code?model=lenet", "nn.Sequential"),
])
def test_pages_render(server, browser, path, expect):
    page = open_page(browser, server + path)
    page.wait_for_selector(f"text={expect}", timeout=60_000)
    settle(page)
    no_traceback(page)
    name = path.strip("/").split("?")[0]
    page.screenshot(path=str(SHOTS / f"app_page_{name}.png"))
    page.close()


def test_dark_theme(server, browser):
    page = open_page(browser, server + "/?model=resnet18", dark=True)
    wait_graph(page)
    settle(page)
    bg = page.evaluate("getComputedStyle(document.querySelector(\"[data-testid='stApp']\"))"
                       ".backgroundColor")
    r, g, b = [int(x) for x in bg[bg.index("(") + 1:bg.index(")")].split(",")[:3]]
    assert r + g + b < 200, bg
    page.screenshot(path=str(SHOTS / "app_dark_graph.png"))
    page.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_fits_the_top_navigation_at_1280(server, browser, lang):
    """Ten pages: every navigation link is whole inside a 1280-px-wide window."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(server + f"/shapes?model=lenet&lang={lang}", wait_until="domcontentloaded")
    settle(page)
    links = page.locator("[data-testid='stTopNavLink']")
    assert links.count() == 10
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280, \
            (links.nth(i).inner_text(), box)
    page.close()
