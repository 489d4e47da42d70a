"""Your own model in a real browser: the static report opened offline (file://) with its
click-for-details, and the code box in the running app (type the buggy LeNet, see the message,
click the fix, see the graph). Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM, free_port, start_streamlit, stop_streamlit

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


SHOTS.mkdir(parents=True, exist_ok=True)


def test_report_opens_offline_and_click_shows_details(tmp_path, browser):
    from vizapp.cli import main
    out = tmp_path / "report.html"
    assert main(["report", "lenet-bug", "-o", str(out)]) == 0
    ctx = browser.new_context(offline=True, viewport={"width": 1280, "height": 720})
    requests: list[str] = []
    ctx.on("request", lambda r: requests.append(r.url))
    page = ctx.new_page()
    page.goto(out.as_uri())
    page.wait_for_selector(".vzr .vzr-graph svg g.node")
    assert page.locator("pre.details").inner_text() == "Click a node."
    page.locator(".vzr .vzr-graph svg g.node", has_text="flatten").first.click()
    details = page.locator("pre.details").inner_text()
    assert "flatten" in details.lower() and "256" in details
    assert "Stops at 7 (Linear)" in page.locator(".fail").inner_text()
    before = page.locator(".vzr .vzr-graph svg").get_attribute("viewBox")
    page.locator(".vzr .vzr-graph").hover()
    page.mouse.wheel(0, -400)
    assert page.locator(".vzr .vzr-graph svg").get_attribute("viewBox") != before  # zoomed
    page.screenshot(path=str(SHOTS / "report_lenet_bug_1280.png"))
    assert all(u.startswith("file://") for u in requests), requests
    ctx.close()


def test_code_box_buggy_lenet_message_fix_graph(browser):
    from vizapp.custom import url
    from vizapp.zoo.custom import example
    proc = start_streamlit(ROOT / "vizapp" / "main.py", port := free_port())
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/?model=lenet-bug")
        page.wait_for_selector("[data-testid='stApp']", timeout=120_000)
        page.wait_for_selector("[data-test-script-state='notRunning']", timeout=120_000)
        box = page.locator("textarea[aria-label='Code']")
        box.fill(example("lenet_bug").replace("nn.Conv2d(6, 16", "nn.Conv2D(6, 16"))
        box.press("Control+Enter")
        page.get_by_text("did you mean nn.Conv2d?").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "code_box_message_1440.png"))
        box.fill(example("lenet_bug"))
        box.press("Control+Enter")
        fix = page.get_by_role("button", name="Use nn.Linear(256, 120)")
        fix.wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "code_box_fix_offered_1440.png"))
        fix.click()
        page.wait_for_function("() => document.querySelector(\"textarea[aria-label='Code']\")"
                               ".value.includes('nn.Linear(256, 120)')", timeout=60_000)
        page.wait_for_selector("[data-test-script-state='notRunning']", timeout=120_000)
        page.wait_for_selector("svg text", timeout=120_000)
        assert page.get_by_role("button", name="Use nn.Linear(256, 120)").count() == 0
        assert "code=z1." in page.url
        page.set_viewport_size({"width": 1280, "height": 720})
        page.screenshot(path=str(SHOTS / "code_box_fixed_graph_1280.png"))
        assert "nn.Linear(256, 120)" in url.decode(page.url.split("code=")[1].split("&")[0])
    finally:
        stop_streamlit(proc)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_code_box_class_with_a_forward_bug_at_1280(browser, lang):
    """Seed 003's class in the main-area box at 1280×720: the graph's ReLU/max-pool nodes come
    from its forward; writing the seed's own bug back (self.conv) names the line and marks it."""
    from vizapp.zoo.custom import example
    proc = start_streamlit(ROOT / "vizapp" / "main.py", port := free_port())
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"http://127.0.0.1:{port}/shapes?model=seed003-class&lang={lang}")
        page.wait_for_selector("[data-test-script-state='notRunning']", timeout=120_000)
        box = page.locator("[data-testid='stMain'] textarea")
        box.wait_for(timeout=60_000)
        assert box.is_visible() and box.bounding_box()["width"] > 700  # full width, not sidebar
        assert page.locator("[data-testid='stSidebar'] a[href='#your-code']").count() == 1
        page.get_by_text("max_pool2d").first.wait_for(timeout=60_000)  # forward's F.max_pool2d
        bad = example("seed003_class").replace("self.conv1(x)), 2)", "self.conv(x)), 2)")
        line = next(i for i, ln in enumerate(bad.splitlines(), 1) if "self.conv(x)" in ln)
        box.fill(bad)
        box.press("Control+Enter")
        marked = f"▶ {line} │"
        page.get_by_text(marked).first.wait_for(timeout=60_000)
        words = "did you mean self.conv1?" if lang == "en" else "你是想写 self.conv1 吗？"
        assert page.get_by_text(words).count() >= 1
        page.get_by_text(marked).first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"code_box_class_bug_1280_{lang}.png"))
    finally:
        stop_streamlit(proc)
