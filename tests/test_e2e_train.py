"""The Train page in a real browser: start LeNet-BN vs LeNet on the digits, watch the
progress and the curves move while the page keeps answering, stop it, see the stop message.
Screenshots at 1280×720 and 1440×900 go to ``artifacts/screenshots/train_*.png``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
PROGRESS = "[data-testid='stProgress']"
TRACE = "[data-testid='stPlotlyChart'] .scatterlayer .trace path.js-line"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get update && apt-get install -y chromium",
                allow_module_level=True)


def settle(page, timeout: int = 120_000) -> None:
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)


def step_of(page) -> int:
    text = page.locator(PROGRESS).first.inner_text()
    m = re.search(r"step (\d+)/", text)
    return int(m.group(1)) if m else -1


def curve_points(page) -> int:
    """Vertices of every drawn line (grows as records arrive)."""
    paths = page.locator(TRACE).evaluate_all("ps => ps.map(p => p.getAttribute('d') || '')")
    return sum(d.count("L") + d.count("M") for d in paths)


def wait_until(fn, timeout: float, what: str):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


SHOTS.mkdir(parents=True, exist_ok=True)


def test_train_start_watch_stop(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/train?model=lenet-bn", wait_until="domcontentloaded")
    settle(page)
    main = page.locator("[data-testid='stMain']")
    assert "digits: 1438 training + 359 validation" in main.inner_text()
    slider = page.get_by_role("slider", name="epochs")  # long enough to stop the first run
    slider.focus()
    slider.press("End")
    settle(page)
    page.get_by_role("button", name=re.compile("Train")).click()
    wait_until(lambda: step_of(page) > 0, 120, "the first step record")
    s1, n1 = step_of(page), curve_points(page)
    wait_until(lambda: step_of(page) > s1 + 5 and curve_points(page) > n1, 120,
               "the curves to move")
    assert "images/s" in page.locator(PROGRESS).first.inner_text()
    page.screenshot(path=str(SHOTS / "train_running_1280x720.png"))
    page.set_viewport_size({"width": 1440, "height": 900})
    time.sleep(1.5)
    page.screenshot(path=str(SHOTS / "train_running_1440x900.png"))
    page.get_by_role("button", name=re.compile("Stop")).click()
    wait_until(lambda: "stopped by the user" in main.inner_text(), 120, "the stop message")
    train = page.get_by_role("button", name=re.compile("Train"))
    wait_until(train.is_enabled, 60, "the Train button to come back")
    settle(page)
    text = main.inner_text()
    assert "not run (stopped)" in text  # the comparison run never started
    assert "Traceback" not in text
    page.screenshot(path=str(SHOTS / "train_stopped_1440x900.png"))
    page.close()


def test_train_to_the_end_shows_results(server, browser):
    """Two epochs of LeNet-BN vs LeNet: both finish, the result tabs render."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/train?model=lenet-bn", wait_until="domcontentloaded")
    settle(page)
    slider = page.get_by_role("slider", name="epochs")
    slider.focus()
    slider.press("Home")
    slider.press("ArrowRight")
    settle(page)
    page.get_by_role("button", name=re.compile("Train")).click()
    main = page.locator("[data-testid='stMain']")
    wait_until(lambda: main.inner_text().count("trained 2 epochs") == 2, 180, "both runs")
    settle(page)  # the results appear on the rerun after both runs end (slow on a busy CPU)
    wait_until(lambda: "val accuracy — lenet-bn" in main.inner_text(), 60, "the results")
    page.screenshot(path=str(SHOTS / "train_done_1440x900.png"))
    for tab in ("BatchNorm", "Percentiles & train/eval gap", "Mistakes", "Filters"):
        page.get_by_role("tab", name=tab).click()
        time.sleep(1.0)
        page.get_by_role("tabpanel").filter(has=page.locator(".js-plotly-plot")).first \
            .scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"train_tab_{tab.split()[0].lower()}.png"))
    assert "Traceback" not in main.inner_text()
    page.close()
