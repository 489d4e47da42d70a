"""Inside a layer in a real browser: a link opens a layer's pixel; a click on the output map
picks another pixel; after a short training, a digit drawn with mouse events on the canvas gets
a prediction and the breakdown of a clicked pixel. Screenshots at 1280×720 go to
``artifacts/screenshots/explain_*.png``."""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if importlib.util.find_spec("streamlit_drawable_canvas") is None:  # it imports only in a server
    pytest.skip("streamlit-drawable-canvas is not installed", allow_module_level=True)
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get update && apt-get install -y chromium",
                allow_module_level=True)
SHOTS.mkdir(parents=True, exist_ok=True)


def settle(page, timeout: int = 120_000) -> None:
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    time.sleep(0.5)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)


def click_cell(page, chart, index: int) -> None:
    """Click cell ``index`` (row-major) of the output map: the invisible point over it."""
    settle(page)
    chart.scroll_into_view_if_needed()
    points = chart.locator(".scatterlayer path.point")
    wait_until(lambda: points.count() > index, 60, "the map's points")
    index = index if index >= 0 else points.count() + index
    time.sleep(1.0)  # plotly binds its click handlers after drawing
    box = points.nth(index).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y, steps=4)  # plotly finds the point on hover, then takes the click
    time.sleep(0.5)
    page.mouse.click(x, y)


def test_link_then_click_a_pixel(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/explain?model=lenet&layer=conv2&at=3,4,5", wait_until="domcontentloaded")
    settle(page)
    main = page.locator("[data-testid='stMain']")
    wait_until(lambda: "the layer's real output" in main.inner_text(), 60, "the breakdown")
    page.screenshot(path=str(SHOTS / "explain_link_1280x720.png"))
    chart = page.locator("[data-testid='stPlotlyChart']").first
    click_cell(page, chart, 0)  # the top-left cell of the 10×10 map
    wait_until(lambda: re.search(r"at=3(%2C|,)0(%2C|,)0", url(page)), 60, "the clicked pixel")
    settle(page)
    assert "Traceback" not in main.inner_text()
    page.close()


def url(page) -> str:
    """The address bar now (``page.url`` is only refreshed while playwright handles events)."""
    return page.evaluate("location.href")


def draw_seven(page, canvas) -> None:
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + 0.25 * w, y0 + 0.2 * h)
    page.mouse.down()
    for fx, fy in ((0.5, 0.2), (0.75, 0.2), (0.6, 0.5), (0.5, 0.8)):
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
    page.mouse.up()


def test_draw_and_predict_with_trained_weights(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/train?model=lenet&t.epochs=2", wait_until="domcontentloaded")
    settle(page)
    main = page.locator("[data-testid='stMain']")
    page.get_by_role("button", name=re.compile("Train")).click()
    wait_until(lambda: "trained 2 epochs" in main.inner_text(), 240, "the training")
    settle(page)
    page.get_by_role("link", name="Inside a layer").click()
    settle(page)
    wait_until(lambda: "trained weights" in main.inner_text(), 60, "the trained weights")
    # a validation image of the training data is the first input with trained weights
    wait_until(lambda: "the layer's real output" in main.inner_text(), 60, "a validation image")
    assert "validation image (0–358)" in main.inner_text()
    page.get_by_role("combobox", name=re.compile("input")).click()
    page.get_by_role("option", name="draw a digit").click()
    settle(page)
    canvas = wait_until(lambda: page.locator("canvas.upper-canvas").first
                        if page.locator("canvas.upper-canvas").count() else None, 60,
                        "the drawing canvas")
    assert "Draw a digit on the canvas" in main.inner_text()
    draw_seven(page, canvas)
    wait_until(lambda: "prediction:" in main.inner_text(), 120, "a prediction")
    settle(page)
    text = main.inner_text()
    assert re.search(r"prediction: \S+ \(\d+%\)", text), text[-500:]
    assert "the layer's real output" in text
    assert "Each layer's feature maps for this drawing" in text
    page.screenshot(path=str(SHOTS / "explain_drawn_1280x720.png"))
    chart = page.locator("[data-testid='stPlotlyChart']").first
    click_cell(page, chart, -1)  # the bottom-right cell of conv1's 28×28 map
    wait_until(lambda: re.search(r"at=\d+(%2C|,)27(%2C|,)27", url(page)), 60, "the clicked pixel")
    settle(page)
    assert "prediction:" in main.inner_text() and "Traceback" not in main.inner_text()
    page.screenshot(path=str(SHOTS / "explain_drawn_clicked_1280x720.png"))
    page.close()
