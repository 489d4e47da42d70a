"""A training ends with the browser session that started it: in a real server, close the tab
of a long training and the device is free again once the session has been gone for the grace
period (3 s here, ``VIZAPP_SESSION_GRACE_S``); while the tab stays open it keeps training."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM, free_port, start_streamlit, stop_streamlit

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
GRACE = 3

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get update && apt-get install -y chromium",
                allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    """The app, with a short grace period for sessions that lost their browser."""
    old = os.environ.get("VIZAPP_SESSION_GRACE_S")
    os.environ["VIZAPP_SESSION_GRACE_S"] = str(GRACE)
    try:
        proc = start_streamlit(ROOT / "vizapp" / "main.py", port := free_port())
    finally:
        if old is None:
            os.environ.pop("VIZAPP_SESSION_GRACE_S")
        else:
            os.environ["VIZAPP_SESSION_GRACE_S"] = old
    yield f"http://127.0.0.1:{port}"
    stop_streamlit(proc)


def settle(page, timeout: int = 120_000) -> None:
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)


def device_busy(browser, server) -> bool:
    """What a second student sees: a fresh session's Train page says whether the CPU is busy."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.goto(f"{server}/train?model=lenet", wait_until="domcontentloaded")
        settle(page)
        return "device is busy now" in page.locator("[data-testid='stMain']").inner_text()
    finally:
        page.close()


def test_closing_the_tab_stops_its_training(server, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    page.goto(f"{server}/train?model=lenet-bn", wait_until="domcontentloaded")
    settle(page)
    epochs = page.get_by_role("slider", name="epochs").first
    epochs.focus()
    epochs.press("End")  # 100 epochs of LeNet-BN then LeNet: minutes of work
    settle(page)
    page.get_by_role("button", name=re.compile("Train$")).click()
    page.wait_for_selector("[data-testid='stProgress']", timeout=60_000)
    time.sleep(2 * GRACE + 2)  # open tab, well past the grace period: still training
    assert device_busy(browser, server)
    t0 = time.time()
    ctx.close()  # the student closes the tab
    while device_busy(browser, server):
        assert time.time() - t0 < 60, "the training outlived its session by a minute"
        time.sleep(1)
