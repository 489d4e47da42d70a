"""The Train page in a real browser: start LeNet-BN vs LeNet on the digits, watch the
progress and the curves move while the page keeps answering, stop it, see the stop message.
Screenshots at 1280×720 and 1440×900 go to ``artifacts/screenshots/train_*.png``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM, wait_until

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


def test_one_link_two_tabs_one_run(server, browser):
    """Two tabs open the same Train link: the widgets show its settings and nothing trains
    until Train is pressed; both press and watch one run (each page says 2 sessions); one
    tab stops watching, the run goes on for the other until it stops it; a widget change
    rewrites the link."""
    link = f"{server}/train?model=lenet-bn&t.epochs=40&t.vs=none&t.seed=77&t.lr=0.5"
    a, b = (browser.new_page(viewport={"width": 1280, "height": 900}) for _ in range(2))
    for p in (a, b):
        p.goto(link, wait_until="domcontentloaded")
        settle(p)
        assert p.get_by_role("slider", name="epochs").input_value() == "40"
        assert p.locator(PROGRESS).count() == 0  # a link never starts a training
    main_a, main_b = (p.locator("[data-testid='stMain']") for p in (a, b))
    a.get_by_role("button", name=re.compile("^.*Train$")).click()
    wait_until(lambda: step_of(a) > 0, 120, "the first step record")
    b.get_by_role("button", name=re.compile("^.*Train$")).click()
    wait_until(lambda: "Another session had started this very run" in main_b.inner_text(),
               150, "the second tab to join")
    for m in (main_a, main_b):
        wait_until(lambda: "2 session(s) watching this run" in m.inner_text(), 150,
                   "both pages to count two watchers")
    b.get_by_role("button", name=re.compile("Stop")).click()
    wait_until(lambda: "You stopped watching; the run goes on for the 1 other" in
               main_b.inner_text(), 150, "the second tab to leave")
    s1 = step_of(a)
    wait_until(lambda: step_of(a) > s1 + 5, 150, "the run to go on for the first tab")
    a.get_by_role("button", name=re.compile("Stop")).click()
    wait_until(lambda: "stopped by the user" in main_a.inner_text(), 120, "the stop message")
    settle(b)
    slider = b.get_by_role("slider", name="epochs")
    if not slider.is_visible():  # the settings fold away while a run is on
        b.get_by_text("Data and training settings").click()
    slider.focus()
    slider.press("Home")
    settle(b)
    wait_until(lambda: "t.epochs=1&" in b.url + "&" and "t.seed=77" in b.url, 30,
               f"the link to follow the slider ({b.url})")
    assert "Traceback" not in main_a.inner_text() + main_b.inner_text()
    for p in (a, b):
        p.close()
