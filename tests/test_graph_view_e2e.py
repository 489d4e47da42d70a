"""The Graph page at a projector's size, in a real browser (the whole app, one server): a link
opens where it points at a readable zoom, ← / → walk the data flow and the link follows, no
control's words are cut at 1280×720 or 1440×900 (light and dark, English and Chinese,
presentation on and off), and Compare shows "—" for what is absent and fits 1280 px.

Label sizes are measured as drawn: the node text's font-size (SVG units) times the SVG's
screen scale. Screenshots go to ``artifacts/screenshots/view_*.png``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vizapp.testing import CHROMIUM, overflowing_controls, wait_for_content

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
VIEWER = "[data-testid='vz-graph-viewer']"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)

# where a node is on screen: its box, the window, the viewer's frame, its label's size in px
_PLACE = """(v, id) => {
  const el = v.querySelector(`[id="${id}"]`), svg = v.querySelector('svg');
  if (!el || !svg) return null;
  const b = el.getBoundingClientRect(), s = v.getBoundingClientRect();
  const t = el.querySelector('text');
  return { box: [b.left, b.top, b.right, b.bottom], frame: [s.left, s.top, s.right, s.bottom],
           win: [window.innerWidth, window.innerHeight],
           px: parseFloat(t.getAttribute('font-size')) * svg.getScreenCTM().a,
           selected: el.classList.contains('vz-selected') };
}"""


def _open(page, server: str, query: str) -> None:
    page.goto(f"{server}/?{query}", wait_until="domcontentloaded")
    wait_for_content(page)


def _place(page, node: str) -> dict:
    place = page.locator(VIEWER).evaluate(_PLACE, node)
    assert place is not None, f"{node} is not drawn"
    return place


def _in_sight(place: dict) -> bool:
    """The node's box lies inside the browser window and inside the viewer's frame."""
    x0, y0, x1, y1 = place["box"]
    f0, g0, f1, g1 = place["frame"]
    return (0 <= x0 and x1 <= place["win"][0] and 0 <= y0 and y1 <= place["win"][1]
            and f0 <= x0 and x1 <= f1 and g0 <= y0 and y1 <= g1)


def _node_param(url: str) -> str | None:
    m = re.search(r"[?&]node=([^&]+)", url)
    return m.group(1) if m else None


def _details(page) -> str:
    return page.locator(".st-key-vz_details").inner_text()


def test_a_link_opens_on_its_node_and_the_arrows_walk_the_flow(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    _open(page, server, "model=resnet18&present=1&expand=b3.0&node=n-b3_0_conv3")
    place = _place(page, "n-b3_0_conv3")
    print(f"linked node, presentation 1280×720: box {[round(v) for v in place['box']]}, "
          f"label {place['px']:.1f} px")
    assert _in_sight(place), place
    assert place["px"] >= 14 and place["selected"], place
    page.wait_for_function("() => document.querySelector('.st-key-vz_details')?.innerText"
                           ".includes('nn.Conv2d(64, 128, kernel_size=1, stride=2)')",
                           timeout=30_000)  # its details open, with the full call
    page.screenshot(path=str(SHOTS / "view_link_present_1280x720.png"))

    # → / ←: the next / previous along the data flow, centred, its details, the link follows
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => /[?&]node=n-add_2(&|$)/.test(location.search)",
                           timeout=30_000)
    wait_for_content(page)
    place = _place(page, "n-add_2")
    assert _in_sight(place) and place["selected"] and place["px"] >= 14, place
    assert "add" in _details(page)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => /[?&]node=n-b3_0_conv3(&|$)/.test(location.search)",
                           timeout=30_000)
    wait_for_content(page)
    place = _place(page, "n-b3_0_conv3")
    assert _in_sight(place) and place["selected"], place
    assert "b3.0.conv3" in _details(page)
    page.locator(f"{VIEWER} button[data-act='next']").click()  # the same step as a button
    page.wait_for_function("() => /[?&]node=n-add_2(&|$)/.test(location.search)",
                           timeout=30_000)
    page.close()

    # outside presentation mode: the sidebar is open, labels at least 11 px
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    _open(page, server, "model=resnet18&expand=b4.1&node=n-b4_1_conv2")
    place = _place(page, "n-b4_1_conv2")
    print(f"linked node, 1280×720: box {[round(v) for v in place['box']]}, "
          f"label {place['px']:.1f} px")
    assert _in_sight(place) and place["px"] >= 11 and place["selected"], place
    assert _node_param(page.url) == "n-b4_1_conv2"
    page.screenshot(path=str(SHOTS / "view_link_1280x720.png"))
    page.close()


@pytest.mark.parametrize("present", [True, False])
def test_without_a_node_the_first_blocks_open_readable(server, browser, present):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    _open(page, server, "model=resnet18" + ("&present=1" if present else ""))
    for node in ("n-input_1", "n-b1_conv"):  # the start of the data flow, in sight
        place = _place(page, node)
        assert _in_sight(place), (node, place)
    assert place["px"] >= (14 if present else 11), place
    print(f"first conv, {'presentation' if present else 'normal'} 1280×720: "
          f"box {[round(v) for v in place['box']]}, label {place['px']:.1f} px")
    # "fit" still shows the whole graph
    page.locator(f"{VIEWER} button[data-act='fit']").click()
    vb = page.locator(f"{VIEWER} svg").get_attribute("viewBox").split()
    assert float(vb[0]) == 0 and float(vb[1]) == 0
    page.close()


@pytest.mark.parametrize("w,h", [(1280, 720), (1440, 900)])
def test_no_control_is_cut(server, browser, w, h):
    """Every control's text fits its box (scrollWidth ≤ clientWidth, nothing clipped, no
    button or option group wrapping), light and dark, both languages, presentation on and off,
    with a node selected (its details' buttons too)."""
    cut = []
    for scheme in ("light", "dark"):
        page = browser.new_page(viewport={"width": w, "height": h}, color_scheme=scheme)
        for lang in ("en", "zh"):
            for present in ("1", "0"):
                _open(page, server, f"model=resnet18&lang={lang}&present={present}"
                                    "&expand=b3.0&node=n-b3_0_conv3")
                cut += [(scheme, lang, present, c) for c in overflowing_controls(page)]
                if (scheme, lang) == ("light", "zh"):
                    page.screenshot(path=str(SHOTS / f"view_zh_present{present}_{w}x{h}.png"))
        page.close()
    assert not cut, "\n".join(map(str, cut))


# what the Compare grid draws: it paints cells on a canvas, so record the text it paints
_RECORD_TEXT = """
window.__drawn = [];
const fill = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  window.__drawn.push(String(text));
  return fill.call(this, text, ...rest);
};
"""


@pytest.mark.parametrize("present", ["0", "1"])
def test_compare_says_dash_for_what_is_absent_and_fits_1280(server, browser, present):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    ctx.add_init_script(_RECORD_TEXT)
    page = ctx.new_page()
    page.goto(f"{server}/compare?model=lenet&vs=alexnet&present={present}",
              wait_until="domcontentloaded")
    wait_for_content(page)
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    drawn = page.evaluate("window.__drawn")
    assert "Δ MACs" in drawn and "—" in drawn  # conv3…pool3 exist in B only
    assert not [t for t in drawn if "None" in t or "nan" == t.lower()], drawn
    assert not [t for t in drawn if t.endswith("…")], "cut cells"
    # every column in the frame: the grid has nothing to scroll sideways
    scroller = grid.locator(".dvn-scroller")
    assert scroller.evaluate("e => e.scrollWidth - e.clientWidth") <= 1
    page.screenshot(path=str(SHOTS / f"view_compare_present{present}_1280x720.png"))
    ctx.close()
