"""PNG export (components/png_export.py): drawn by the browser from the viewer's SVG at slide
resolution; the download works on the first click in fresh browser sessions."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from components import png_export
from vizapp.testing import CHROMIUM, free_port, launch_chromium, start_streamlit, \
    stop_streamlit, wait_for_content

ROOT = Path(__file__).resolve().parents[1]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _drawn(data: bytes) -> float:
    """The share of pixels that are not the background colour."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(data)).convert("L")
    hist = im.histogram()
    return 1 - max(hist) / sum(hist)


def test_slide_dpi_from_the_svg_size() -> None:
    svg = '<svg width="720pt" height="360pt"\n viewBox="0.00 0.00 720.00 360.00">'
    assert png_export.svg_points(svg) == (720.0, 360.0)
    assert png_export.slide_dpi(svg) == 200  # 2000×1000 px
    big = '<svg width="14400pt" height="300pt">'
    assert png_export.slide_dpi(big) == 40  # 14400 pt · 40/72 = 8000 px
    assert png_export.slide_dpi('<svg width="1000000pt" height="1pt">') == png_export.MIN_DPI
    assert png_export.slide_dpi(None) == 200


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_png_downloads_on_the_first_click_slide_shaped() -> None:
    """At 1280×720, fresh sessions, the first click each: *the whole graph* is a slide's shape
    (width/height between 1:2 and 16:9; the left-to-right ResNet-18 used to be 7946×504 px)
    at slide resolution; *the visible part* has the viewer's frame's shape, ≥ 1920 px wide."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    proc = start_streamlit(ROOT / "vizapp" / "main.py", port := free_port())
    try:
        with sync_api.sync_playwright() as p:
            browser = launch_chromium(p)
            for query in ("model=resnet18&present=1", "model=lenet", "model=resnet18"):
                ctx = browser.new_context(accept_downloads=True,
                                          viewport={"width": 1280, "height": 720})
                page = ctx.new_page()
                page.goto(f"http://127.0.0.1:{port}/?{query}", wait_until="domcontentloaded")
                wait_for_content(page)
                viewer = page.locator("[data-testid='vz-graph-viewer']")

                def download(act: str) -> Path:
                    page.get_by_role("button", name="PNG").click()
                    with page.expect_download(timeout=60_000) as dl:
                        viewer.locator(f"button[data-act='{act}']").click()
                    return Path(dl.value.path())

                whole = download("png-whole")
                data = whole.read_bytes()
                w, h = png_size(data)
                print(f"{query}: whole graph {w}×{h} px ({w / h:.2f})")
                assert png_export.SLIDE_MIN <= w / h <= png_export.SLIDE_MAX, (query, w, h)
                assert _drawn(data) > 0.02, query  # the graph, not an empty canvas
                with page.expect_download(timeout=60_000) as dl_svg:
                    page.get_by_role("button", name="SVG").click()
                svg = Path(dl_svg.value.path()).read_text()
                w_pt, h_pt = png_export.svg_points(svg)
                dpi = png_export.slide_dpi(svg)
                # the pieces are drawn at the slide dpi, only empty bands trimmed (a 16:1 strip
                # shrunk onto one slide would keep a few percent of the pixels)
                assert w * h >= 0.3 * (w_pt * dpi / 72) * (h_pt * dpi / 72), (query, w, h)
                visible = download("png-visible").read_bytes()
                vw, vh = png_size(visible)
                frame = viewer.locator(".vz-stage").bounding_box()
                assert vw >= 1920 and vw / vh == pytest.approx(
                    frame["width"] / frame["height"], rel=0.01), (query, vw, vh, frame)
                assert _drawn(visible) > 0.02, query
                ctx.close()
            browser.close()
    finally:
        stop_streamlit(proc)
