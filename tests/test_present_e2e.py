"""Presentation mode in a real browser (the whole app, ``present=1``): no sidebar, larger
type, the graph left-to-right at a readable zoom. Screenshots of pages at 1280×720 and
1440×900, light and dark, go to ``artifacts/screenshots/present_*.png``, each once the page's
content is drawn (``vizapp.testing.wait_for_content``). This test shoots five pages; the rest
(BatchNorm, Feature maps, Train, Run) by hand: ``python bench/screens.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM, wait_for_content

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
VIEWER = "[data-testid='vz-graph-viewer']"
PAGES = ["graph", "shapes", "code", "compare", "schedules"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


def _settle(page) -> None:
    """The page's content, not its loading placeholders (spinners, skeletons, undrawn charts)."""
    wait_for_content(page)


@pytest.mark.parametrize("w,h", [(1280, 720), (1440, 900)])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_presentation_mode_pages(server, browser, w, h, scheme):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": w, "height": h}, color_scheme=scheme)
    for name in PAGES:
        page.goto(f"{server}/{'' if name == 'graph' else name}?model=resnet18&present=1",
                  wait_until="domcontentloaded")
        _settle(page)
        if name == "graph":
            page.wait_for_selector(f"{VIEWER}[data-ready='true']", timeout=120_000)
            page.wait_for_timeout(500)
            sidebar = page.locator("[data-testid='stSidebar']")
            assert sidebar.count() == 0 or not sidebar.is_visible()
            assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "20px"
            assert "rankdir" not in page.url  # (the DOT is server-side; check the drawing:)
            svg = page.locator(f"{VIEWER} svg")
            vb = [float(x) for x in svg.get_attribute("viewBox").split()]
            box = svg.bounding_box()
            assert box["width"] / vb[2] >= 1.5  # a readable zoom, not fit-all
            assert "present=1" in page.url
        main = page.locator("[data-testid='stMain']")
        assert main.locator("[data-testid='stSpinner'], [data-testid='stSkeleton']").count() == 0
        assert main.locator("h2").first.is_visible()
        page.screenshot(path=str(SHOTS / f"present_{name}_{w}x{h}_{scheme}.png"))
    page.close()
